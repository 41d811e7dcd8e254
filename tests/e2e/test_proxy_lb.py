# tests/e2e/test_proxy_lb.py: the four balancing algorithms with Kong's exact splits, weight 0,
# no targets, retries to another target, 502/503/504 with Kong's bodies, and config swaps
# (SIGHUP re-reads the cache) with state carried over and no failed requests under load.
import socket
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import harness as h


def lb_config(targets, algo="round-robin", service=None, upstream=None):
    up = {"name": "lb.upstream", "algorithm": algo, "slots": 10}
    up.update(upstream or {})
    svc = {"name": "svc", "host": "lb.upstream", "port": 1}
    svc.update(service or {})
    return {"services": [svc],
            "routes": [{"name": "r", "service": "svc", "paths": ["/"]}],
            "upstreams": [up],
            "targets": [{"upstream": "lb.upstream", "target": "127.0.0.1:%d" % port, "weight": w}
                        for port, w in targets]}


def names(dp, n, path="/", headers=None):
    out = []
    for _ in range(n):
        r = dp.get(path, headers=headers)
        assert r.status == 200, r
        out.append(r.json()["server"])
    return out


class RoundRobinTest(unittest.TestCase):
    def setUp(self):
        self.ups = [h.Upstream(n) for n in ("a", "b", "c")]

    def tearDown(self):
        for u in self.ups:
            u.stop()

    def test_exact_splits_and_weight_change(self):
        a, b, c = self.ups
        dp = h.DataPlane(lb_config([(a.port, 10), (b.port, 10)]))
        try:
            got = names(dp, 20)
            self.assertEqual((got.count("a"), got.count("b")), (10, 10))
            dp.reload(lb_config([(a.port, 10), (b.port, 10), (c.port, 5)]), 2)
            got = names(dp, 100)
            self.assertEqual((got.count("a"), got.count("b"), got.count("c")), (40, 40, 20))
            dp.reload(lb_config([(a.port, 10), (b.port, 15)]), 3)
            got = names(dp, 100)
            self.assertEqual((got.count("a"), got.count("b")), (40, 60))
        finally:
            dp.stop()

    def test_weight_zero_and_no_peer(self):
        a, b, _ = self.ups
        dp = h.DataPlane(lb_config([(a.port, 0), (b.port, 10)]))
        try:
            self.assertEqual(names(dp, 10), ["b"] * 10)
            dp.reload(lb_config([(a.port, 0), (b.port, 0)]), 2)
            r = dp.get("/")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "failure to get a peer from the ring-balancer")
            self.assertIn("request_id", r.json())
            dp.reload(lb_config([]), 3)
            r = dp.get("/")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "failure to get a peer from the ring-balancer")
        finally:
            dp.stop()


class HashTest(unittest.TestCase):
    def test_hash_on_header_and_cookie(self):
        a, b = h.Upstream("a"), h.Upstream("b")
        cfg = lb_config([(a.port, 10), (b.port, 10)], "consistent-hashing",
                        upstream={"hash_on": "header", "hash_on_header": "x-user"})
        dp = h.DataPlane(cfg)
        try:
            got = names(dp, 20, headers={"X-User": "alice"})
            self.assertEqual(len(set(got)), 1, got)
            # a missing header hashes "" : still one target for all
            got = names(dp, 20)
            self.assertEqual(len(set(got)), 1, got)
            # different users spread over both
            seen = set()
            for i in range(40):
                seen.add(names(dp, 1, headers={"X-User": "user%d" % i})[0])
            self.assertEqual(seen, {"a", "b"})
            cfg = lb_config([(a.port, 10), (b.port, 10)], "consistent-hashing",
                            upstream={"hash_on": "cookie", "hash_on_cookie": "sess",
                                      "hash_on_cookie_path": "/app"})
            dp.reload(cfg, 2)
            r = dp.get("/")
            self.assertEqual(r.status, 200)
            sc = r.header("Set-Cookie")
            self.assertRegex(sc, r"^sess=[0-9a-f-]{36}; Path=/app; Same-Site=Lax; HttpOnly$")
            cookie = sc.split(";")[0]
            first = r.json()["server"]
            for _ in range(10):
                r = dp.get("/", headers={"Cookie": "other=1; " + cookie})
                self.assertIsNone(r.header("Set-Cookie"))
                self.assertEqual(r.json()["server"], first)
        finally:
            dp.stop()
            a.stop()
            b.stop()

    def test_hash_on_query_arg_and_uri_capture(self):
        a, b = h.Upstream("a"), h.Upstream("b")
        cfg = lb_config([(a.port, 10), (b.port, 10)], "consistent-hashing",
                        upstream={"hash_on": "query_arg", "hash_on_query_arg": "k"})
        dp = h.DataPlane(cfg)
        try:
            for k in ("1", "2", "abc"):
                got = names(dp, 6, path="/?k=%s" % k)
                self.assertEqual(len(set(got)), 1)
            cfg = lb_config([(a.port, 10), (b.port, 10)], "consistent-hashing",
                            upstream={"hash_on": "uri_capture", "hash_on_uri_capture": "tenant"})
            cfg["routes"] = [{"name": "r", "service": "svc", "paths": ["~/t/(?<tenant>[^/]+)"]}]
            dp.reload(cfg, 2)
            seen = set()
            for t in range(30):
                got = set(names(dp, 3, path="/t/tenant%d/x%d" % (t, t)))
                self.assertEqual(len(got), 1)  # same tenant, same target
                seen |= got
            self.assertEqual(seen, {"a", "b"})
        finally:
            dp.stop()
            a.stop()
            b.stop()


class LeastConnLatencyTest(unittest.TestCase):
    def _concurrent(self, dp, n, workers=8):
        with ThreadPoolExecutor(workers) as ex:
            return list(ex.map(lambda _: dp.get("/").json()["server"], range(n)))

    def test_least_connections_prefers_fast(self):
        fast, slow = h.Upstream("fast"), h.Upstream("slow")
        slow.set_delay(0.2)
        fast.set_delay(0.05)
        dp = h.DataPlane(lb_config([(fast.port, 10), (slow.port, 10)], "least-connections"))
        try:
            got = self._concurrent(dp, 80)
            self.assertGreater(got.count("fast"), 2 * got.count("slow"), got)
            self.assertGreater(got.count("slow"), 0)
        finally:
            dp.stop()
            fast.stop()
            slow.stop()

    def test_latency_prefers_fast(self):
        fast, slow = h.Upstream("fast"), h.Upstream("slow")
        slow.set_delay(0.15)
        dp = h.DataPlane(lb_config([(fast.port, 10), (slow.port, 10)], "latency"))
        try:
            got = names(dp, 30)
            self.assertGreaterEqual(got.count("fast"), 27, got)
        finally:
            dp.stop()
            fast.stop()
            slow.stop()


class FailureTest(unittest.TestCase):
    def test_retry_on_refused_then_502(self):
        a = h.Upstream("a")
        dead = h.free_port()
        dp = h.DataPlane(lb_config([(dead, 10), (a.port, 10)]))
        try:
            self.assertEqual(names(dp, 10), ["a"] * 10)
            # POST with a body is retried too when nothing was sent
            r = h.request("POST", dp.url("/"), body=b"x" * 1000)
            self.assertEqual(r.status, 200)
            self.assertEqual(len(r.json()["body"]), 1000)
            dp.reload(lb_config([(dead, 10), (h.free_port(), 10)], service={"retries": 3}), 2)
            r = dp.get("/")
            self.assertEqual(r.status, 502)
            self.assertEqual(r.json()["message"],
                             "An invalid response was received from the upstream server")
            self.assertRegex(r.json()["request_id"], "^[0-9a-f]{32}$")
            self.assertEqual(r.header("Server"), "portico/0.1.0")
        finally:
            dp.stop()
            a.stop()

    def test_timeouts_504_and_retry_on_timeout(self):
        slow, fast = h.Upstream("slow"), h.Upstream("fast")
        slow.set_delay(1.0)
        dp = h.DataPlane(lb_config([(slow.port, 10)], service={"read_timeout": 200,
                                                               "retries": 0}))
        try:
            t0 = time.monotonic()
            r = dp.get("/")
            self.assertEqual(r.status, 504)
            self.assertLess(time.monotonic() - t0, 0.9)
            self.assertEqual(r.json()["message"], "The upstream server is timing out")
            # a timed-out GET goes to the next target
            dp.reload(lb_config([(slow.port, 10), (fast.port, 10)],
                                service={"read_timeout": 200}), 2)
            for _ in range(4):
                r = dp.get("/")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["server"], "fast")
        finally:
            dp.stop()
            slow.stop()
            fast.stop()

    def test_connect_timeout(self):
        # A listener with a full accept queue drops SYNs: connecting hangs until the timeout.
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(0)
        port = ls.getsockname()[1]
        fill = []
        for _ in range(3):
            s = socket.socket()
            s.settimeout(0.3)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                pass
            fill.append(s)
        cfg = {"services": [{"name": "s", "host": "127.0.0.1", "port": port,
                             "connect_timeout": 200, "retries": 1}],
               "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}
        dp = h.DataPlane(cfg)
        try:
            t0 = time.monotonic()
            r = dp.get("/")
            self.assertEqual(r.status, 504)
            self.assertEqual(r.json()["message"], "The upstream server is timing out")
            elapsed = time.monotonic() - t0
            self.assertGreater(elapsed, 0.35)  # two tries of 200 ms
            self.assertLess(elapsed, 2.0)
        finally:
            dp.stop()
            for s in fill:
                s.close()
            ls.close()

    def test_invalid_upstream_response_502(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        port = ls.getsockname()[1]

        def serve():
            while True:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                c.recv(65536)
                c.sendall(b"THIS IS NOT HTTP\r\n\r\n")
                c.close()
        threading.Thread(target=serve, daemon=True).start()
        cfg = {"services": [{"name": "s", "host": "127.0.0.1", "port": port}],
               "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}
        dp = h.DataPlane(cfg)
        try:
            r = dp.get("/")
            self.assertEqual(r.status, 502)
            self.assertEqual(r.json()["message"],
                             "An invalid response was received from the upstream server")
        finally:
            dp.stop()
            ls.close()

    def test_route_without_service_and_https_only(self):
        a = h.Upstream("a")
        cfg = {"services": [{"name": "s", "host": "127.0.0.1", "port": a.port},
                            {"name": "off", "host": "127.0.0.1", "port": a.port,
                             "enabled": False}],
               "routes": [{"name": "nosvc", "paths": ["/nosvc"]},
                          {"name": "off", "service": "off", "paths": ["/off"]},
                          {"name": "tls", "service": "s", "paths": ["/tls"],
                           "protocols": ["https"]},
                          {"name": "tls301", "service": "s", "paths": ["/r301"],
                           "protocols": ["https"], "https_redirect_status_code": 301}]}
        dp = h.DataPlane(cfg)
        try:
            r = dp.get("/nosvc")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "no Service found with those values")
            r = dp.get("/off")  # the routes of a disabled service are not routed
            self.assertEqual(r.status, 404)
            r = dp.get("/tls")
            self.assertEqual(r.status, 426)
            self.assertEqual(r.json()["message"], "Please use HTTPS protocol")
            r = dp.get("/r301/x?y=1", headers={"Host": "example.test"})
            self.assertEqual(r.status, 301)
            self.assertEqual(r.header("Location"), "https://example.test/r301/x?y=1")
        finally:
            dp.stop()
            a.stop()


class ConfigSwapTest(unittest.TestCase):
    def test_no_errors_while_configs_change_under_load(self):
        a, b = h.Upstream("a"), h.Upstream("b")
        dp = h.DataPlane(lb_config([(a.port, 10), (b.port, 10)]), workers=2)
        stop = threading.Event()
        results = []

        def load():
            while not stop.is_set():
                try:
                    results.append(dp.get("/").status)
                except Exception as e:  # noqa: BLE001
                    results.append(repr(e))
        threads = [threading.Thread(target=load) for _ in range(4)]
        try:
            for t in threads:
                t.start()
            for rev in range(2, 12):
                w = 5 + rev
                dp.reload(lb_config([(a.port, w), (b.port, 10)]), rev)
                time.sleep(0.1)
        finally:
            stop.set()
            for t in threads:
                t.join()
            dp.stop()
            a.stop()
            b.stop()
        self.assertGreater(len(results), 50)
        self.assertEqual([x for x in results if x != 200], [])


if __name__ == "__main__":
    h.main()
