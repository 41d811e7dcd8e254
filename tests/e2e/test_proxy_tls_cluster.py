# tests/e2e/test_proxy_tls_cluster.py: HTTPS certificates managed through the Admin API in hybrid
# mode: a certificate with SNIs created on the control plane is served by the data plane, and
# rotating it (PATCH /certificates/{id}) under load fails no handshake and drops no kept
# connection; an https-only route created through the Admin API answers 426 over plain HTTP.
import http.client
import threading
import unittest

import cluster_util as cu
import harness as h
from test_proxy_tls import Certs, TLSConn, client_ctx, served, subject

import socket


class ClusterTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        certs = Certs()
        cls.v1 = certs.leaf("rot.test", "admin-v1", "DNS:rot.test")
        cls.v2 = certs.leaf("rot.test", "admin-v2", "DNS:rot.test")
        cls.up = h.Upstream("admin-up")
        cls.cp = h.ControlPlane()
        cls.http_port, cls.tls_port = h.free_port(), h.free_port()
        cls.dp = cu.start_dp([cls.cp.cluster_port], cls.cp.cluster_cert, cls.cp.cluster_key,
                             extra={"PORTICO_PROXY_LISTEN": "127.0.0.1:%d, 127.0.0.1:%d ssl"
                                    % (cls.http_port, cls.tls_port)})
        h.wait_port(cls.tls_port)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for p in (cls.dp, cls.cp):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        cls.up.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def admin(self, method, path, body, expect):
        r = self.cp.admin(method, path, json_body=body)
        self.assertEqual(r.status, expect, r.text)
        return r.json()

    def test_certificate_rotation_through_the_admin_api(self):
        self.admin("POST", "/services", {"name": "svc",
                                         "url": "http://127.0.0.1:%d" % self.up.port}, 201)
        self.admin("POST", "/services/svc/routes", {"name": "r", "paths": ["/"]}, 201)
        self.admin("POST", "/services/svc/routes",
                   {"name": "secure", "paths": ["/secure"], "protocols": ["https"]}, 201)
        cert = self.admin("POST", "/certificates", {"cert": self.v1[0], "key": self.v1[1],
                                                    "snis": ["rot.test"]}, 201)
        h.wait_for(lambda: served(self.tls_port, "rot.test") == "CN=rot.test,O=admin-v1", 20,
                   what="certificate v1 served")
        r = h.request("GET", "http://127.0.0.1:%d/secure" % self.http_port)
        self.assertEqual(r.status, 426)

        stop = threading.Event()
        ders, fails, reqs = set(), [], [0]

        def handshakes():
            ctx = client_ctx()
            while not stop.is_set():
                try:
                    raw = socket.create_connection(("127.0.0.1", self.tls_port), 5)
                    with ctx.wrap_socket(raw, server_hostname="rot.test") as s:
                        ders.add(s.getpeercert(binary_form=True))
                except OSError as e:
                    fails.append(repr(e))

        def requests():
            c = TLSConn(self.tls_port, "rot.test")
            sock = None
            while not stop.is_set():
                try:
                    status, _, _ = c.get("/secure")
                    if status != 200:
                        fails.append("status %d" % status)
                    if sock is not None and c.sock is not sock:
                        fails.append("kept connection was closed")
                    sock = c.sock
                    reqs[0] += 1
                except (OSError, http.client.HTTPException) as e:
                    fails.append(repr(e))
            c.close()

        threads = [threading.Thread(target=f) for f in (handshakes, handshakes, requests)]
        for t in threads:
            t.start()
        try:
            for pair, org in ((self.v2, "admin-v2"), (self.v1, "admin-v1"),
                              (self.v2, "admin-v2")):
                self.admin("PATCH", "/certificates/" + cert["id"],
                           {"cert": pair[0], "key": pair[1]}, 200)
                h.wait_for(lambda: served(self.tls_port, "rot.test") == "CN=rot.test,O=" + org,
                           20, what="certificate %s served" % org)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(fails, [])
        self.assertGreater(reqs[0], 0)
        self.assertEqual(sorted(subject(d) for d in ders),
                         ["CN=rot.test,O=admin-v1", "CN=rot.test,O=admin-v2"])


if __name__ == "__main__":
    unittest.main()
