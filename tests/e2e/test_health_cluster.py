# tests/e2e/test_health_cluster.py: target health seen and set from the control plane (hybrid
# mode, real processes): two data planes report their health; GET /upstreams/{u}/health on the
# Admin API shows each data plane in Kong's format and an aggregate per target (HEALTHY,
# UNHEALTHY, MIXED with counts) within 2 s of a change; PUT .../healthy|unhealthy on the Admin
# API reaches every data plane; a stopped data plane is shown stale and no longer counted.
import time
import unittest

import cluster_util as cu
import harness as h

UP = "hc.cluster"


class ClusterHealthTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = h.Upstream("a"), h.Upstream("b")
        self.cp = h.ControlPlane()
        self.dps = []

    def tearDown(self):
        errors = []
        for p in reversed(self.dps):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        try:
            self.cp.stop()
        except AssertionError as e:
            errors.append(str(e))
        self.a.stop()
        self.b.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def start_dp(self, name):
        p = cu.start_dp([self.cp.cluster_port], self.cp.cluster_cert, self.cp.cluster_key,
                        name=name)
        self.dps.append(p)
        return p

    def seed(self, healthchecks):
        cp = self.cp
        r = cp.admin("POST", "/upstreams", json_body={"name": UP, "healthchecks": healthchecks})
        self.assertEqual(r.status, 201, r.text)
        self.ta = cp.admin("POST", "/upstreams/%s/targets" % UP,
                           json_body={"target": "127.0.0.1:%d" % self.a.port}).json()
        self.tb = cp.admin("POST", "/upstreams/%s/targets" % UP,
                           json_body={"target": "127.0.0.1:%d" % self.b.port}).json()
        r = cp.admin("POST", "/services", json_body={"name": "s", "host": UP})
        self.assertEqual(r.status, 201, r.text)
        r = cp.admin("POST", "/services/s/routes", json_body={"name": "r", "paths": ["/"]})
        self.assertEqual(r.status, 201, r.text)

    def cp_health(self):
        r = self.cp.admin("GET", "/upstreams/%s/health" % UP)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def agg(self, body, target):
        return [t for t in body["data"] if t["id"] == target["id"]][0]

    def wait_cp(self, pred, what, timeout=10):
        """Polls the control plane's health until pred(body); returns that body."""
        def check():
            body = self.cp_health()
            return body if pred(body) else None
        return h.wait_for(check, timeout=timeout, interval=0.05, what=what)

    def dp_target_health(self, dp, target):
        r = h.request("GET", "http://127.0.0.1:%d/upstreams/%s/health" % (dp.status_port, UP))
        if r.status != 200:
            return None
        return {t["id"]: t["health"] for t in r.json()["data"]}.get(target["id"])

    def lag(self, dp, target, want):
        """Seconds between the data plane showing target as want and the control plane's
        per-data-plane view showing it too."""
        h.wait_for(lambda: self.dp_target_health(dp, target) == want, 10, interval=0.02,
                   what="%s %s on %s" % (target["target"], want, dp.name))
        t0 = time.monotonic()
        nid = cu.node_id(dp)

        def seen(body):
            for d in body["data_planes"]:
                if d["node_id"] == nid:
                    return any(t["id"] == target["id"] and t["health"] == want
                               for t in d["targets"])
            return False
        self.wait_cp(seen, "control plane sees %s %s" % (target["target"], want))
        return time.monotonic() - t0

    def test_manual_mixed_forwarded_and_stale(self):
        self.seed({"passive": {"unhealthy": {"http_failures": 3}}})
        dp1, dp2 = self.start_dp("dp1"), self.start_dp("dp2")
        for dp in (dp1, dp2):
            h.wait_for(lambda dp=dp: h.request("GET", "http://127.0.0.1:%d/" % dp.proxy_port)
                       .status == 200, 20, what="%s proxies" % dp.name)
        body = self.wait_cp(lambda b: len([d for d in b["data_planes"] if d["targets"]]) == 2,
                            "two data planes reporting")
        self.assertEqual(self.agg(body, self.tb)["health"], "HEALTHY")
        self.assertEqual(self.agg(body, self.tb)["data_planes"]["total"], 2)
        d = body["data_planes"][0]
        self.assertTrue(d["hostname"])
        self.assertFalse(d["stale"])
        t = [x for x in d["targets"] if x["id"] == self.ta["id"]][0]
        self.assertEqual(t["target"], "127.0.0.1:%d" % self.a.port)
        self.assertEqual(t["data"]["addresses"][0]["port"], self.a.port)
        self.assertEqual(t["data"]["weight"]["total"], 100)

        # b unhealthy on dp1 only (its status listener): MIXED, within 2 s
        r = h.request("PUT", "http://127.0.0.1:%d/upstreams/%s/targets/%s/unhealthy"
                      % (dp1.status_port, UP, self.tb["target"]))
        self.assertEqual(r.status, 204)
        lag = self.lag(dp1, self.tb, "UNHEALTHY")
        print("\ncontrol plane saw the change %.3f s after the data plane" % lag)
        self.assertLess(lag, 2.0)
        a = self.agg(self.cp_health(), self.tb)
        self.assertEqual(a["health"], "MIXED")
        self.assertEqual((a["data_planes"]["healthy"], a["data_planes"]["unhealthy"]), (1, 1))

        # through the control plane: every data plane
        r = self.cp.admin("PUT", "/upstreams/%s/targets/%s/unhealthy" % (UP, self.tb["id"]))
        self.assertEqual(r.status, 204, r.text)
        for dp in (dp1, dp2):
            h.wait_for(lambda dp=dp: self.dp_target_health(dp, self.tb) == "UNHEALTHY", 2,
                       what="command reached " + dp.name)
        self.wait_cp(lambda b: self.agg(b, self.tb)["health"] == "UNHEALTHY", "UNHEALTHY", 2)
        got = {h.request("GET", "http://127.0.0.1:%d/" % dp2.proxy_port).json()["server"]
               for _ in range(6)}
        self.assertEqual(got, {"a"})
        r = self.cp.admin("PUT", "/upstreams/%s/targets/%s/healthy"
                          % (UP, self.tb["target"]))
        self.assertEqual(r.status, 204)
        self.wait_cp(lambda b: self.agg(b, self.tb)["health"] == "HEALTHY", "HEALTHY again", 2)
        # one address, by target id + ip:port
        r = self.cp.admin("PUT", "/upstreams/%s/targets/%s/127.0.0.1:%d/unhealthy"
                          % (UP, self.ta["id"], self.a.port))
        self.assertEqual(r.status, 204)
        self.wait_cp(lambda b: self.agg(b, self.ta)["health"] == "UNHEALTHY", "a down", 2)
        self.assertEqual(self.cp.admin("PUT", "/upstreams/%s/targets/127.0.0.1:1/healthy"
                                       % UP).status, 404)

        # dp2 stops: shown stale, no longer counted
        nid2 = cu.node_id(dp2)
        dp2.stop()
        self.dps.remove(dp2)
        body = self.wait_cp(lambda b: any(d["node_id"] == nid2 and d["stale"]
                                          for d in b["data_planes"]), "dp2 stale")
        self.assertEqual(self.agg(body, self.ta)["data_planes"]["total"], 1)
        bal = self.cp.admin("GET", "/upstreams/%s/health?balancer_health=1" % UP).json()
        self.assertEqual(len(bal["data"]["data_planes"]), 2)

    def test_active_checks_reported(self):
        self.seed({"active": {"healthy": {"interval": 0.3, "successes": 1},
                              "unhealthy": {"interval": 0.3, "tcp_failures": 1}}})
        dp1 = self.start_dp("dp1")
        self.wait_cp(lambda b: any(d["targets"] for d in b["data_planes"]), "report", 20)
        self.b.stop()
        lag = self.lag(dp1, self.tb, "UNHEALTHY")
        self.assertLess(lag, 2.0)
        self.assertEqual(self.agg(self.cp_health(), self.tb)["health"], "UNHEALTHY")
        self.b = h.Upstream("b", port=self.b.port)
        lag = self.lag(dp1, self.tb, "HEALTHY")
        self.assertLess(lag, 2.0)


if __name__ == "__main__":
    h.main()
