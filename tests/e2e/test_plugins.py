# tests/e2e/test_plugins.py: the seed's plugins end to end through a real cluster (PostgreSQL,
# portico-cp, one portico-dp, a real upstream): key-auth on a route with a consumer and its key,
# a global rate-limiting (minute: 5, policy: local) and a global proxy-cache (strategy: memory),
# all created through the Admin API as Kong's getting-started guide does.
import os
import time
import unittest

import harness as h


class PluginsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.upstream = h.Upstream("echo")
        d = h.make_tmpdir("plugins-")
        cls.cert = os.path.join(d, "cluster.crt")
        cls.key = os.path.join(d, "cluster.key")
        r = h.run_cmd([h.CP_BIN, "gen-cert", cls.cert, cls.key])
        if r.returncode != 0 and "unknown command" in r.stderr:
            cls.upstream.stop()
            raise unittest.SkipTest("portico-cp has no cluster support in this tree yet")
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
        try:
            h.wait_port(cls.cluster_port, timeout=5)
            cls.cluster = True
        except AssertionError:
            cls.cluster = False  # the cluster server is not in this tree yet
        cls.proxy_port, cls.status_port = h.free_port(), h.free_port()
        cls.dp = h.Proc([h.DP_BIN], name="dp", env={
            "PORTICO_PREFIX": os.path.join(d, "dp"),
            "PORTICO_PROXY_LISTEN": "127.0.0.1:%d" % cls.proxy_port,
            "PORTICO_STATUS_LISTEN": "127.0.0.1:%d" % cls.status_port,
            "PORTICO_CLUSTER_CONTROL_PLANE": "127.0.0.1:%d" % cls.cluster_port,
            "PORTICO_CLUSTER_CERT": cls.cert,
            "PORTICO_CLUSTER_CERT_KEY": cls.key,
            "PORTICO_WORKER_THREADS": "2",
        })
        cls.procs.append(cls.dp)
        h.wait_port(cls.proxy_port)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for p in reversed(cls.procs):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        cls.upstream.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def admin(self, method, path, **kw):
        return h.request(method, "http://127.0.0.1:%d%s" % (self.admin_port, path), **kw)

    def proxy(self, method, path, **kw):
        return h.request(method, "http://127.0.0.1:%d%s" % (self.proxy_port, path), **kw)

    def created(self, r):
        self.assertEqual(r.status, 201, r)
        return r.json()

    def test_seed_plugins(self):
        if not self.cluster:
            self.skipTest("portico-cp has no cluster listener in this tree yet")
        up = "http://127.0.0.1:%d" % self.upstream.port
        self.created(self.admin("POST", "/services", form=[("name", "example_service"),
                                                           ("url", up)]))
        self.created(self.admin("POST", "/services/example_service/routes",
                                form=[("paths[]", "/mock"), ("name", "mocking")]))
        self.created(self.admin("POST", "/services/example_service/routes",
                                form=[("paths[]", "/open"), ("name", "open")]))
        consumer = self.created(self.admin("POST", "/consumers",
                                           form=[("username", "luka"), ("custom_id", "L-1")]))
        cred = self.created(self.admin("POST", "/consumers/luka/key-auth",
                                       form=[("key", "top-secret")]))
        self.created(self.admin("POST", "/routes/mocking/plugins", form=[("name", "key-auth")]))
        rl = self.created(self.admin("POST", "/plugins", form=[
            ("name", "rate-limiting"), ("config.minute", "5"), ("config.policy", "local")]))
        self.assertEqual(rl["config"]["limit_by"], "consumer")
        pc = self.created(self.admin("POST", "/plugins", form=[
            ("name", "proxy-cache"), ("config.strategy", "memory")]))
        self.assertEqual(pc["config"]["cache_ttl"], 300)

        # A probe consumer (its own rate-limit counter and cache keys) tells when the data plane
        # runs all three plugins.
        self.created(self.admin("POST", "/consumers", form=[("username", "probe")]))
        self.created(self.admin("POST", "/consumers/probe/key-auth", form=[("key", "probe-key")]))

        def all_plugins():
            r = self.proxy("GET", "/mock/probe", headers={"apikey": "probe-key"})
            return (r.status == 200 and r.header("X-RateLimit-Limit-Minute") == "5" and
                    r.header("X-Cache-Status") is not None)
        h.wait_for(all_plugins, timeout=20, interval=0.3, what="the plugins on the data plane")

        # Counting starts now: keep the six requests of each identity in one minute window.
        if time.time() % 60 > 45:
            time.sleep(61 - time.time() % 60)

        r = self.proxy("GET", "/mock/anything")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json(), {"message": "No API key found in request"})
        self.assertEqual(r.header("WWW-Authenticate"), 'Key realm="portico"')
        r = self.proxy("GET", "/mock/anything", headers={"apikey": "wrong"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json(), {"message": "Unauthorized"})

        self.upstream.reset()
        r = self.proxy("GET", "/mock/anything", headers={"apikey": "top-secret"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.upstream.hits, 1)
        seen = {k.lower(): v for k, v in self.upstream.requests[0]["headers"].items()}
        self.assertEqual(seen["x-consumer-id"], consumer["id"])
        self.assertEqual(seen["x-consumer-username"], "luka")
        self.assertEqual(seen["x-consumer-custom-id"], "L-1")
        self.assertEqual(seen["x-credential-identifier"], cred["id"])
        self.assertEqual(r.header("X-RateLimit-Limit-Minute"), "5")
        self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), "4")
        self.assertEqual(r.header("RateLimit-Limit"), "5")
        self.assertEqual(r.header("RateLimit-Remaining"), "4")
        self.assertEqual(r.header("X-Cache-Status"), "Miss")
        for i in range(4):  # requests 2..5 pass (served from the cache: key from query string)
            r = self.proxy("GET", "/mock/anything?apikey=top-secret&n=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), str(3 - i))
        r = self.proxy("GET", "/mock/anything", headers={"apikey": "top-secret"})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json(), {"message": "API rate limit exceeded"})
        self.assertEqual(r.header("X-RateLimit-Limit-Minute"), "5")
        self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), "0")
        self.assertEqual(r.header("RateLimit-Remaining"), "0")
        reset = int(r.header("RateLimit-Reset"))
        self.assertTrue(1 <= reset <= 60, reset)
        self.assertEqual(r.header("Retry-After"), r.header("RateLimit-Reset"))

        # proxy-cache on the open route (limited by client address: a separate counter)
        self.upstream.reset()
        r1 = self.proxy("GET", "/open/cached?x=1")
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r1.header("X-Cache-Status"), "Miss")
        key = r1.header("X-Cache-Key")
        self.assertEqual(len(key), 64)
        time.sleep(1.1)
        r2 = self.proxy("GET", "/open/cached?x=1")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.header("X-Cache-Status"), "Hit")
        self.assertEqual(r2.header("X-Cache-Key"), key)
        self.assertGreaterEqual(int(r2.header("Age")), 1)
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(self.upstream.hits, 1)
        r3 = self.proxy("POST", "/open/cached?x=1", body="{}",
                        headers={"Content-Type": "application/json"})
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(r3.header("X-Cache-Status"), "Bypass")
        self.upstream.set_status(500)
        r4 = self.proxy("GET", "/open/error")
        self.assertEqual(r4.status, 500, r4)
        self.assertEqual(r4.header("X-Cache-Status"), "Bypass")
        self.upstream.set_status(200)
        self.assertEqual(self.upstream.hits, 3)

    def test_redis_and_cluster_refused(self):
        """policy redis is refused by the Admin API with a Kong-style schema error (the data
        planes count locally only); cluster too, as in Kong's hybrid mode."""
        for policy, words in (("redis", "'redis' policy is not supported"),
                              ("cluster", "'cluster' policy is not supported")):
            r = self.admin("POST", "/plugins", json_body={
                "name": "rate-limiting",
                "config": {"minute": 5, "policy": policy,
                           "redis": {"host": "127.0.0.1", "port": 6379}}})
            self.assertEqual(r.status, 400, r)
            body = r.json()
            self.assertEqual(body.get("name"), "schema violation", body)
            self.assertIn(words, body["fields"]["config"]["policy"], body)
        r = self.admin("GET", "/plugins")
        self.assertEqual(r.status, 200, r)
        self.assertFalse([p for p in r.json()["data"] if p["name"] == "rate-limiting"
                          and p["config"]["policy"] != "local"])


if __name__ == "__main__":
    h.main()
