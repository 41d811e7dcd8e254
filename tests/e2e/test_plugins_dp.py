# tests/e2e/test_plugins_dp.py: the seed's plugins on a real portico-dp fed from a config cache
# (no control plane): key-auth on a route with a consumer and its key, a global rate-limiting
# (minute: 5, policy: local) and a global proxy-cache (strategy: memory); real upstream, HTTP
# from outside. Also the proxy-cache purge on the status listener.
import time
import unittest

import harness as h

SVC = "5b1a1a9e-0000-4000-8000-000000000001"
AUTH_ROUTE = "5b1a1a9e-0000-4000-8000-000000000002"
OPEN_ROUTE = "5b1a1a9e-0000-4000-8000-000000000003"
CONSUMER = "5b1a1a9e-0000-4000-8000-000000000004"
CRED = "5b1a1a9e-0000-4000-8000-000000000005"


def seed_config(upstream_port):
    return {
        "services": [{"id": SVC, "name": "example_service", "protocol": "http",
                      "host": "127.0.0.1", "port": upstream_port, "path": "/"}],
        "routes": [
            {"id": AUTH_ROUTE, "name": "mocking", "paths": ["/mock"], "service": {"id": SVC},
             "protocols": ["http", "https"], "strip_path": True},
            {"id": OPEN_ROUTE, "name": "open", "paths": ["/open"], "service": {"id": SVC},
             "protocols": ["http", "https"], "strip_path": True},
        ],
        "consumers": [{"id": CONSUMER, "username": "luka", "custom_id": "L-1"}],
        "keyauth_credentials": [{"id": CRED, "consumer": {"id": CONSUMER}, "key": "top-secret"}],
        "plugins": [
            {"id": "5b1a1a9e-0000-4000-8000-000000000010", "name": "key-auth",
             "route": {"id": AUTH_ROUTE}, "enabled": True,
             "protocols": ["grpc", "grpcs", "http", "https"],
             "key_auth": {"key_names": ["apikey"], "hide_credentials": False,
                          "key_in_header": True, "key_in_query": True, "key_in_body": False,
                          "run_on_preflight": True}},
            {"id": "5b1a1a9e-0000-4000-8000-000000000011", "name": "rate-limiting",
             "enabled": True, "protocols": ["grpc", "grpcs", "http", "https"],
             "rate_limiting": {"minute": 5, "policy": "local", "limit_by": "consumer",
                               "fault_tolerant": True, "hide_client_headers": False,
                               "error_code": 429, "error_message": "API rate limit exceeded"}},
            {"id": "5b1a1a9e-0000-4000-8000-000000000012", "name": "proxy-cache",
             "enabled": True, "protocols": ["grpc", "grpcs", "http", "https"],
             "proxy_cache": {"strategy": "memory", "response_code": [200, 301, 404],
                             "request_method": ["GET", "HEAD"],
                             "content_type": ["text/plain", "application/json"],
                             "cache_ttl": 300}},
        ],
    }


class PluginsDataPlaneTest(unittest.TestCase):
    def setUp(self):
        self.upstream = h.Upstream("echo")
        self.dp = h.DataPlane(seed_config(self.upstream.port), workers=2)

    def tearDown(self):
        try:
            self.dp.stop()
        finally:
            self.upstream.stop()

    def status(self, method, path):
        return h.request(method, "http://127.0.0.1:%d%s" % (self.dp.status_port, path))

    def wait_window(self):
        # keep the requests counted below inside one minute window
        if time.time() % 60 > 45:
            time.sleep(61 - time.time() % 60)

    def test_key_auth_rate_limiting_and_cache(self):
        h.wait_for(lambda: self.dp.get("/mock/ping").status == 401, timeout=15,
                   what="config loaded")
        self.wait_window()
        r = self.dp.get("/mock/anything")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json(), {"message": "No API key found in request"})
        self.assertEqual(r.header("WWW-Authenticate"), 'Key realm="portico"')
        r = self.dp.get("/mock/anything", headers={"apikey": "wrong"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json(), {"message": "Unauthorized"})
        self.assertEqual(self.upstream.hits, 0)

        r = self.dp.get("/mock/anything", headers={"apikey": "top-secret",
                                                   "X-Consumer-Username": "forged"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.upstream.hits, 1)
        seen = {k.lower(): v for k, v in self.upstream.requests[0]["headers"].items()}
        self.assertEqual(seen["x-consumer-id"], CONSUMER)
        self.assertEqual(seen["x-consumer-username"], "luka")
        self.assertEqual(seen["x-consumer-custom-id"], "L-1")
        self.assertEqual(seen["x-credential-identifier"], CRED)
        self.assertNotIn("x-anonymous-consumer", seen)
        self.assertEqual(r.header("X-RateLimit-Limit-Minute"), "5")
        self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), "4")
        self.assertEqual(r.header("RateLimit-Limit"), "5")
        self.assertEqual(r.header("RateLimit-Remaining"), "4")
        self.assertEqual(r.header("X-Cache-Status"), "Miss")
        for i in range(4):  # requests 2..5 of the consumer pass, the key in the query string
            r = self.dp.get("/mock/anything?apikey=top-secret&n=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), str(3 - i))
        r = self.dp.get("/mock/anything", headers={"apikey": "top-secret"})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json(), {"message": "API rate limit exceeded"})
        self.assertEqual(r.header("X-RateLimit-Limit-Minute"), "5")
        self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), "0")
        self.assertEqual(r.header("RateLimit-Limit"), "5")
        self.assertEqual(r.header("RateLimit-Remaining"), "0")
        reset = int(r.header("RateLimit-Reset"))
        self.assertTrue(1 <= reset <= 60, reset)
        self.assertEqual(r.header("Retry-After"), r.header("RateLimit-Reset"))

        # the open route: no consumer, limited by client address (a separate counter)
        self.upstream.reset()
        r1 = self.dp.get("/open/cached?x=1")
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r1.header("X-Cache-Status"), "Miss")
        key = r1.header("X-Cache-Key")
        self.assertEqual(len(key), 64)
        time.sleep(1.1)
        r2 = self.dp.get("/open/cached?x=1")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.header("X-Cache-Status"), "Hit")
        self.assertEqual(r2.header("X-Cache-Key"), key)
        self.assertGreaterEqual(int(r2.header("Age")), 1)
        self.assertEqual(r2.header("Content-Type"), "application/json")
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(r2.header("X-RateLimit-Remaining-Minute"), "3")
        self.assertEqual(self.upstream.hits, 1)
        r3 = h.request("POST", self.dp.url("/open/cached?x=1"), body="{}",
                       headers={"Content-Type": "application/json"})
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(r3.header("X-Cache-Status"), "Bypass")
        self.upstream.set_status(500)
        r4 = self.dp.get("/open/error")
        self.assertEqual(r4.status, 500, r4)
        self.assertEqual(r4.header("X-Cache-Status"), "Bypass")
        self.upstream.set_status(200)
        self.assertEqual(self.upstream.hits, 3)

        # purge on the status listener
        self.assertEqual(self.status("DELETE", "/proxy-cache/" + "0" * 64).status, 404)
        self.assertEqual(self.status("DELETE", "/proxy-cache/" + key).status, 204)
        self.assertEqual(self.status("DELETE", "/proxy-cache/" + key).status, 404)
        self.assertEqual(self.status("DELETE", "/proxy-cache").status, 204)

    def test_plugin_responses_get_what_kong_sends(self):
        """Responses a plugin produced go through the other plugins' filters, as in Kong (its
        collecting iterator): what each one then carries follows from which plugins' access
        ran. key-auth (1250) answers 401 before rate-limiting (910) and proxy-cache (100) run:
        no rate-limit headers, no X-Cache-Status. rate-limiting's 429 carries its headers and
        Retry-After; proxy-cache did not run, so no X-Cache-Status. A cache hit carries the
        rate-limit headers of its request."""
        h.wait_for(lambda: self.dp.get("/mock/ping").status == 401, timeout=15,
                   what="config loaded")
        self.wait_window()
        rl = ("X-RateLimit-Limit-Minute", "X-RateLimit-Remaining-Minute", "RateLimit-Limit",
              "RateLimit-Remaining", "RateLimit-Reset", "Retry-After")
        r = self.dp.get("/mock/a")
        self.assertEqual(r.status, 401, r)
        for name in rl + ("X-Cache-Status", "X-Cache-Key"):
            self.assertIsNone(r.header(name), name)
        self.assertEqual(r.header("WWW-Authenticate"), 'Key realm="portico"')
        # the consumer's 5 requests, all the same cacheable GET: Miss, then 4 Hits that carry
        # this request's rate-limit headers
        for i in range(5):
            r = self.dp.get("/mock/same", headers={"apikey": "top-secret"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-Cache-Status"), "Miss" if i == 0 else "Hit")
            self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), str(4 - i))
            self.assertEqual(r.header("RateLimit-Remaining"), str(4 - i))
            self.assertIsNone(r.header("Retry-After"))
        self.assertEqual(self.upstream.hits, 1)
        r = self.dp.get("/mock/same", headers={"apikey": "top-secret"})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json(), {"message": "API rate limit exceeded"})
        for name in rl:
            self.assertIsNotNone(r.header(name), name)
        self.assertEqual(r.header("X-RateLimit-Remaining-Minute"), "0")
        self.assertEqual(r.header("Retry-After"), r.header("RateLimit-Reset"))
        self.assertIsNone(r.header("X-Cache-Status"))
        self.assertIsNone(r.header("X-Cache-Key"))
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")
        self.assertEqual(self.upstream.hits, 1)

    def test_rate_limit_exact_under_concurrency(self):
        import threading
        h.wait_for(lambda: self.dp.get("/mock/ping").status == 401, timeout=15,
                   what="config loaded")
        self.wait_window()
        statuses = []
        lock = threading.Lock()

        def one(i):
            r = h.request("GET", self.dp.url("/mock/burst?apikey=top-secret&i=%d" % i))
            with lock:
                statuses.append(r.status)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(statuses), [200] * 5 + [429] * 15)


class KeyAuthOptionsTest(unittest.TestCase):
    """hide_credentials (header, query, form body), key_in_body and anonymous on a real proxy."""

    def setUp(self):
        self.upstream = h.Upstream("echo")
        cfg = seed_config(self.upstream.port)
        cfg["consumers"].append({"id": "5b1a1a9e-0000-4000-8000-000000000006",
                                 "username": "guest"})
        ka = cfg["plugins"][0]["key_auth"]
        ka.update({"hide_credentials": True, "key_in_body": True, "anonymous": "guest"})
        cfg["plugins"] = cfg["plugins"][:1]  # key-auth only
        self.dp = h.DataPlane(cfg)

    def tearDown(self):
        try:
            self.dp.stop()
        finally:
            self.upstream.stop()

    def seen(self):
        req = self.upstream.requests[-1]
        return req, {k.lower(): v for k, v in req["headers"].items()}

    def test_hide_credentials_body_and_anonymous(self):
        h.wait_for(lambda: self.dp.get("/mock/ping").status == 200, timeout=15,
                   what="config loaded")
        r = self.dp.get("/mock/q?a=1&apikey=top-secret&b=2")
        self.assertEqual(r.status, 200, r)
        req, hdrs = self.seen()
        self.assertEqual(req["path"], "/q?a=1&b=2")
        self.assertEqual(hdrs["x-consumer-username"], "luka")

        r = self.dp.get("/mock/h", headers={"apikey": "top-secret"})
        self.assertEqual(r.status, 200, r)
        req, hdrs = self.seen()
        self.assertNotIn("apikey", hdrs)
        self.assertEqual(hdrs["x-credential-identifier"], CRED)

        r = h.request("POST", self.dp.url("/mock/form"), form=[("x", "1"), ("apikey", "top-secret"),
                                                               ("y", "2")])
        self.assertEqual(r.status, 200, r)
        req, hdrs = self.seen()
        self.assertEqual(req["body"], b"x=1&y=2")
        self.assertEqual(hdrs["content-length"], "7")
        self.assertEqual(hdrs["x-consumer-username"], "luka")

        # the body arrives after the head: the plugins wait for it
        import socket
        body = b"apikey=top-secret&late=1"
        with socket.create_connection(("127.0.0.1", self.dp.proxy_port), timeout=10) as sk:
            sk.sendall(b"POST /mock/late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body))
            time.sleep(0.3)
            sk.sendall(body)
            resp = b""
            while True:
                chunk = sk.recv(65536)
                if not chunk:
                    break
                resp += chunk
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:200])
        req, hdrs = self.seen()
        self.assertEqual(req["path"], "/late")
        self.assertEqual(req["body"], b"late=1")
        self.assertEqual(hdrs["x-consumer-username"], "luka")

        r = self.dp.get("/mock/anon", headers={"apikey": "wrong",
                                               "X-Credential-Identifier": "forged"})
        self.assertEqual(r.status, 200, r)
        req, hdrs = self.seen()
        self.assertEqual(hdrs["x-consumer-username"], "guest")
        self.assertEqual(hdrs["x-anonymous-consumer"], "true")
        self.assertNotIn("x-credential-identifier", hdrs)


class ForwardedIpTest(unittest.TestCase):
    """rate-limiting by client address honours real_ip_header from trusted_ips."""

    def setUp(self):
        self.upstream = h.Upstream("echo")
        cfg = seed_config(self.upstream.port)
        rl = cfg["plugins"][1]
        rl["rate_limiting"]["minute"] = 1
        rl["rate_limiting"]["limit_by"] = "ip"
        cfg["plugins"] = [rl]
        self.dp = h.DataPlane(cfg, extra_env={"PORTICO_TRUSTED_IPS": "127.0.0.1"})

    def tearDown(self):
        try:
            self.dp.stop()
        finally:
            self.upstream.stop()

    def test_limit_by_forwarded_ip(self):
        h.wait_for(lambda: self.dp.get("/open/x", headers={"X-Real-IP": "10.9.9.9"}).status
                   in (200, 429), timeout=15, what="config loaded")
        if time.time() % 60 > 55:
            time.sleep(61 - time.time() % 60)
        self.assertEqual(self.dp.get("/open/a", headers={"X-Real-IP": "10.0.0.1"}).status, 200)
        self.assertEqual(self.dp.get("/open/a", headers={"X-Real-IP": "10.0.0.1"}).status, 429)
        self.assertEqual(self.dp.get("/open/a", headers={"X-Real-IP": "10.0.0.2"}).status, 200)


if __name__ == "__main__":
    h.main()
