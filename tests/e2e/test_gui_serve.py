# tests/e2e/test_gui_serve.py: how portico-cp serves Portico Manager on admin_gui_listen (files
# embedded in the binary, Content-Type, ETag/304, security headers, /config.js from
# admin_gui_api_url / admin_listen / admin_token), its start-up errors, and the Admin API's CORS
# answers to the Manager's origin. Plain HTTP from outside; no browser.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import time
import unittest

import harness as h


def start_cp(extra_env=None, wait=True):
    """Starts portico-cp (harness.ControlPlane: own database, free ports) with Portico Manager on
    a free port. Returns (proc, admin_port, gui_port); proc is a harness.Proc."""
    gui_port = h.free_port()
    env = {"PORTICO_ADMIN_GUI_LISTEN": "127.0.0.1:%d" % gui_port}
    env.update(extra_env or {})
    cp = h.ControlPlane(env=env, start=False)
    if not wait:
        return h.Proc([h.CP_BIN], env=cp.env, name="cp"), cp.admin_port, gui_port
    cp.start()
    try:
        h.wait_port(gui_port)
    except AssertionError:
        cp.proc.kill()
        raise
    return cp.proc, cp.admin_port, gui_port


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp, cls.admin_port, cls.gui_port = start_cp()
        cls.base = "http://127.0.0.1:%d" % cls.gui_port

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def get(self, path, **kw):
        return h.request("GET", self.base + path, **kw)

    def test_index(self):
        r = self.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIn(b"<title>Portico Manager</title>", r.body)
        self.assertRegex(r.header("ETag"), r'^"[0-9a-f]{32}"$')
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        csp = r.header("Content-Security-Policy")
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        # Default admin_gui_api_url: the host the browser used, admin_listen's port.
        self.assertIn("connect-src 'self' http://127.0.0.1:%d;" % self.admin_port, csp)
        r2 = h.request("GET", self.base + "/", headers={"Host": "gw.example:%d" % self.gui_port})
        self.assertIn("connect-src 'self' http://gw.example:%d;" % self.admin_port,
                      r2.header("Content-Security-Policy"))
        self.assertEqual(self.get("/index.html").body, r.body)

    def test_every_referenced_file_is_served_with_its_type(self):
        # Walk the module graph from index.html the way the browser does.
        index = self.get("/").text
        todo = re.findall(r'(?:src|href)="([^"#:]+)"', index)
        seen = {}
        types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml"}
        while todo:
            path = "/" + todo.pop().lstrip("./")
            if path in seen:
                continue
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.header("Content-Type"), types[os.path.splitext(path)[1]], path)
            seen[path] = r
            if path.endswith(".js") and path != "/config.js":
                base = os.path.dirname(path)
                for imp in re.findall(r'from "(\.[^"]+)"', r.text):
                    todo.append(os.path.normpath(os.path.join(base, imp)))
        self.assertIn("/js/app.js", seen)
        self.assertIn("/js/pages/upstreams.js", seen)
        self.assertIn("/config.js", seen)

    def test_etag_revalidation_and_head(self):
        r = self.get("/js/app.js")
        etag = r.header("ETag")
        r304 = self.get("/js/app.js", headers={"If-None-Match": etag})
        self.assertEqual(r304.status, 304)
        self.assertEqual(r304.body, b"")
        self.assertEqual(r304.header("ETag"), etag)
        self.assertEqual(self.get("/js/app.js", headers={"If-None-Match": '"x", ' + etag}).status, 304)
        self.assertEqual(self.get("/js/app.js", headers={"If-None-Match": '"0123"'}).status, 200)
        self.assertNotEqual(self.get("/app.css").header("ETag"), etag)
        hd = h.request("HEAD", self.base + "/js/app.js")
        self.assertEqual(hd.status, 200)
        self.assertEqual(hd.body, b"")
        self.assertEqual(hd.header("ETag"), etag)

    def test_config_js(self):
        r = self.get("/config.js")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertIn('"apiUrl": "", "apiPort": %d, "apiScheme": "http", "tokenRequired": false'
                      % self.admin_port, r.text)

    def test_errors(self):
        r = self.get("/nope.js")
        self.assertEqual(r.status, 404)
        r = self.get("/../../etc/passwd")
        self.assertIn(r.status, (400, 404))
        r = h.request("POST", self.base + "/", body="x", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")
        r = h.request("GET", self.base + "/", headers={"X-Big": "a" * 40000})
        self.assertIn(r.status, (400, 413, 431))
        self.assertEqual(self.get("/").status, 200)  # still serving

    def test_cors_for_the_manager(self):
        admin = "http://127.0.0.1:%d" % self.admin_port
        origin = "http://127.0.0.1:%d" % self.gui_port
        r = h.request("OPTIONS", admin + "/services", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
        self.assertEqual(r.header("Access-Control-Allow-Headers"), "authorization,content-type")
        self.assertIn("POST", r.header("Access-Control-Allow-Methods"))
        r = h.request("GET", admin + "/services", headers={"Origin": origin})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
        # Another web site gets no permission.
        r = h.request("GET", admin + "/services", headers={"Origin": "http://evil.example"})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        r = h.request("GET", admin + "/services")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")

    def test_status_reports_config_revision(self):
        admin = "http://127.0.0.1:%d" % self.admin_port
        before = h.request("GET", admin + "/status").json()["config_revision"]
        self.assertIsInstance(before, int)
        r = h.request("POST", admin + "/consumers", json_body={"username": "rev-check"})
        self.assertEqual(r.status, 201, r)
        after = h.request("GET", admin + "/status").json()["config_revision"]
        self.assertGreater(after, before)


class ConfiguredTest(unittest.TestCase):
    def test_api_url_and_token(self):
        cp, admin_port, gui_port = start_cp({
            "PORTICO_ADMIN_GUI_API_URL": "https://api.example.com:9443/",
            "PORTICO_ADMIN_TOKEN": "s3cret",
            "PORTICO_ADMIN_GUI_URL": "http://manager.example:9100/some/path",
        })
        try:
            base = "http://127.0.0.1:%d" % gui_port
            r = h.request("GET", base + "/config.js")
            self.assertIn('"apiUrl": "https://api.example.com:9443"', r.text)
            self.assertIn('"tokenRequired": true', r.text)
            self.assertNotIn("s3cret", r.text)
            r = h.request("GET", base + "/")
            self.assertIn("connect-src 'self' https://api.example.com:9443;",
                          r.header("Content-Security-Policy"))
            # Preflights need no token (browsers never send one), real requests do.
            admin = "http://127.0.0.1:%d" % admin_port
            r = h.request("OPTIONS", admin + "/upstreams", headers={
                "Origin": "http://127.0.0.1:%d" % gui_port,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization"})
            self.assertEqual(r.status, 204, r)
            self.assertEqual(h.request("GET", admin + "/upstreams").status, 401)
            # admin_gui_url: Kong answers with its origin whatever the request says.
            for origin in ("http://manager.example:9100", "http://evil.example", None):
                hdrs = {"Authorization": "Bearer s3cret"}
                if origin:
                    hdrs["Origin"] = origin
                r = h.request("GET", admin + "/upstreams", headers=hdrs)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Access-Control-Allow-Origin"), "http://manager.example:9100")
        finally:
            cp.stop()

    def test_off(self):
        cp, admin_port, gui_port = start_cp({"PORTICO_ADMIN_GUI_LISTEN": "off"}, wait=False)
        try:
            h.wait_port(admin_port)
            with self.assertRaises(OSError):
                h.request("GET", "http://127.0.0.1:%d/" % gui_port, timeout=2)
        finally:
            cp.stop()

    def assert_refuses_to_start(self, env, message):
        cp, _, _ = start_cp(env, wait=False)
        deadline = time.monotonic() + 15
        while cp.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(cp.alive(), "portico-cp kept running")
        code = cp.stop(expect_codes=(1, 2))
        self.assertIn(code, (1, 2))
        self.assertIn(message, cp.output())

    def test_bad_api_url(self):
        self.assert_refuses_to_start({"PORTICO_ADMIN_GUI_API_URL": "javascript:alert(1)"},
                                     "invalid admin_gui_api_url")

    def test_ssl_flag_refused(self):
        self.assert_refuses_to_start({"PORTICO_ADMIN_GUI_LISTEN": "127.0.0.1:%d ssl" % h.free_port()},
                                     "admin_gui_listen: the ssl flag is not supported")

    def test_port_in_use(self):
        import socket
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        try:
            self.assert_refuses_to_start(
                {"PORTICO_ADMIN_GUI_LISTEN": "127.0.0.1:%d" % s.getsockname()[1]},
                "cannot listen for Portico Manager")
        finally:
            s.close()


if __name__ == "__main__":
    h.main()
