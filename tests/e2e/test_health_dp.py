# tests/e2e/test_health_dp.py: health checks and circuit breakers on a data plane fed from its
# config cache, against real upstream servers that are stopped, restarted and made to return
# errors: passive checks (at most http_failures client requests see a failing target), active
# checks (a dead target out within interval x tcp_failures + one interval, back after
# `successes` good probes, also under load), threshold and the all-unhealthy 503, manual
# healthy/unhealthy through the status listener, https probes (with and without certificate
# verification), config reloads, and Kong's /upstreams/{u}/health format.
import json
import os
import subprocess
import threading
import time
import unittest
import uuid

import harness as h

UP = "hc.upstream"
UP_ID = "5d1c3c40-8f6e-4b59-9a55-6f3f2b7c0a11"  # stable ids, as a control plane sends them


def config(targets, healthchecks=None, retries=5, upstream=None):
    up = {"name": UP, "id": UP_ID}
    if healthchecks is not None:
        up["healthchecks"] = healthchecks
    up.update(upstream or {})
    return {"services": [{"name": "svc", "host": UP, "port": 1, "retries": retries}],
            "routes": [{"name": "r", "service": "svc", "paths": ["/"]}],
            "upstreams": [up],
            "targets": [{"upstream": UP, "target": t, "weight": w,
                         "id": str(uuid.uuid5(uuid.NAMESPACE_URL, t)),
                         "created_at": 1700000000.0 + i}
                        for i, (t, w) in enumerate(targets)]}


def passive(http_failures=0, tcp_failures=0, timeouts=0, successes=0):
    return {"passive": {"healthy": {"successes": successes},
                        "unhealthy": {"http_failures": http_failures,
                                      "tcp_failures": tcp_failures, "timeouts": timeouts}}}


def active(interval=0.3, tcp_failures=2, http_failures=2, successes=2, path="/", **extra):
    a = {"type": "http", "http_path": path, "timeout": 1,
         "healthy": {"interval": interval, "successes": successes},
         "unhealthy": {"interval": interval, "tcp_failures": tcp_failures,
                       "http_failures": http_failures, "timeouts": 2}}
    a.update(extra)
    return {"active": a}


def health(dp, balancer=False):
    url = "http://127.0.0.1:%d/upstreams/%s/health%s" % (dp.status_port, UP,
                                                          "?balancer_health=1" if balancer else "")
    r = h.request("GET", url)
    assert r.status == 200, r
    return r.json()


def by_target(body):
    return {t["target"]: t for t in body["data"]}


def put(dp, path):
    return h.request("PUT", "http://127.0.0.1:%d%s" % (dp.status_port, path))


class PassiveTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = h.Upstream("a"), h.Upstream("b")

    def tearDown(self):
        self.a.stop()
        self.b.stop()

    def test_failing_target_is_tripped_after_http_failures(self):
        a, b = self.a, self.b
        cfg = config([("127.0.0.1:%d" % a.port, 100), ("127.0.0.1:%d" % b.port, 100)],
                     passive(http_failures=3))
        dp = h.DataPlane(cfg, workers=2)
        try:
            for _ in range(4):
                self.assertEqual(dp.get("/").status, 200)
            b.set_status(500)
            seen = 0
            for _ in range(40):
                r = dp.get("/")
                if r.status == 500:
                    self.assertEqual(r.json()["server"], "b")
                    seen += 1
                else:
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.json()["server"], "a")
            self.assertEqual(seen, 3)  # exactly http_failures client requests saw it
            body = by_target(health(dp))
            self.assertEqual(body["127.0.0.1:%d" % b.port]["health"], "UNHEALTHY")
            self.assertEqual(body["127.0.0.1:%d" % a.port]["health"], "HEALTHY")
            # passive checks alone never bring it back (passive successes = 0)
            b.set_status(200)
            for _ in range(6):
                self.assertEqual(dp.get("/").json()["server"], "a")
            self.assertIn("target health changed", dp.proc.output())
        finally:
            dp.stop()

    def test_statuses_outside_the_lists_do_not_count(self):
        a, b = self.a, self.b
        cfg = config([("127.0.0.1:%d" % a.port, 100), ("127.0.0.1:%d" % b.port, 100)],
                     passive(http_failures=1))
        dp = h.DataPlane(cfg)
        try:
            b.set_status(404)  # not in passive unhealthy statuses [429, 500, 503]
            for _ in range(10):
                self.assertIn(dp.get("/").status, (200, 404))
            for t in health(dp)["data"]:
                self.assertEqual(t["health"], "HEALTHY")
            b.set_status(429)
            statuses = [dp.get("/").status for _ in range(6)]
            self.assertEqual(statuses.count(429), 1)
        finally:
            dp.stop()

    def test_tcp_failures_counted_on_retried_tries(self):
        a, b = self.a, self.b
        cfg = config([("127.0.0.1:%d" % a.port, 100), ("127.0.0.1:%d" % b.port, 100)],
                     passive(tcp_failures=2, successes=1))
        dp = h.DataPlane(cfg)
        try:
            b.stop()
            # retries send every request to a; the failed tries count as tcp failures
            for _ in range(8):
                r = dp.get("/")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["server"], "a")
            self.assertEqual(by_target(health(dp))["127.0.0.1:%d" % b.port]["health"],
                             "UNHEALTHY")
        finally:
            dp.stop()


class ActiveTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = h.Upstream("a"), h.Upstream("b")

    def tearDown(self):
        self.a.stop()
        self.b.stop()

    def wait_health(self, dp, target, want, timeout):
        t0 = time.monotonic()
        h.wait_for(lambda: by_target(health(dp))[target]["health"] == want, timeout=timeout,
                   interval=0.05, what="%s %s" % (target, want))
        return time.monotonic() - t0

    def test_dead_target_out_and_back_under_load(self):
        a, b = self.a, self.b
        interval, fails, succ = 0.5, 2, 2
        tb = "127.0.0.1:%d" % b.port
        cfg = config([("127.0.0.1:%d" % a.port, 100), (tb, 100)],
                     active(interval, tcp_failures=fails, successes=succ, path="/_probe"),
                     retries=0)
        dp = h.DataPlane(cfg, workers=2)
        stop = threading.Event()
        stats = {"ok": 0, "failed": 0}

        def load():
            while not stop.is_set():
                try:
                    r = dp.get("/", timeout=5)
                    stats["ok" if r.status == 200 else "failed"] += 1
                except Exception:  # noqa: BLE001 - counted as a failure
                    stats["failed"] += 1

        threads = [threading.Thread(target=load) for _ in range(2)]
        try:
            # probes carry the configured path and the target name as Host (no port)
            h.wait_for(lambda: any(r["path"] == "/_probe" for r in list(b.requests)),
                       timeout=3, what="first probe")
            probe = [r for r in list(b.requests) if r["path"] == "/_probe"][0]
            self.assertEqual(probe["headers"].get("Host"), "127.0.0.1")
            for t in threads:
                t.start()
            time.sleep(0.3)
            b.stop()
            took = self.wait_health(dp, tb, "UNHEALTHY", interval * fails + interval + 1.5)
            self.assertLessEqual(took, interval * fails + interval + 0.5)
            time.sleep(0.2)
            stats_at_out = dict(stats)
            time.sleep(0.5)
            self.assertEqual(stats["failed"], stats_at_out["failed"])  # nothing fails once out
            # restart b on the same port: back after `successes` good probes
            self.b = h.Upstream("b", port=b.port)
            took = self.wait_health(dp, tb, "HEALTHY", interval * succ + interval + 1.5)
            self.assertLessEqual(took, interval * succ + interval + 0.5)
            stop.set()
            for t in threads:
                t.join()
            total = stats["ok"] + stats["failed"]
            print("\nBENCH kill-a-target (active checks, interval=%.1fs tcp_failures=%d, retries=0):"
                  " requests=%d failed=%d (%.2f%%)" % (interval, fails, total, stats["failed"],
                                                       100.0 * stats["failed"] / max(total, 1)))
            self.assertGreater(stats["ok"], 0)
            got = [dp.get("/").json()["server"] for _ in range(10)]
            self.assertIn("b", got)
        finally:
            stop.set()
            for t in threads:
                if t.is_alive():
                    t.join()
            dp.stop()

    def test_probe_host_header_and_headers(self):
        a, b = self.a, self.b
        cfg = config([("127.0.0.1:%d" % a.port, 100), ("127.0.0.1:%d" % b.port, 0)],
                     active(0.2, path="/hc", headers=[{"name": "X-Probe", "values": ["1", "2"]}]),
                     upstream={"host_header": "probe.example"})
        dp = h.DataPlane(cfg)
        try:
            h.wait_for(lambda: any(r["path"] == "/hc" for r in list(a.requests)), 3,
                       what="probe at a")
            probe = [r for r in list(a.requests) if r["path"] == "/hc"][0]
            self.assertEqual(probe["headers"].get("Host"), "probe.example")
            self.assertIn(probe["headers"].get("X-Probe"), ("1", "2"))  # both lines are sent
            self.assertEqual(probe["method"], "GET")
            time.sleep(0.5)
            self.assertFalse(any(r["path"] == "/hc" for r in list(b.requests)))  # weight 0
        finally:
            dp.stop()

    def test_kill_a_target_benchmark(self):
        """Open-loop load (portico-loadgen, 200 req/s for 3 s); one target is killed after 1 s.
        Prints how many requests failed, without retries and with Kong's default 5."""
        loadgen = os.path.join(h.BIN_DIR, "tests", "bench", "portico-loadgen")
        if not os.path.exists(loadgen):
            self.skipTest("portico-loadgen not built")
        hc = active(0.3, tcp_failures=2, successes=2)
        hc["passive"] = {"unhealthy": {"tcp_failures": 1}}
        for retries in (0, 5):
            a, b = h.Upstream("a"), h.Upstream("b")
            dp = h.DataPlane(config([("127.0.0.1:%d" % a.port, 100),
                                     ("127.0.0.1:%d" % b.port, 100)], hc, retries=retries),
                             workers=2)
            try:
                lg = subprocess.Popen([loadgen, "-r", "200", "-d", "3", "-c", "64", dp.url("/")],
                                      stdout=subprocess.PIPE, text=True)
                time.sleep(1.0)
                b.stop()
                out, _ = lg.communicate(timeout=30)
                lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
                summary = [x for x in lines if x.get("summary")][0]
                timeline = " ".join("%d:%d" % (x["t"], x["errors"]) for x in lines
                                    if not x.get("summary"))
                # requests not sent because all 64 connections were busy (a stalled, shared
                # machine) are not failures of the gateway
                failed = summary["errors"] - summary["no_free_connection"]
                print("\nBENCH kill-a-target retries=%d: sent=%d ok=%d failed=%d not_sent=%d "
                      "p99=%dus (errors per second %s)"
                      % (retries, summary["sent"], summary["ok"], failed,
                         summary["no_free_connection"], summary["p99_us"], timeline))
                self.assertGreater(summary["ok"], 0)
                if retries:
                    self.assertEqual(failed, 0)  # every failed try was retried
                else:
                    # passive tcp_failures=1: only requests in flight to b when it died fail
                    self.assertLessEqual(failed, 20)
            finally:
                dp.stop()
                a.stop()

    def test_http_statuses_and_tcp_probe_type(self):
        a, b = self.a, self.b
        tb = "127.0.0.1:%d" % b.port
        cfg = config([("127.0.0.1:%d" % a.port, 100), (tb, 100)],
                     active(0.2, http_failures=2, successes=1))
        dp = h.DataPlane(cfg)
        try:
            b.set_status(503)
            self.wait_health(dp, tb, "UNHEALTHY", 3)
            b.set_status(200)
            self.wait_health(dp, tb, "HEALTHY", 3)
        finally:
            dp.stop()
        # tcp: an answering port is healthy whatever it answers
        cfg = config([("127.0.0.1:%d" % a.port, 100), (tb, 100)],
                     active(0.2, tcp_failures=1, successes=1, type="tcp"))
        b.set_status(500)
        dp = h.DataPlane(cfg)
        try:
            time.sleep(0.8)
            self.assertEqual(by_target(health(dp))[tb]["health"], "HEALTHY")
            b.stop()
            self.wait_health(dp, tb, "UNHEALTHY", 3)
        finally:
            dp.stop()


def tls_upstream(name):
    """An Upstream whose listener speaks TLS (self-signed certificate for localhost)."""
    import os
    import ssl
    import subprocess
    d = h.make_tmpdir("tls-")
    crt, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-keyout", key, "-out", crt, "-days", "1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    u = h.Upstream(name)
    u.httpd.socket = ctx.wrap_socket(u.httpd.socket, server_side=True)
    return u


class HttpsProbeTest(unittest.TestCase):
    def test_https_probes(self):
        a = h.Upstream("a")
        s = tls_upstream("s")
        ts = "127.0.0.1:%d" % s.port
        try:
            # no verification: the TLS upstream answers the probe (status 500 -> unhealthy)
            cfg = config([("127.0.0.1:%d" % a.port, 100), (ts, 100)],
                         active(0.2, http_failures=1, successes=1, path="/tls-probe",
                                type="https", https_verify_certificate=False))
            s.set_status(500)
            dp = h.DataPlane(cfg)
            try:
                h.wait_for(lambda: by_target(health(dp))[ts]["health"] == "UNHEALTHY", 4,
                           what="https probe saw 500")
                self.assertTrue(any(r["path"] == "/tls-probe" for r in list(s.requests)))
                s.set_status(200)
                h.wait_for(lambda: by_target(health(dp))[ts]["health"] == "HEALTHY", 4,
                           what="https probe saw 200")
            finally:
                dp.stop()
            # verification on: a self-signed certificate fails the handshake (a tcp failure)
            cfg = config([("127.0.0.1:%d" % a.port, 100), (ts, 100)],
                         active(0.2, tcp_failures=1, successes=1, type="https",
                                https_verify_certificate=True))
            dp = h.DataPlane(cfg)
            try:
                h.wait_for(lambda: by_target(health(dp))[ts]["health"] == "UNHEALTHY", 4,
                           what="certificate refused")
            finally:
                dp.stop()
        finally:
            a.stop()
            s.stop()


class ThresholdAndManualTest(unittest.TestCase):
    def setUp(self):
        self.ups = [h.Upstream(n) for n in ("a", "b", "c")]

    def tearDown(self):
        for u in self.ups:
            u.stop()

    def test_manual_threshold_and_all_unhealthy(self):
        a, b, c = self.ups
        ta, tb, tc = ("127.0.0.1:%d" % u.port for u in self.ups)
        hc = passive(http_failures=5)
        hc["threshold"] = 50
        cfg = config([(ta, 100), (tb, 100), (tc, 0)], hc)
        dp = h.DataPlane(cfg)
        try:
            body = health(dp)
            self.assertTrue(body["node_id"])
            self.assertIsNone(body["next"])
            data = by_target(body)
            # newest first, entity fields, Kong's data block
            self.assertEqual([t["target"] for t in body["data"]], [tc, tb, ta])
            self.assertEqual(data[tc]["health"], "HEALTHCHECKS_OFF")  # weight 0
            self.assertEqual(data[ta]["health"], "HEALTHY")
            self.assertEqual(data[ta]["weight"], 100)
            self.assertIn("id", data[ta]["upstream"])
            self.assertEqual(data[ta]["data"]["weight"],
                             {"total": 100, "available": 100, "unavailable": 0})
            self.assertEqual(data[ta]["data"]["addresses"],
                             [{"ip": "127.0.0.1", "port": a.port, "weight": 100,
                               "health": "HEALTHY"}])
            self.assertEqual(data[ta]["data"]["host"], "127.0.0.1")
            self.assertEqual(data[ta]["data"]["port"], a.port)

            # manual unhealthy on the status listener: 204, out of rotation
            r = put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, ta))
            self.assertEqual(r.status, 204, r)
            self.assertEqual(by_target(health(dp))[ta]["health"], "UNHEALTHY")
            # 100 of 200 available = 50%, not > threshold 50: no peer
            r = dp.get("/")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "failure to get a peer from the ring-balancer")
            self.assertTrue(r.json()["request_id"])
            bal = health(dp, balancer=True)
            self.assertEqual(bal["data"]["balancer_health"], "UNHEALTHY")
            self.assertEqual(bal["data"]["health"], "UNHEALTHY")
            self.assertEqual(bal["data"]["details"]["weight"],
                             {"total": 200, "available": 100, "unavailable": 100})
            self.assertFalse(bal["data"]["details"]["healthy"])
            self.assertTrue(bal["node_id"])

            # per address (ip:port), then back healthy by target id
            r = put(dp, "/upstreams/%s/targets/%s/127.0.0.1:%d/healthy" % (UP, ta, a.port))
            self.assertEqual(r.status, 204)
            self.assertEqual(dp.get("/").status, 200)
            self.assertEqual(health(dp, balancer=True)["data"]["balancer_health"], "HEALTHY")
            tid = data[tb]["id"]
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, tid)).status, 204)
            # 100 of 200 available again (b out): 503 by threshold
            self.assertEqual(dp.get("/").status, 503)
            # all unhealthy
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, ta)).status, 204)
            r = dp.get("/")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "failure to get a peer from the ring-balancer")
            # errors: unknown upstream / target / address, wrong method
            self.assertEqual(put(dp, "/upstreams/nope/targets/%s/healthy" % ta).status, 404)
            self.assertEqual(put(dp, "/upstreams/%s/targets/1.2.3.4:5/healthy" % UP).status, 404)
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/10.9.9.9:1/healthy"
                                 % (UP, ta)).status, 404)
            r = h.request("GET", "http://127.0.0.1:%d/upstreams/nope/health" % dp.status_port)
            self.assertEqual(r.status, 404)
            self.assertEqual(r.json(), {"message": "Not found"})
            r = h.request("DELETE", "http://127.0.0.1:%d/upstreams/%s/health"
                          % (dp.status_port, UP))
            self.assertIn(r.status, (404, 405, 501))  # evhttp refuses unknown methods
            self.assertEqual(h.request("GET", "http://127.0.0.1:%d/status"
                                       % dp.status_port).status, 200)
        finally:
            dp.stop()

    def test_round_robin_skips_a_target_set_unhealthy(self):
        a, b, _ = self.ups
        ta, tb = "127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port
        dp = h.DataPlane(config([(ta, 100), (tb, 100)], passive(http_failures=5)))
        try:
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, tb)).status, 204)
            self.assertEqual({dp.get("/").json()["server"] for _ in range(6)}, {"a"})
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/healthy" % (UP, tb)).status, 204)
            self.assertEqual({dp.get("/").json()["server"] for _ in range(6)}, {"a", "b"})
        finally:
            dp.stop()

    def test_health_survives_config_updates(self):
        a, b, c = self.ups
        ta, tb, tc = ("127.0.0.1:%d" % u.port for u in self.ups)
        hc = passive(http_failures=5)
        dp = h.DataPlane(config([(ta, 100), (tb, 100)], hc))
        try:
            self.assertEqual(put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, tb)).status, 204)
            # same upstream and targets, one more target and another weight: b stays down
            dp.reload(config([(ta, 50), (tb, 100), (tc, 100)], hc), 2)
            data = by_target(health(dp))
            self.assertEqual(data[tb]["health"], "UNHEALTHY")
            self.assertEqual(data[tc]["health"], "HEALTHY")  # new targets start healthy
            self.assertEqual({dp.get("/").json()["server"] for _ in range(9)}, {"a", "c"})
            # checks turned off: every address takes traffic again (HEALTHCHECKS_OFF)
            dp.reload(config([(ta, 100), (tb, 100)], None), 3)
            h.wait_for(lambda: {dp.get("/").json()["server"] for _ in range(4)} == {"a", "b"},
                       timeout=3, what="b back in rotation")
            self.assertEqual(by_target(health(dp))[tb]["health"], "HEALTHCHECKS_OFF")
        finally:
            dp.stop()

    def test_checks_off_and_dns_error(self):
        a = self.ups[0]
        ta = "127.0.0.1:%d" % a.port
        dp = h.DataPlane(config([(ta, 100), ("bad-health-target.invalid:80", 100)]))
        try:
            data = by_target(health(dp))
            self.assertEqual(data[ta]["health"], "HEALTHCHECKS_OFF")
            self.assertEqual(data[ta]["data"]["addresses"][0]["health"], "HEALTHCHECKS_OFF")
            bad = data["bad-health-target.invalid:80"]
            self.assertEqual(bad["health"], "DNS_ERROR")
            self.assertEqual(bad["data"]["addresses"], [])
            bal = health(dp, balancer=True)["data"]
            self.assertEqual(bal["health"], "HEALTHCHECKS_OFF")
            self.assertEqual(bal["balancer_health"], "HEALTHY")
            # Kong: no healthchecker -> 400
            r = put(dp, "/upstreams/%s/targets/%s/unhealthy" % (UP, ta))
            self.assertEqual(r.status, 400)
            self.assertIn("no healthchecker", r.json()["message"])
            self.assertEqual(dp.get("/").status, 200)
        finally:
            dp.stop()


if __name__ == "__main__":
    h.main()
