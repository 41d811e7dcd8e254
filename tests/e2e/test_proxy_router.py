# tests/e2e/test_proxy_router.py: Kong's routing rules end to end: hosts (exact, wildcards, with
# port), methods, headers (exact and ~* regex), regex paths with regex_priority, priority
# order, strip_path with path_handling v0/v1 and service paths, query strings, preserve_host and
# upstream host_header.
import unittest

import harness as h


class RouterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = h.Upstream("u")
        p = cls.up.port
        cls.proxy_port = h.free_port()
        routes = [
            {"name": "exact-host", "service": "exact", "hosts": ["api.example.test"]},
            # a wildcard host alone loses to the catch-all "/" (same field count, the path
            # length wins over a non-plain host), so these also carry a path
            {"name": "wild-suffix", "service": "suffix", "hosts": ["*.wild.test"],
             "paths": ["/"], "strip_path": False},
            {"name": "wild-prefix", "service": "prefix", "hosts": ["shop.*"], "paths": ["/"],
             "strip_path": False},
            {"name": "host-port", "service": "ported",
             "hosts": ["ported.test:%d" % cls.proxy_port, "badport.test:1"]},
            {"name": "get-only", "service": "plain", "paths": ["/methods"],
             "methods": ["GET"]},
            {"name": "post-only", "service": "plain", "paths": ["/methods"],
             "methods": ["POST"]},
            {"name": "hdr-v1", "service": "plain", "paths": ["/hdr"],
             "headers": {"x-version": ["v1"]}},
            {"name": "hdr-re", "service": "plain", "paths": ["/hdr"],
             "headers": {"x-version": ["~*^v[2-9]$"]}},
            {"name": "prefix", "service": "plain", "paths": ["/users"]},
            {"name": "regex", "service": "plain", "paths": ["~/users/\\d+$"],
             "regex_priority": 1},
            {"name": "regex-hi", "service": "plain", "paths": ["~/users/(?<id>\\d+)/x$"],
             "regex_priority": 9},
            {"name": "v0", "service": "pathsvc", "paths": ["/v0"], "strip_path": True},
            {"name": "v1", "service": "pathsvc", "paths": ["/v1"], "strip_path": True,
             "path_handling": "v1"},
            {"name": "nostrip", "service": "pathsvc", "paths": ["/keep"], "strip_path": False},
            {"name": "preserve", "service": "named", "paths": ["/preserve"],
             "preserve_host": True},
            {"name": "target-host", "service": "named", "paths": ["/target"]},
            {"name": "hh", "service": "hh", "paths": ["/hh"]},
            {"name": "catchall", "service": "plain", "paths": ["/"]},
        ]
        cls.dp = h.DataPlane({
            "services": [
                {"name": "plain", "host": "127.0.0.1", "port": p},
                {"name": "pathsvc", "host": "127.0.0.1", "port": p, "path": "/svc"},
                {"name": "named", "host": "named.upstream", "port": 1},
                {"name": "hh", "host": "hh.upstream", "port": 1},
                {"name": "exact", "host": "127.0.0.1", "port": p, "path": "/exact"},
                {"name": "suffix", "host": "127.0.0.1", "port": p, "path": "/suffix"},
                {"name": "prefix", "host": "127.0.0.1", "port": p, "path": "/prefix"},
                {"name": "ported", "host": "127.0.0.1", "port": p, "path": "/ported"},
            ],
            "routes": routes,
            "upstreams": [{"name": "named.upstream"},
                          {"name": "hh.upstream", "host_header": "backend.internal"}],
            "targets": [{"upstream": "named.upstream", "target": "localhost:%d" % p},
                        {"upstream": "hh.upstream", "target": "127.0.0.1:%d" % p}],
        }, proxy_port=cls.proxy_port)

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.up.stop()

    def route_of(self, path, method="GET", headers=None):
        """Returns (status, upstream path, upstream headers) for one request."""
        r = h.request(method, self.dp.url(path), headers=headers)
        if r.status != 200:
            return r.status, None, None
        j = r.json()
        return 200, j["path"], {k.lower(): v for k, v in j["headers"].items()}

    def test_hosts(self):
        for host, want in (("api.example.test", "/exact/h"), ("API.Example.TEST", "/exact/h"),
                           ("api.example.test:1234", "/exact/h"),
                           ("a.wild.test", "/suffix/h"), ("x.y.wild.test", "/suffix/h"),
                           ("wild.test", "/h"), ("shop.anything.org", "/prefix/h"),
                           ("ported.test", "/ported/h"), ("badport.test", "/h"),
                           ("other.test", "/h")):
            with self.subTest(host=host):
                st, path, _ = self.route_of("/h", headers={"Host": host})
                self.assertEqual((st, path), (200, want))

    def test_absolute_form_target_names_the_host(self):
        from test_proxy_basic import raw
        out = raw(self.dp.proxy_port, b"GET http://api.example.test/h?q=1 HTTP/1.1\r\n"
                  b"Host: other.test\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:200])
        self.assertIn(b'"path": "/exact/h?q=1"', out)
        self.assertIn(b'"X-Forwarded-Path": "/h"', out)

    def test_methods(self):
        self.assertEqual(self.route_of("/methods")[0], 200)
        self.assertEqual(self.route_of("/methods", "POST")[0], 200)
        # PUT falls through to the catch-all
        st, path, _ = self.route_of("/methods", "PUT")
        self.assertEqual((st, path), (200, "/methods"))

    def test_headers_exact_and_regex(self):
        self.assertEqual(self.route_of("/hdr", headers={"X-Version": "V1"})[0], 200)
        self.assertEqual(self.route_of("/hdr", headers={"X-Version": "v7"})[0], 200)

    def test_strip_path_and_service_path(self):
        cases = [("/v0/a/b?x=1&y", "/svc/a/b?x=1&y"), ("/v0", "/svc"), ("/v0/", "/svc/"),
                 ("/v0x", "/svc/x"), ("/v1x", "/svcx"), ("/v1/x", "/svc/x"),
                 ("/keep/it?q", "/svc/keep/it?q"), ("/users/12", "/"), ("/users/12/x", "/"),
                 ("/a/./b/../c", "/a/c")]
        for req, want in cases:
            with self.subTest(req=req):
                st, path, _ = self.route_of(req)
                self.assertEqual((st, path), (200, want))

    def test_host_header_rules(self):
        _, _, hd = self.route_of("/preserve", headers={"Host": "client.example:99"})
        self.assertEqual(hd["host"], "client.example:99")
        _, _, hd = self.route_of("/target", headers={"Host": "client.example"})
        self.assertEqual(hd["host"], "localhost:%d" % self.up.port)  # target name and port
        _, _, hd = self.route_of("/hh")
        self.assertEqual(hd["host"], "backend.internal:%d" % self.up.port)


class PriorityTest(unittest.TestCase):
    def test_priority_order(self):
        ups = {n: h.Upstream(n) for n in ("prefix", "regex", "regexhi", "host", "wild",
                                          "hdr", "old", "new")}
        svcs = [{"name": n, "host": "127.0.0.1", "port": u.port} for n, u in ups.items()]
        routes = [
            {"name": "prefix", "service": "prefix", "paths": ["/users/1"]},
            {"name": "regex", "service": "regex", "paths": ["~/users/\\d+"]},
            {"name": "regexhi", "service": "regexhi", "paths": ["~/users/\\d+/x"],
             "regex_priority": 10},
            {"name": "host", "service": "host", "paths": ["/p"], "hosts": ["h.test"]},
            {"name": "wild", "service": "wild", "paths": ["/p"], "hosts": ["*.test"]},
            {"name": "hdr", "service": "hdr", "paths": ["/p"], "hosts": ["h.test"],
             "headers": {"x-a": ["1"]}},
            {"name": "old", "service": "old", "paths": ["/same"], "created_at": 100},
            {"name": "new", "service": "new", "paths": ["/same"], "created_at": 200},
        ]
        dp = h.DataPlane({"services": svcs, "routes": routes})
        try:
            def who(path, headers=None):
                r = dp.get(path, headers=headers)
                return r.json()["server"] if r.status == 200 else r.status
            self.assertEqual(who("/users/123"), "regex")     # regex beats prefix
            self.assertEqual(who("/users/1/x"), "regexhi")   # regex_priority
            self.assertEqual(who("/users/1"), "regex")
            self.assertEqual(who("/p", {"Host": "h.test"}), "host")   # plain beats wildcard
            self.assertEqual(who("/p", {"Host": "x.test"}), "wild")
            self.assertEqual(who("/p", {"Host": "h.test", "X-A": "1"}), "hdr")  # more fields
            self.assertEqual(who("/same"), "old")             # created_at tie-break
            self.assertEqual(who("/nothing"), 404)
        finally:
            dp.stop()
            for u in ups.values():
                u.stop()


if __name__ == "__main__":
    h.main()
