# tests/e2e/test_proxy_tls_upstream.py: services with protocol https: the data plane speaks TLS
# to the upstream (server name sent as SNI, no certificate verification as Kong's default),
# keeps those connections alive, and answers 502 when the upstream does not speak TLS.
import os
import ssl
import subprocess
import threading
import unittest
from http.server import ThreadingHTTPServer

import harness as h


class TlsUpstream:
    def __init__(self, name):
        d = h.make_tmpdir()
        self.cert, self.key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=tls.test", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        self.port = h.free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), h._UpstreamHandler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None
        self.httpd.name = name
        self.httpd.lock = threading.Lock()
        self.httpd.hits = 0
        self.httpd.requests = []
        self.httpd.status = 200
        self.httpd.delay = 0
        self.snis = []
        self.handshakes = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)

        def on_sni(sock, name, c):
            self.snis.append(name)
            self.handshakes += 1
        ctx.sni_callback = on_sni
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TlsUpstreamTest(unittest.TestCase):
    def test_https_service_and_target(self):
        up = TlsUpstream("tls")
        plain = h.Upstream("plain")
        cfg = {"services": [{"name": "direct", "protocol": "https", "host": "localhost",
                             "port": up.port, "path": "/in"},
                            {"name": "balanced", "protocol": "https", "host": "tls.upstream",
                             "port": 443},
                            {"name": "wrong", "protocol": "https", "host": "127.0.0.1",
                             "port": plain.port, "retries": 0}],
               "routes": [{"name": "direct", "service": "direct", "paths": ["/direct"]},
                          {"name": "balanced", "service": "balanced", "paths": ["/lb"]},
                          {"name": "wrong", "service": "wrong", "paths": ["/wrong"]}],
               "upstreams": [{"name": "tls.upstream", "host_header": "api.tls.test"}],
               "targets": [{"upstream": "tls.upstream", "target": "127.0.0.1:%d" % up.port}]}
        dp = h.DataPlane(cfg)
        try:
            for _ in range(3):
                r = dp.get("/direct/x?y=1")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["server"], "tls")
                self.assertEqual(r.json()["path"], "/in/x?y=1")
            self.assertIn("localhost", up.snis)
            r = dp.get("/lb", headers={"Connection": "close"})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["headers"]["Host"], "api.tls.test:%d" % up.port)
            self.assertIn("api.tls.test", up.snis)
            # keep-alive: 5 sequential requests, no new handshake per request
            before = up.handshakes
            for _ in range(5):
                self.assertEqual(dp.get("/direct").status, 200)
            self.assertLessEqual(up.handshakes - before, 1)
            # big bodies both ways over TLS
            body = os.urandom(3 * 1024 * 1024)
            r = h.request("POST", dp.url("/direct/_sink"), body=body, timeout=30)
            self.assertEqual(r.json()["length"], len(body))
            r = dp.get("/direct/_bytes/5000000", timeout=30)
            self.assertEqual(len(r.body), 5000000)
            r = dp.get("/wrong")
            self.assertEqual(r.status, 502)
        finally:
            dp.stop()
            up.stop()
            plain.stop()


if __name__ == "__main__":
    h.main()
