# tests/e2e/test_admin_server.py: the Admin API's HTTP server: admin_token (Bearer), the ssl
# listener (admin_ssl_cert/admin_ssl_cert_key), request limits (admin_max_body_size, URL and
# header sizes), content types, OPTIONS, and a clean stop on SIGTERM.
import os
import socket
import subprocess
import unittest

import harness as h


class TokenTest(unittest.TestCase):
    def test_bearer_token(self):
        cp = h.ControlPlane(env={"PORTICO_ADMIN_TOKEN": "s3cr3t-token"})
        try:
            r = cp.admin("GET", "/services")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json(), {"message": "Unauthorized"})
            r = cp.admin("GET", "/services", headers={"Authorization": "Bearer wrong"})
            self.assertEqual(r.status, 401)
            r = cp.admin("GET", "/services", headers={"Authorization": "Basic s3cr3t-token"})
            self.assertEqual(r.status, 401)
            r = cp.admin("POST", "/upstreams", form={"name": "tok"})
            self.assertEqual(r.status, 401)
            self.assertEqual(h.psql("SELECT count(*) FROM upstreams", db=cp.db).strip(), "0")
            auth = {"Authorization": "Bearer s3cr3t-token"}
            self.assertEqual(cp.admin("GET", "/services", headers=auth).status, 200)
            self.assertEqual(cp.admin("POST", "/upstreams", form={"name": "tok"},
                                      headers=auth).status, 201)
        finally:
            cp.stop()


class TlsTest(unittest.TestCase):
    def test_ssl_listener(self):
        d = h.make_tmpdir()
        cert, key = os.path.join(d, "admin.crt"), os.path.join(d, "admin.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost"], check=True,
                       capture_output=True)
        port = h.free_port()
        cp = h.ControlPlane(start=False)
        cp.admin_port = port
        cp.scheme = "https"
        cp.env.update({"PORTICO_ADMIN_LISTEN": "127.0.0.1:%d ssl" % port,
                       "PORTICO_ADMIN_SSL_CERT": cert, "PORTICO_ADMIN_SSL_CERT_KEY": key})
        cp.start()
        try:
            r = cp.admin("POST", "/services", form={"name": "tls-svc", "host": "t.test"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(cp.admin("GET", "/services/tls-svc").json()["host"], "t.test")
            # plain HTTP on the TLS port gets no HTTP answer
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /services HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    data = s.recv(100)
                except (ConnectionResetError, socket.timeout):
                    data = b""
                self.assertFalse(data.startswith(b"HTTP/1.1 200"))
        finally:
            cp.stop()

    def test_ssl_without_certificate_fails_to_start(self):
        cp = h.ControlPlane(start=False)
        cp.env["PORTICO_ADMIN_LISTEN"] = "127.0.0.1:%d ssl" % h.free_port()
        r = h.run_cmd([h.CP_BIN], env=cp.env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("admin_ssl_cert", r.stderr)


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp = h.ControlPlane(env={"PORTICO_ADMIN_MAX_BODY_SIZE": "2k"})

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def test_body_size(self):
        r = self.cp.admin("POST", "/services", json_body={"name": "big", "host": "b.test",
                                                          "tags": ["x" * 100] * 30})
        self.assertEqual(r.status, 413)
        self.assertEqual(self.cp.admin("GET", "/services/big").status, 404)
        r = self.cp.admin("POST", "/services", json_body={"name": "small", "host": "s.test"})
        self.assertEqual(r.status, 201)

    def test_url_and_headers(self):
        r = self.cp.admin("GET", "/services/" + "a" * 9000)
        self.assertEqual(r.status, 414)
        with socket.create_connection(("127.0.0.1", self.cp.admin_port), timeout=5) as s:
            s.sendall(b"GET /services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 70000 +
                      b"\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:100])
        # the server still works
        self.assertEqual(self.cp.admin("GET", "/status").status, 200)

    def test_content_types_and_options(self):
        r = self.cp.admin("POST", "/services", body=b"host=x.test",
                          headers={"Content-Type": "application/xml"})
        self.assertEqual(r.status, 415)
        r = self.cp.admin("POST", "/services", body=b"host=x.test")  # no content type
        self.assertEqual(r.status, 415)
        # Kong's preflight answer: the methods of that path, alphabetical (23-cors_spec.lua).
        r = self.cp.admin("OPTIONS", "/services")
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS, POST")
        self.assertEqual(r.header("Allow"), "GET, HEAD, OPTIONS, POST")
        r = self.cp.admin("OPTIONS", "/services/x")
        self.assertEqual(r.header("Allow"), "DELETE, GET, HEAD, OPTIONS, PATCH, PUT")
        self.assertEqual(r.header("Access-Control-Allow-Headers"), "Content-Type")
        r = self.cp.admin("GET", "/services")
        self.assertTrue(r.header("Content-Type").startswith("application/json"))

    def test_status_counts_connections(self):
        import http.client
        conns = []
        for _ in range(3):  # three keep-alive connections that stay open
            c = http.client.HTTPConnection("127.0.0.1", self.cp.admin_port, timeout=5)
            c.request("GET", "/status")
            c.getresponse().read()
            conns.append(c)
        server = self.cp.admin("GET", "/status").json()["server"]
        self.assertGreaterEqual(server["connections_active"], 4)
        for c in conns:
            c.close()

        def settled():
            return self.cp.admin("GET", "/status").json()["server"]["connections_active"] <= 2
        h.wait_for(settled, timeout=5, what="closed connections to leave the count")
        self.assertGreaterEqual(server["total_requests"], 4)


if __name__ == "__main__":
    h.main()
