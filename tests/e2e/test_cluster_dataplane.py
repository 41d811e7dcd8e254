# tests/e2e/test_cluster_dataplane.py: hybrid mode end to end with the Admin API and proxying
# data planes (needs the Admin API store and the data plane proxy): a change through the Admin
# API reaching two data planes and GET /clustering/data-planes; a semantically invalid
# configuration rejected whole (old configuration keeps serving, the error visible in the
# registry); a data plane restarted while the control plane is down serving from its disk cache;
# the snapshot apply thread and the config reaper at nice 19.
import os
import unittest

import cluster_util as cu
import harness

HAVE_STACK = hasattr(harness, "ControlPlane")


@unittest.skipUnless(HAVE_STACK, "needs the Admin API (harness.ControlPlane)")
class DataPlanes(unittest.TestCase):
    def setUp(self):
        self.up = harness.Upstream("up")
        self.cp = harness.ControlPlane()
        self.procs = []

    def tearDown(self):
        errors = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        try:
            self.cp.stop()
        except AssertionError as e:
            errors.append(str(e))
        self.up.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def dp(self, name="dp", prefix=None):
        p = cu.start_dp([self.cp.cluster_port], self.cp.cluster_cert, self.cp.cluster_key,
                        name=name, prefix=prefix)
        self.procs.append(p)
        return p

    def get(self, dp, path):
        return harness.request("GET", "http://127.0.0.1:%d%s" % (dp.proxy_port, path))

    def proxies(self, dp, path, status=200):
        return harness.wait_for(lambda: self.get(dp, path).status == status, timeout=15,
                                what="%s %s -> %d" % (dp.name, path, status))

    def seed(self):
        r = self.cp.admin("POST", "/services", json_body={
            "name": "svc", "url": "http://127.0.0.1:%d" % self.up.port})
        self.assertEqual(r.status, 201, r.text)
        r = self.cp.admin("POST", "/services/svc/routes", json_body={"name": "r",
                                                                     "paths": ["/one"]})
        self.assertEqual(r.status, 201, r.text)

    def data_planes(self):
        r = self.cp.admin("GET", "/clustering/data-planes")
        self.assertEqual(r.status, 200, r.text)
        return {d["id"]: d for d in r.json()["data"]}

    def test_admin_changes_reach_two_data_planes(self):
        self.seed()
        d1, d2 = self.dp("dp1"), self.dp("dp2")
        for d in (d1, d2):
            self.proxies(d, "/one")
        self.assertEqual(self.get(d1, "/one").json()["server"], "up")
        r = self.cp.admin("PATCH", "/routes/r", json_body={"paths": ["/two"]})
        self.assertEqual(r.status, 200, r.text)
        for d in (d1, d2):
            self.proxies(d, "/two")
            self.proxies(d, "/one", 404)
        n1, n2 = cu.node_id(d1), cu.node_id(d2)
        # both report the same (latest) configuration
        dps = harness.wait_for(lambda: (lambda x: x if all(
            n in x and x[n]["sync_status"] == "normal" for n in (n1, n2)) and
            x[n1]["config_hash"] == x[n2]["config_hash"] else None)(self.data_planes()),
            what="both data planes normal on the same configuration")
        self.assertTrue(dps[n1]["connected"])
        self.assertGreater(dps[n1]["cert_details"]["expiry_timestamp"], 0)

    def test_snapshot_apply_runs_at_low_priority(self):
        # The apply thread (decode, validate, build) and the reaper (frees replaced configs) run
        # at nice 19, the rest of the data plane (main thread, proxy workers, cluster client) at
        # the process's nice value.
        self.seed()
        d1 = self.dp("dp1")
        self.proxies(d1, "/one")
        pid = d1.p.pid
        nice = {}
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                nice[int(tid)] = int(f.read().rsplit(")", 1)[1].split()[16])
        low = [t for t, n in nice.items() if n == 19]
        # the apply thread and the config reaper (validation helpers have ended)
        self.assertEqual(len(low), 2, nice)
        self.assertEqual(nice[pid], os.nice(0), nice)
        self.assertGreater(len(nice) - len(low), 2, nice)  # main, worker, cluster client, ...

    def test_invalid_configuration_is_rejected_whole(self):
        self.seed()
        d = self.dp()
        self.proxies(d, "/one")
        nid = cu.node_id(d)
        # a service without host slipped into the store (the Admin API would refuse it)
        cu.put_entity(self.cp.db, "services", {"name": "broken", "protocol": "http",
                                               "port": 80, "host": None})
        row = harness.wait_for(lambda: (lambda x: x.get(nid) if x.get(nid) and
                                        x[nid]["last_error"] else None)(self.data_planes()),
                               what="last_error in /clustering/data-planes")
        self.assertIn("host", row["last_error"])
        self.assertEqual(row["sync_status"], "config_rejected")
        self.assertIn("data plane rejected snapshot", d.output())
        # the old configuration keeps serving
        self.assertEqual(self.get(d, "/one").status, 200)
        # the next change is offered and applied
        r = self.cp.admin("DELETE", "/services/broken")
        self.assertEqual(r.status, 204, r.text)
        harness.wait_for(lambda: self.data_planes()[nid]["last_error"] is None,
                         what="error cleared")
        self.assertEqual(self.data_planes()[nid]["sync_status"], "normal")

    def test_restart_with_control_plane_down_serves_from_cache(self):
        self.seed()
        d = self.dp()
        self.proxies(d, "/one")
        self.cp.stop()
        d.stop()
        self.procs.remove(d)
        d2 = self.dp("dp-restarted", prefix=d.prefix)
        self.proxies(d2, "/one")
        r = harness.request("GET", "http://127.0.0.1:%d/status/ready" % d2.status_port)
        self.assertEqual(r.status, 200, r.text)
        harness.wait_for(lambda: "reconnecting to control plane" in d2.output(),
                         what="dp keeps trying the control plane")


if __name__ == "__main__":
    harness.main()
