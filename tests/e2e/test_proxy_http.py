# tests/e2e/test_proxy_http.py: HTTP handling at the edge: request smuggling attempts (400 and
# close, nothing reaches the upstream), size limits (414, 431, 413), client timeouts (408) and
# keep-alive timeout, a 100 MB body streamed both ways with flat memory, websocket pass-through
# and graceful shutdown with a request in flight.
import hashlib
import os
import socket
import threading
import time
import unittest

import harness as h
from test_proxy_basic import _complete, raw


def simple_config(port, **svc):
    s = {"name": "s", "host": "127.0.0.1", "port": port}
    s.update(svc)
    return {"services": [s], "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}


SMUGGLING = {
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "duplicate_cl_same": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Content-Length: 5\r\n\r\nhello",
    "duplicate_cl_different": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                              b"Content-Length: 39\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello",
    "negative_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nhello",
    "space_before_colon": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
    "bad_chunk_size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nhello\r\n0\r\n\r\n",
    "te_not_chunked_last": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity"
                           b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te_obfuscated": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare_cr": b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n",
    "nul_in_header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
    "duplicate_host": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "missing_host_http11": b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n",
}


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = h.Upstream("u")
        cls.dp = h.DataPlane(simple_config(cls.up.port), extra_env={
            "PORTICO_CLIENT_HEADER_BUFFER_SIZE": "1k",
            "PORTICO_CLIENT_MAX_HEADER_SIZE": "2k",
            "PORTICO_CLIENT_MAX_BODY_SIZE": "100",
            "PORTICO_CLIENT_HEADER_TIMEOUT": "1",
            "PORTICO_CLIENT_BODY_TIMEOUT": "1",
            "PORTICO_KEEPALIVE_TIMEOUT": "1"})

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.up.stop()

    def test_smuggling_rejected_with_400_and_close(self):
        for name, data in SMUGGLING.items():
            with self.subTest(name=name):
                self.up.reset()
                out = raw(self.dp.proxy_port, data, timeout=3)
                self.assertTrue(out.startswith(b"HTTP/1.1 400 "), (name, out[:200]))
                self.assertIn(b"Connection: close", out)
                self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)
                self.assertIn(b'"message":"Bad request"', out)
                self.assertEqual([r["path"] for r in self.up.requests
                                  if "smuggled" in r["path"]], [])

    def test_size_limits(self):
        cases = [
            (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, b"URI too long"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1500 + b"\r\n\r\n", 431,
             b"Request header or cookie too large"),
            (b"GET / HTTP/1.1\r\nHost: x\r\n" +
             b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(30)) + b"\r\n", 431,
             b"Request header or cookie too large"),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + b"x" * 101, 413,
             b"Request size limit exceeded"),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" +
             b"x" * 101 + b"\r\n0\r\n\r\n", 413, b"Request size limit exceeded"),
        ]
        for data, status, msg in cases:
            with self.subTest(status=status):
                out = raw(self.dp.proxy_port, data, timeout=3)
                self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status), out[:200])
                self.assertIn(msg, out)
                self.assertIn(b"Connection: close", out)
        # at the limit is fine
        out = raw(self.dp.proxy_port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                  b"Connection: close\r\n\r\n" + b"x" * 100)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:200])

    def test_header_and_body_timeouts_408(self):
        for partial in (b"GET / HTTP/1.1\r\nHost: x\r\n",
                        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"):
            with self.subTest(partial=partial[:20]):
                s = socket.create_connection(("127.0.0.1", self.dp.proxy_port), timeout=5)
                try:
                    t0 = time.monotonic()
                    s.sendall(partial)
                    out = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        out += chunk
                    self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out)
                    self.assertIn(b"Request timeout", out)
                    self.assertLess(time.monotonic() - t0, 3.5)
                finally:
                    s.close()

    def test_keepalive_timeout_closes_idle_connection(self):
        s = socket.create_connection(("127.0.0.1", self.dp.proxy_port), timeout=5)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not _complete(data, 1):
                data += s.recv(65536)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"))
            t0 = time.monotonic()
            rest = s.recv(100)  # nothing more: the server closes after keepalive_timeout
            self.assertEqual(rest, b"")
            self.assertGreater(time.monotonic() - t0, 0.5)
        finally:
            s.close()


class NoKeepaliveTest(unittest.TestCase):
    def test_keepalive_timeout_zero_closes_after_each_response(self):
        up = h.Upstream("u")
        dp = h.DataPlane(simple_config(up.port), extra_env={"PORTICO_KEEPALIVE_TIMEOUT": "0"})
        try:
            t0 = time.monotonic()
            out = raw(dp.proxy_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertLess(time.monotonic() - t0, 2)  # closed by the server, no timeout
            self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)
            self.assertIn(b"Connection: close", out)
            out = raw(dp.proxy_port, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)
        finally:
            dp.stop()
            up.stop()


class StreamingTest(unittest.TestCase):
    def test_100mb_both_ways_with_flat_memory(self):
        up = h.Upstream("big")
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1") +
               ":quarantine_size_mb=4"}
        dp = h.DataPlane(simple_config(up.port), extra_env=env)
        size = 100 * 1024 * 1024
        try:
            pid = dp.proc.p.pid

            def hwm_kb():
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1])
                return 0
            dp.get("/warmup")
            base = hwm_kb()
            # upload: Content-Length, streamed, checked by SHA-256 at the upstream
            block = os.urandom(1 << 20)
            digest = hashlib.sha256()
            s = socket.create_connection(("127.0.0.1", dp.proxy_port), timeout=60)
            s.sendall(b"POST /_sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(100):
                s.sendall(block)
                digest.update(block)
            out = b""
            while b"}" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            s.close()
            self.assertIn(b'"length": %d' % size, out)
            self.assertIn(digest.hexdigest().encode(), out)
            # download: the upstream sends 100 MB; read it slowly at first (backpressure)
            s = socket.create_connection(("127.0.0.1", dp.proxy_port), timeout=60)
            s.sendall(b"GET /_bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
            time.sleep(0.5)
            got = 0
            head = b""
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                if not head:
                    idx = chunk.find(b"\r\n\r\n")
                    head = chunk[:idx]
                    chunk = chunk[idx + 4:]
                got += len(chunk)
            s.close()
            self.assertIn(b"Content-Length: %d" % size, head)
            self.assertEqual(got, size)
            grown_mb = (hwm_kb() - base) / 1024
            self.assertLess(grown_mb, 48, "peak memory grew by %.1f MB" % grown_mb)
        finally:
            dp.stop()
            up.stop()


class WebsocketTest(unittest.TestCase):
    def test_upgrade_tunnel(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        seen = {}

        def serve():
            c, _ = ls.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(4096)
            seen["req"] = data
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n")
            while True:  # echo raw frames back
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
            c.close()
        threading.Thread(target=serve, daemon=True).start()
        dp = h.DataPlane(simple_config(port))
        try:
            s = socket.create_connection(("127.0.0.1", dp.proxy_port), timeout=5)
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: k\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            self.assertIn(b"Upgrade: websocket", head)
            self.assertIn(b"Connection: Upgrade", head)
            for msg in (b"\x81\x05hello", b"\x82\x03abc" * 100):
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    got += s.recv(65536)
                self.assertEqual(got, msg)
            s.close()
            self.assertIn(b"Upgrade: websocket", seen["req"])
            self.assertIn(b"Connection: Upgrade", seen["req"])
            self.assertIn(b"Sec-WebSocket-Key: k", seen["req"])
        finally:
            dp.stop()
            ls.close()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_request(self):
        up = h.Upstream("slow")
        up.set_delay(0.8)
        dp = h.DataPlane(simple_config(up.port))
        result = {}

        def call():
            result["r"] = dp.get("/inflight")
        t = threading.Thread(target=call)
        t.start()
        h.wait_for(lambda: up.hits >= 1, 5, what="request at upstream")
        dp.proc.signal(15)
        time.sleep(0.1)
        # no new connections once stopping
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", dp.proxy_port), timeout=1).recv(1)
        t.join(5)
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(dp.stop(), 0)
        up.stop()


if __name__ == "__main__":
    h.main()
