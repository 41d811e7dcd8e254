# tests/e2e/test_seed.py: the first milestone. The seed tutorial ("Set Up Intelligent Load
# Balancing") through a real cluster: PostgreSQL, one portico-cp, two portico-dp over mutual-TLS
# websockets, two real upstream servers standing in for httpbin.org and mockbin.org. Every
# Admin API call is the tutorial's, with only the host names changed.
import os
import unittest

import harness as h


class SeedTutorialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.httpbin = h.Upstream("httpbin")
        cls.mockbin = h.Upstream("mockbin")
        d = h.make_tmpdir("seed-")
        cls.cert = os.path.join(d, "cluster.crt")
        cls.key = os.path.join(d, "cluster.key")
        r = h.run_cmd([h.CP_BIN, "gen-cert", cls.cert, cls.key])
        assert r.returncode == 0, r.stdout + r.stderr
        db = h.create_database()
        env = h.pg_env(db)
        r = h.run_cmd([h.CP_BIN, "migrations", "bootstrap"], env=env)
        assert r.returncode == 0, r.stdout + r.stderr

        cls.admin_port = h.free_port()
        cls.cluster_port = h.free_port()
        cp_env = dict(env)
        cp_env.update({
            "PORTICO_PREFIX": os.path.join(d, "cp"),
            "PORTICO_ADMIN_LISTEN": "127.0.0.1:%d" % cls.admin_port,
            "PORTICO_ADMIN_GUI_LISTEN": "off",
            "PORTICO_CLUSTER_LISTEN": "127.0.0.1:%d" % cls.cluster_port,
            "PORTICO_CLUSTER_CERT": cls.cert,
            "PORTICO_CLUSTER_CERT_KEY": cls.key,
        })
        cls.cp = h.Proc([h.CP_BIN], env=cp_env, name="cp")
        cls.procs.append(cls.cp)
        h.wait_port(cls.admin_port)

        cls.proxy_ports = []
        for i in (1, 2):
            port, status = h.free_port(), h.free_port()
            dp = h.Proc([h.DP_BIN], name="dp%d" % i, env={
                "PORTICO_PREFIX": os.path.join(d, "dp%d" % i),
                "PORTICO_PROXY_LISTEN": "127.0.0.1:%d" % port,
                "PORTICO_STATUS_LISTEN": "127.0.0.1:%d" % status,
                "PORTICO_CLUSTER_CONTROL_PLANE": "127.0.0.1:%d" % cls.cluster_port,
                "PORTICO_CLUSTER_CERT": cls.cert,
                "PORTICO_CLUSTER_CERT_KEY": cls.key,
                "PORTICO_WORKER_THREADS": "1",
            })
            cls.procs.append(dp)
            cls.proxy_ports.append(port)
            h.wait_port(port)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for p in reversed(cls.procs):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        cls.httpbin.stop()
        cls.mockbin.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def admin(self, method, path, **kw):
        return h.request(method, "http://127.0.0.1:%d%s" % (self.admin_port, path), **kw)

    def test_seed_flow(self):
        # Earlier pages of the tutorial: the service and its route.
        r = self.admin("POST", "/services",
                       form=[("name", "example_service"),
                             ("url", "http://127.0.0.1:%d" % self.mockbin.port)])
        self.assertEqual(r.status, 201, r)
        r = self.admin("POST", "/services/example_service/routes",
                       form=[("paths[]", "/mock"), ("name", "mocking")])
        self.assertEqual(r.status, 201, r)

        # curl -X POST http://<admin-hostname>:8001/upstreams --data name=example_upstream
        r = self.admin("POST", "/upstreams", form=[("name", "example_upstream")])
        self.assertEqual(r.status, 201, r)
        up = r.json()
        self.assertEqual(up["name"], "example_upstream")
        self.assertEqual(up["algorithm"], "round-robin")
        self.assertEqual(up["slots"], 10000)
        # curl -X PATCH http://<admin-hostname>:8001/services/example_service --data host='example_upstream'
        r = self.admin("PATCH", "/services/example_service", form=[("host", "example_upstream")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["host"], "example_upstream")
        # curl -X POST .../upstreams/example_upstream/targets --data target='mockbin.org:80' (and httpbin)
        for up_srv in (self.mockbin, self.httpbin):
            r = self.admin("POST", "/upstreams/example_upstream/targets",
                           form=[("target", "127.0.0.1:%d" % up_srv.port)])
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json()["weight"], 100)

        # Validate: visit :8000/mock repeatedly; the site changes between httpbin and mockbin,
        # on every data plane.
        for port in self.proxy_ports:
            url = "http://127.0.0.1:%d/mock" % port

            def both_targets_serving():
                seen = set()
                for _ in range(4):
                    resp = h.request("GET", url)
                    if resp.status != 200:
                        return False
                    seen.add(resp.json()["server"])
                return seen == {"httpbin", "mockbin"}
            h.wait_for(both_targets_serving, timeout=15, what="balanced config on :%d" % port)

            counts = {"httpbin": 0, "mockbin": 0}
            last = None
            for _ in range(20):
                resp = h.request("GET", url)
                self.assertEqual(resp.status, 200, resp)
                server = resp.json()["server"]
                self.assertEqual(resp.json()["path"], "/")  # strip_path: /mock -> /
                self.assertNotEqual(server, last, "round-robin must alternate")
                last = server
                counts[server] += 1
            self.assertEqual(counts, {"httpbin": 10, "mockbin": 10})

        # Both data planes are registered with the same configuration hash.
        def registered():
            r = self.admin("GET", "/clustering/data-planes")
            if r.status != 200:
                return False
            rows = r.json()["data"]
            hashes = {row.get("config_hash") for row in rows}
            return len(rows) == 2 and len(hashes) == 1 and None not in hashes
        h.wait_for(registered, timeout=20, what="two data planes with one config hash")


if __name__ == "__main__":
    h.main()
