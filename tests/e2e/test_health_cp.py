# tests/e2e/test_health_cp.py: health seen from the control plane's Admin API:
# GET /upstreams/{u}/health (stored targets with the per-data-plane view and an aggregate),
# PUT /upstreams/{u}/targets/{t}/healthy|unhealthy lookups (404) and forwarding.
import unittest

import harness as h


class ControlPlaneHealthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp = h.ControlPlane()

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def test_health_without_data_planes(self):
        cp = self.cp
        r = cp.admin("POST", "/upstreams", json_body={"name": "nodp.test"})
        self.assertEqual(r.status, 201, r)
        t1 = cp.admin("POST", "/upstreams/nodp.test/targets",
                      json_body={"target": "127.0.0.1:9001"}).json()
        t2 = cp.admin("POST", "/upstreams/nodp.test/targets",
                      json_body={"target": "127.0.0.1:9002", "weight": 0}).json()
        r = cp.admin("GET", "/upstreams/nodp.test/health")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertIsNone(body["next"])
        self.assertEqual([t["id"] for t in body["data"]], [t2["id"], t1["id"]])  # newest first
        for t in body["data"]:
            self.assertEqual(t["health"], "UNKNOWN")
            self.assertEqual(t["data_planes"]["total"], 0)
            self.assertEqual(t["upstream"]["id"], t1["upstream"]["id"])
        self.assertEqual(body["data_planes"], [])
        r = cp.admin("GET", "/upstreams/%s/health?balancer_health=1" % t1["upstream"]["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["data"]["health"], "UNKNOWN")
        self.assertEqual(cp.admin("GET", "/upstreams/nope.test/health").status, 404)

        # PUT: unknown upstream or target -> 404; a known one is forwarded (204, no data plane
        # connected yet), 503 when the cluster listener is off
        self.assertEqual(cp.admin("PUT", "/upstreams/nope.test/targets/127.0.0.1:9001/healthy")
                         .status, 404)
        self.assertEqual(cp.admin("PUT", "/upstreams/nodp.test/targets/127.0.0.1:1/healthy")
                         .status, 404)
        r = cp.admin("PUT", "/upstreams/nodp.test/targets/127.0.0.1:9001/unhealthy")
        self.assertEqual(r.status, 204, r)
        r = cp.admin("PUT", "/upstreams/nodp.test/targets/%s/127.0.0.1:9001/healthy" % t1["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(cp.admin("POST", "/upstreams/nodp.test/targets/%s/healthy" % t1["id"])
                         .status, 405)


    def test_commands_need_the_cluster_listener(self):
        cp = h.ControlPlane(env={"PORTICO_CLUSTER_LISTEN": "off"})
        try:
            self.assertEqual(cp.admin("POST", "/upstreams", json_body={"name": "off.test"})
                             .status, 201)
            self.assertEqual(cp.admin("POST", "/upstreams/off.test/targets",
                                      json_body={"target": "127.0.0.1:9001"}).status, 201)
            r = cp.admin("PUT", "/upstreams/off.test/targets/127.0.0.1:9001/unhealthy")
            self.assertEqual(r.status, 503, r)
            self.assertIn("cluster listener off", r.json()["message"])
        finally:
            cp.stop()


if __name__ == "__main__":
    h.main()
