# tests/e2e/test_proxy_basic.py: portico-dp fed from its config cache, proxying to real upstream
# servers: the seed flow (service -> upstream with two targets, route /mock with strip_path,
# round-robin alternating), headers added both ways, generated errors, the status listener,
# keep-alive, pipelining, HTTP/1.0 and the disk cache.
import os
import socket
import time
import unittest

import harness as h


def raw(port, data, timeout=5.0, read_until_close=True, expect=1):
    """Sends raw bytes on a new connection; returns everything read until the peer closes (or
    until `expect` complete responses were seen when read_until_close is False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and out.count(b"HTTP/1.1 ") >= expect and \
                    _complete(out, expect):
                break
        return out
    finally:
        s.close()


def _complete(buf, n):
    """True when buf holds n complete responses with Content-Length bodies."""
    pos = 0
    for _ in range(n):
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            return False
        head = buf[pos:end].decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n"):
            if line.startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        pos = end + 4 + length
        if pos > len(buf):
            return False
    return True


def seed_config(a, b):
    return {"services": [{"name": "mock", "host": "mock.upstream", "port": 1, "path": "/anything"}],
            "routes": [{"name": "mock", "service": "mock", "paths": ["/mock"], "strip_path": True}],
            "upstreams": [{"name": "mock.upstream"}],
            "targets": [{"upstream": "mock.upstream", "target": "127.0.0.1:%d" % a.port},
                        {"upstream": "mock.upstream", "target": "127.0.0.1:%d" % b.port}]}


class SeedFlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = h.Upstream("a")
        cls.b = h.Upstream("b")
        cls.dp = h.DataPlane(seed_config(cls.a, cls.b))

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.a.stop()
        cls.b.stop()

    def test_round_robin_alternates_and_strips_path(self):
        seen = []
        for _ in range(20):
            r = self.dp.get("/mock/x/y?q=1&q=2")
            self.assertEqual(r.status, 200, r.body)
            j = r.json()
            self.assertEqual(j["path"], "/anything/x/y?q=1&q=2")
            seen.append(j["server"])
        self.assertEqual(seen.count("a"), 10)
        self.assertEqual(seen.count("b"), 10)
        for i in range(1, 20):
            self.assertNotEqual(seen[i], seen[i - 1], seen)

    def test_headers_sent_upstream(self):
        r = self.dp.get("/mock/h", headers={"X-Forwarded-For": "10.0.0.9", "Via": "1.0 client",
                                             "Connection": "close, X-Drop", "X-Drop": "1",
                                             "Keep-Alive": "timeout=5", "X-Keep": "yes"})
        self.assertEqual(r.status, 200)
        hd = {k.lower(): v for k, v in r.json()["headers"].items()}
        target_port = int(hd["host"].split(":")[1])
        self.assertIn(target_port, (self.a.port, self.b.port))
        self.assertEqual(hd["host"], "127.0.0.1:%d" % target_port)
        self.assertEqual(hd["x-forwarded-for"], "10.0.0.9, 127.0.0.1")
        self.assertEqual(hd["x-forwarded-proto"], "http")
        self.assertEqual(hd["x-forwarded-host"], "127.0.0.1")
        self.assertEqual(hd["x-forwarded-port"], str(self.dp.proxy_port))
        self.assertEqual(hd["x-forwarded-path"], "/mock/h")
        self.assertEqual(hd["x-forwarded-prefix"], "/mock")
        self.assertEqual(hd["x-real-ip"], "127.0.0.1")
        self.assertEqual(hd["via"], "1.0 client, 1.1 portico/0.1.0")
        self.assertRegex(hd["x-portico-request-id"], "^[0-9a-f]{32}$")
        self.assertEqual(hd["x-keep"], "yes")
        self.assertNotIn("x-drop", hd)
        self.assertNotIn("keep-alive", hd)
        self.assertEqual(hd["connection"], "keep-alive")
        self.assertEqual(r.header("X-Portico-Request-Id"), hd["x-portico-request-id"])

    def test_response_headers(self):
        r = self.dp.get("/mock/r")
        self.assertEqual(r.header("Via"), "1.1 portico/0.1.0")
        self.assertTrue(r.header("Server").startswith("BaseHTTP"))  # upstream's is kept
        self.assertRegex(r.header("X-Portico-Upstream-Latency"), r"^\d+$")
        self.assertRegex(r.header("X-Portico-Proxy-Latency"), r"^\d+$")
        self.assertTrue(r.body.startswith(b"{"), (r.headers, r.body[:300]))
        self.assertEqual(r.header("X-Upstream-Name"), r.json()["server"])

    def test_no_route_404(self):
        r = self.dp.get("/nothing-here")
        self.assertEqual(r.status, 404)
        j = r.json()
        self.assertEqual(j["message"], "no Route matched with those values")
        self.assertRegex(j["request_id"], "^[0-9a-f]{32}$")
        self.assertEqual(r.header("Server"), "portico/0.1.0")
        self.assertRegex(r.header("X-Portico-Response-Latency"), r"^\d+$")
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")

    def test_error_body_follows_accept(self):
        # kong.response.error: the Accept header picks the format, the first range with the
        # highest q wins, JSON when nothing usable is asked for
        cases = [
            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html",
             "<p>no Route matched with those values.</p>\n    <p>request_id: %s</p>"),
            ("application/xml", "application/xml",
             "<message>no Route matched with those values</message>\n"
             "  <requestid>%s</requestid>"),
            ("text/plain;q=0.5, application/xml;q=0.4", "text/plain",
             "no Route matched with those values\nrequest_id: %s\n"),
            ("image/png, text/html", "application/json",
             '{"message":"no Route matched with those values","request_id":"%s"}'),
            ("text/html;q=0", "application/json", '"request_id":"%s"'),
        ]
        for accept, ctype, fragment in cases:
            r = self.dp.get("/nothing-here", headers={"Accept": accept})
            self.assertEqual(r.status, 404)
            self.assertEqual(r.header("Content-Type"), ctype + "; charset=utf-8", accept)
            rid = r.header("X-Portico-Request-Id")
            self.assertIn(fragment % rid, r.body.decode(), accept)
            self.assertEqual(int(r.header("Content-Length")), len(r.body))
        # the same over a bare connection, with nothing but Host and Accept
        out = raw(self.dp.proxy_port, b"GET /nothing HTTP/1.1\r\nHost: x\r\n"
                  b"Accept: text/plain\r\nConnection: close\r\n\r\n")
        self.assertIn(b"Content-Type: text/plain; charset=utf-8", out)
        self.assertIn(b"\r\n\r\nno Route matched with those values\nrequest_id: ", out)

    def test_post_bodies_content_length_and_chunked(self):
        r = h.request("POST", self.dp.url("/mock/p"), body=b"hello world",
                      headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["body"], "hello world")
        self.assertEqual(r.json()["method"], "POST")
        # chunked request body, streamed as chunks upstream
        data = (b"POST /mock/_sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        out = raw(self.dp.proxy_port, data)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out)
        self.assertIn(b'"length": 11', out)

    def test_keepalive_and_pipelining(self):
        req = b"GET /mock/k%d HTTP/1.1\r\nHost: x\r\n\r\n"
        data = b"".join(req % i for i in range(5))
        out = raw(self.dp.proxy_port, data, read_until_close=False, expect=5)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 5, out)
        for i in range(5):
            self.assertIn(b"/anything/k%d" % i, out)
        # responses come back in order
        positions = [out.find(b"/anything/k%d" % i) for i in range(5)]
        self.assertEqual(positions, sorted(positions))

    def test_http10_client(self):
        out = raw(self.dp.proxy_port, b"GET /mock/old HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)
        self.assertIn(b"/anything/old", out)
        self.assertIn(b"Connection: close", out)

    def test_expect_100_continue(self):
        s = socket.create_connection(("127.0.0.1", self.dp.proxy_port), timeout=5)
        try:
            s.sendall(b"POST /mock/e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            first = s.recv(100)
            self.assertEqual(first, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(b"abcd")
            out = b""
            while b'"body": "abcd"' not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            self.assertIn(b"HTTP/1.1 200", out)
            self.assertIn(b'"body": "abcd"', out)
        finally:
            s.close()

    def test_head_request(self):
        r = h.request("HEAD", self.dp.url("/mock/head"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_status_listener(self):
        base = "http://127.0.0.1:%d" % self.dp.status_port
        r = h.request("GET", base + "/status")
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual(j["configuration"]["revision"], 1)
        self.assertEqual(j["configuration"]["hash"], self.dp.hash)
        self.assertIn("connections_active", j["server"])
        self.assertIs(j["control_plane"]["connected"], False)
        self.assertEqual(h.request("GET", base + "/status/ready").status, 200)
        self.dp.get("/mock/metrics")
        self.dp.get("/nope")
        m = h.request("GET", base + "/metrics").text
        self.assertRegex(m, r'portico_requests_total\{service="mock",code="2xx"\} \d+')
        self.assertRegex(m, r'portico_requests_total\{service="",code="4xx"\} \d+')
        self.assertIn("portico_upstream_latency_ms_bucket{le=\"+Inf\"}", m)
        self.assertIn("portico_connections_active", m)
        self.assertIn("portico_config_revision 1", m)


class LogReopenTest(unittest.TestCase):
    def test_sigusr1_reopens_log_file(self):
        d = h.make_tmpdir()
        log = os.path.join(d, "dp.log")
        dp = h.DataPlane(None, extra_env={"PORTICO_LOG_FILE": log})
        try:
            h.wait_for(lambda: os.path.exists(log), 5, what="log file")
            os.rename(log, log + ".1")
            dp.proc.signal(10)  # SIGUSR1
            h.wait_for(lambda: os.path.exists(log), 5, what="reopened log file")
            h.wait_for(lambda: "log file reopened" in open(log).read(), 5, what="log line")
        finally:
            dp.stop()
        self.assertIn("data plane started", open(log + ".1").read())
        self.assertIn("data plane stopped", open(log).read())


class CacheTest(unittest.TestCase):
    def test_no_cache_not_ready_then_corrupt_cache_ignored(self):
        dp = h.DataPlane(None)
        try:
            base = "http://127.0.0.1:%d" % dp.status_port
            self.assertEqual(h.request("GET", base + "/status/ready").status, 503)
            self.assertEqual(dp.get("/x").status, 404)
        finally:
            dp.stop()
        prefix = h.make_tmpdir("dp-")
        with open(os.path.join(prefix, "config.cache"), "wb") as f:
            f.write(b"\x0a\x05garbage-not-a-snapshot")
        dp = h.DataPlane(None, prefix=prefix)
        try:
            base = "http://127.0.0.1:%d" % dp.status_port
            self.assertEqual(h.request("GET", base + "/status/ready").status, 503)
        finally:
            dp.stop()
        self.assertIn("config cache ignored", dp.proc.output())

    def test_invalid_config_in_cache_is_rejected(self):
        a = h.Upstream("a")
        cfg = {"services": [{"name": "s", "host": "127.0.0.1", "port": a.port}],
               "routes": [{"name": "r", "paths": ["/x"],
                           "service": {"id": "00000000-0000-4000-8000-000000000000"}}]}
        dp = h.DataPlane(cfg)
        try:
            self.assertEqual(dp.get("/x").status, 404)
        finally:
            dp.stop()
            a.stop()
        out = dp.proc.output()
        self.assertIn("entity=routes", out)
        self.assertIn("field=service", out)

    def test_plain_service_host_and_cache_mode(self):
        a = h.Upstream("a")
        cfg = {"services": [{"name": "s", "host": "localhost", "port": a.port, "path": "/base"}],
               "routes": [{"name": "r", "paths": ["/x"], "service": "s", "strip_path": False}]}
        dp = h.DataPlane(cfg)
        try:
            r = dp.get("/x/y")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["path"], "/base/x/y")
            self.assertEqual(r.json()["headers"]["Host"], "localhost:%d" % a.port)
        finally:
            dp.stop()
            a.stop()
        st = os.stat(os.path.join(dp.prefix, "config.cache"))
        self.assertEqual(st.st_mode & 0o777, 0o600)


if __name__ == "__main__":
    h.main()
