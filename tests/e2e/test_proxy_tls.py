# tests/e2e/test_proxy_tls.py: HTTPS on the data plane end to end with certificates made by the
# openssl CLI: certificate choice per SNI (exact, *.x and x.* wildcards, the default), RSA and
# ECDSA pairs, a certificate changed by a new config while a keep-alive connection stays up,
# https-only routes (426 and redirects), snis routing, X-Forwarded-Proto, and TLS to upstreams
# (verification success and failure, upstream mutual TLS at service and upstream level, SNI).
import http.client
import json
import os
import socket
import ssl
import subprocess
import threading
import unittest
import uuid
from http.server import ThreadingHTTPServer

import harness as h

SUBJ_DEFAULT = "CN=localhost,O=Portico,C=US"


class Certs:
    """A throwaway CA and leaf certificates signed by it, made with the openssl CLI."""

    def __init__(self, name="Test CA"):
        self.dir = h.make_tmpdir("certs-")
        self.ca_crt, self.ca_key = self._path("ca.crt"), self._path("ca.key")
        self._run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key,
                   "-out", self.ca_crt, "-subj", "/CN=" + name, "-days", "2"])

    def _path(self, n):
        return os.path.join(self.dir, n)

    def _run(self, args):
        subprocess.run(["openssl"] + args, check=True, capture_output=True)

    def leaf(self, label, org, sans, ec=False):
        """Returns (cert PEM, key PEM) for subject O=org,CN=label with subjectAltName sans."""
        key, csr, crt, ext = (self._path(label + s) for s in (".key", ".csr", ".crt", ".ext"))
        kopt = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if ec
                else ["-newkey", "rsa:2048"])
        self._run(["req"] + kopt + ["-nodes", "-keyout", key, "-out", csr,
                                    "-subj", "/O=%s/CN=%s" % (org, label)])
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % sans)
        self._run(["x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key,
                   "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
        with open(crt) as c, open(key) as k:
            return c.read(), k.read()

    def ca_pem(self):
        with open(self.ca_crt) as f:
            return f.read()


def subject(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-nameopt",
                          "RFC2253"], input=der, capture_output=True, check=True).stdout
    return out.decode().strip()[len("subject="):]


def client_ctx(tls12_ciphers=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12_ciphers:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(tls12_ciphers)
    return ctx


class TLSConn(http.client.HTTPConnection):
    """HTTP/1.1 over TLS to 127.0.0.1:port with any SNI (None = no SNI)."""

    def __init__(self, port, sni, ctx=None, timeout=10):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.sni = sni
        self.ctx = ctx or client_ctx()

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self.ctx.wrap_socket(raw, server_hostname=self.sni)

    def served_subject(self):
        return subject(self.sock.getpeercert(binary_form=True))

    def get(self, path, host=None):
        self.request("GET", path, headers={"Host": host or self.sni or "127.0.0.1"})
        r = self.getresponse()
        body = r.read()
        return r.status, dict(r.getheaders()), body


def served(port, sni, ctx=None):
    c = TLSConn(port, sni, ctx)
    try:
        c.connect()
        return c.served_subject()
    finally:
        c.close()


class TLSUpstream:
    """harness.Upstream's JSON echo handler behind TLS. client_ca: require a client certificate
    signed by it. snis: the server names clients sent."""

    def __init__(self, name, cert, key, client_ca=None):
        self.port = h.free_port()
        self.snis = []
        self.resumed = []  # per connection: was the TLS session resumed
        d = h.make_tmpdir("up-")
        cf, kf = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        with open(cf, "w") as f:
            f.write(cert)
        with open(kf, "w") as f:
            f.write(key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cf, kf)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        ctx.sni_callback = lambda s, n, c: self.snis.append(n) and None
        outer = self

        class Handler(h._UpstreamHandler):
            def setup(self):
                self.request.do_handshake()
                outer.resumed.append(self.request.session_reused)
                super().setup()

        class Server(ThreadingHTTPServer):
            def get_request(self):
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.name = name
        self.httpd.lock = threading.Lock()
        self.httpd.hits = 0
        self.httpd.requests = []
        self.httpd.status = 200
        self.httpd.delay = 0
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self):
        return self.httpd.hits

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def uid():
    return str(uuid.uuid4())


class ProxyTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certs()
        c = cls.certs
        cls.pem = {
            "a": c.leaf("a.test", "cert-a", "DNS:a.test"),
            "wild": c.leaf("any.wild.test", "cert-wild", "DNS:*.wild.test"),
            "shop": c.leaf("shop.any", "cert-shop", "DNS:shop.example"),
            "rsa": c.leaf("dual.test", "dual-rsa", "DNS:dual.test"),
            "ecdsa": c.leaf("dual.test", "dual-ecdsa", "DNS:dual.test", ec=True),
            "rot1": c.leaf("rot.test", "rot-v1", "DNS:rot.test"),
            "rot2": c.leaf("rot.test", "rot-v2", "DNS:rot.test"),
        }
        cls.up = h.Upstream("plain-up")
        cls.up_b = h.Upstream("other-up")
        cls.ids = {k: uid() for k in ("a", "wild", "shop", "dual", "rot")}
        cls.http_port = h.free_port()
        cls.tls_port = h.free_port()
        cls.dp = h.DataPlane(cls.config("rot1"), proxy_port=cls.http_port, extra_env={
            "PORTICO_PROXY_LISTEN": "127.0.0.1:%d, 127.0.0.1:%d ssl" % (cls.http_port,
                                                                         cls.tls_port)})
        h.wait_port(cls.tls_port)
        cls.revision = 1

    @classmethod
    def config(cls, rot):
        p = cls.pem
        i = cls.ids

        def cert(key, pair, alt=None):
            e = {"id": i[key], "cert": pair[0], "key": pair[1]}
            if alt:
                e["cert_alt"], e["key_alt"] = alt
            return e

        def sni(name, key):
            return {"id": uid(), "name": name, "certificate": {"id": i[key]}}

        return {
            "services": [
                {"name": "s", "host": "127.0.0.1", "port": cls.up.port},
                {"name": "b", "host": "127.0.0.1", "port": cls.up_b.port},
            ],
            "routes": [
                {"name": "any", "service": "s", "paths": ["/"]},
                {"name": "https-only", "service": "s", "paths": ["/secure"],
                 "protocols": ["https"]},
                {"name": "redirect", "service": "s", "paths": ["/moved"],
                 "protocols": ["https"], "https_redirect_status_code": 301},
                {"name": "by-sni", "service": "b", "paths": ["/sni"], "snis": ["a.test"]},
                {"name": "by-wild-sni", "service": "b", "paths": ["/sni"],
                 "snis": ["*.wild.test"]},
            ],
            "certificates": [cert("a", p["a"]), cert("wild", p["wild"]),
                             cert("shop", p["shop"]), cert("dual", p["rsa"], p["ecdsa"]),
                             cert("rot", p[rot])],
            "snis": [sni("a.test", "a"), sni("*.wild.test", "wild"), sni("shop.*", "shop"),
                     sni("dual.test", "dual"), sni("rot.test", "rot")],
        }

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.up.stop()
        cls.up_b.stop()

    def test_certificate_per_sni(self):
        port = self.tls_port
        self.assertEqual(served(port, "a.test"), "CN=a.test,O=cert-a")
        self.assertEqual(served(port, "A.Test"), "CN=a.test,O=cert-a")
        self.assertEqual(served(port, "x.wild.test"), "CN=any.wild.test,O=cert-wild")
        self.assertEqual(served(port, "shop.example"), "CN=shop.any,O=cert-shop")
        self.assertEqual(served(port, "shop.other"), "CN=shop.any,O=cert-shop")
        # the wildcard covers one label only, as Kong's
        self.assertEqual(served(port, "x.y.wild.test"), SUBJ_DEFAULT)
        self.assertEqual(served(port, "unknown.test"), SUBJ_DEFAULT)
        self.assertEqual(served(port, None), SUBJ_DEFAULT)

    def test_rsa_and_ecdsa(self):
        port = self.tls_port
        ecdsa = client_ctx("ECDHE-ECDSA-AES128-GCM-SHA256")
        rsa = client_ctx("ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(served(port, "dual.test", ecdsa), "CN=dual.test,O=dual-ecdsa")
        self.assertEqual(served(port, "dual.test", rsa), "CN=dual.test,O=dual-rsa")
        # the default pair is RSA and ECDSA too
        self.assertEqual(served(port, "nobody.test", ecdsa), SUBJ_DEFAULT)
        self.assertEqual(served(port, "nobody.test", rsa), SUBJ_DEFAULT)
        c = TLSConn(port, "dual.test", ecdsa)
        status, _, _ = c.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(c.sock.version(), "TLSv1.2")
        c.close()

    def test_tls13_alpn_and_forwarded_headers(self):
        ctx = client_ctx()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        c = TLSConn(self.tls_port, "a.test", ctx)
        status, _, body = c.get("/echo")
        self.assertEqual(status, 200)
        self.assertEqual(c.sock.version(), "TLSv1.3")
        self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")
        sent = json.loads(body)["headers"]
        self.assertEqual(sent["X-Forwarded-Proto"], "https")
        self.assertEqual(sent["X-Forwarded-Port"], str(self.tls_port))
        c.close()
        r = h.request("GET", "http://127.0.0.1:%d/echo" % self.http_port)
        self.assertEqual(r.json()["headers"]["X-Forwarded-Proto"], "http")

    def test_plain_http_on_tls_port(self):
        r = h.request("GET", "http://127.0.0.1:%d/" % self.tls_port)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["message"], "The plain HTTP request was sent to HTTPS port")

    def test_h2_only_client_gets_no_alpn(self):
        ctx = client_ctx()
        ctx.set_alpn_protocols(["h2"])
        c = TLSConn(self.tls_port, "a.test", ctx)
        c.connect()
        self.assertIsNone(c.sock.selected_alpn_protocol())
        c.close()

    def test_https_only_routes(self):
        r = h.request("GET", "http://127.0.0.1:%d/secure/x" % self.http_port,
                      headers={"Host": "a.test"})
        self.assertEqual(r.status, 426)
        self.assertEqual(r.json()["message"], "Please use HTTPS protocol")
        self.assertEqual(r.header("Upgrade"), "TLS/1.2, HTTP/1.1")
        self.assertEqual(r.header("Connection"), "Upgrade")
        r = h.request("GET", "http://127.0.0.1:%d/moved/y?q=1" % self.http_port,
                      headers={"Host": "a.test"})
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "https://a.test/moved/y?q=1")
        c = TLSConn(self.tls_port, "a.test")
        status, _, body = c.get("/secure/x")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["server"], "plain-up")
        c.close()

    def test_snis_routing(self):
        def server(sni):
            c = TLSConn(self.tls_port, sni)
            status, _, body = c.get("/sni", host="whatever.test")
            c.close()
            self.assertEqual(status, 200)
            return json.loads(body)["server"]

        self.assertEqual(server("a.test"), "other-up")
        self.assertEqual(server("q.wild.test"), "other-up")
        self.assertEqual(server("b.test"), "plain-up")
        self.assertEqual(server(None), "plain-up")
        r = h.request("GET", "http://127.0.0.1:%d/sni" % self.http_port,
                      headers={"Host": "a.test"})
        self.assertEqual(r.json()["server"], "plain-up")

    def test_zz_certificate_change_without_restart(self):
        keep = TLSConn(self.tls_port, "rot.test")
        status, _, _ = keep.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(keep.served_subject(), "CN=rot.test,O=rot-v1")
        sock = keep.sock
        type(self).revision += 1
        self.dp.reload(self.config("rot2"), self.revision)
        self.assertEqual(served(self.tls_port, "rot.test"), "CN=rot.test,O=rot-v2")
        # the connection made before the change is still up and still served
        status, _, _ = keep.get("/")
        self.assertEqual(status, 200)
        self.assertIs(keep.sock, sock)
        keep.close()
        # the other certificates came along unchanged
        self.assertEqual(served(self.tls_port, "a.test"), "CN=a.test,O=cert-a")

    def test_zzz_rotation_under_load(self):
        """New handshakes and requests on kept connections run while certificates change: no
        handshake and no request fails, and both certificates were served."""
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
                    status, _, _ = c.get("/")
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
            for rot in ("rot1", "rot2", "rot1", "rot2"):
                type(self).revision += 1
                self.dp.reload(self.config(rot), self.revision)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(fails, [])
        self.assertGreater(reqs[0], 0)
        self.assertEqual(sorted(subject(d) for d in ders),
                         ["CN=rot.test,O=rot-v1", "CN=rot.test,O=rot-v2"])

    def test_session_resumption(self):
        ctx = client_ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c1 = TLSConn(self.tls_port, "a.test", ctx)
        c1.get("/")
        sess = c1.sock.session
        c1.close()
        raw = socket.create_connection(("127.0.0.1", self.tls_port), 10)
        s2 = ctx.wrap_socket(raw, server_hostname="a.test", session=sess)
        self.assertTrue(s2.session_reused)
        s2.close()


class TLSSettingsTest(unittest.TestCase):
    def run_dp(self, **env):
        prefix = h.make_tmpdir("dp-")
        port = h.free_port()
        e = dict(os.environ)
        e.update({"PORTICO_PREFIX": prefix, "PORTICO_STATUS_LISTEN": "off",
                  "PORTICO_PROXY_LISTEN": "127.0.0.1:%d ssl" % port})
        e.update(env)
        r = subprocess.run([h.DP_BIN], env=e, capture_output=True, timeout=30, text=True)
        for m in h.SANITIZER_MARKERS:
            self.assertNotIn(m, r.stderr)
        return r

    def test_bad_settings_stop_the_start(self):
        r = self.run_dp(PORTICO_SSL_CIPHER_SUITE="strong")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ssl_cipher_suite", r.stderr)
        r = self.run_dp(PORTICO_SSL_PROTOCOLS="TLSv1.2 SSLv3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ssl_protocols", r.stderr)
        r = self.run_dp(PORTICO_SSL_CIPHER_SUITE="custom")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ssl_ciphers", r.stderr)
        r = self.run_dp(PORTICO_SSL_CERT="/nonexistent.crt", PORTICO_SSL_CERT_KEY="/nonexistent.key")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ssl_cert", r.stderr)

    def test_configured_default_certificate_and_protocols(self):
        certs = Certs()
        cert, key = certs.leaf("default.test", "configured", "DNS:default.test")
        d = h.make_tmpdir("pem-")
        cf, kf = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        with open(cf, "w") as f:
            f.write(cert)
        with open(kf, "w") as f:
            f.write(key)
        http_port, tls_port = h.free_port(), h.free_port()
        dp = h.DataPlane({}, proxy_port=http_port, extra_env={
            "PORTICO_PROXY_LISTEN": "127.0.0.1:%d, 127.0.0.1:%d ssl" % (http_port, tls_port),
            "PORTICO_SSL_CERT": cf, "PORTICO_SSL_CERT_KEY": kf,
            "PORTICO_SSL_CIPHER_SUITE": "modern"})
        try:
            h.wait_port(tls_port)
            self.assertEqual(served(tls_port, "x.test"), "CN=default.test,O=configured")
            # modern: TLS 1.3 only
            with self.assertRaises(ssl.SSLError):
                served(tls_port, "x.test", client_ctx("ECDHE-RSA-AES128-GCM-SHA256"))
        finally:
            dp.stop()


class UpstreamSessionReuseTest(unittest.TestCase):
    def test_new_upstream_connections_resume_the_tls_session(self):
        certs = Certs()
        cert, key = certs.leaf("up.test", "upstream", "DNS:up.test,IP:127.0.0.1")
        up = TLSUpstream("resume-up", cert, key)
        ca_id = uid()
        cfg = {"services": [{"name": "s", "protocol": "https", "host": "127.0.0.1",
                             "port": up.port, "tls_verify": True, "ca_certificates": [ca_id]}],
               "routes": [{"name": "r", "service": "s", "paths": ["/"]}],
               "ca_certificates": [{"id": ca_id, "cert": certs.ca_pem()}]}
        # no keep-alive pool: every request opens a new upstream connection
        dp = h.DataPlane(cfg, extra_env={"PORTICO_UPSTREAM_KEEPALIVE_POOL_SIZE": "0"})
        try:
            for _ in range(3):
                self.assertEqual(dp.get("/x").status, 200)
            self.assertEqual(len(up.resumed), 3)
            self.assertFalse(up.resumed[0])
            self.assertTrue(up.resumed[1])
            self.assertTrue(up.resumed[2])
        finally:
            dp.stop()
            up.stop()


class ForwardedProtoTest(unittest.TestCase):
    def test_trusted_x_forwarded_proto_https_passes_https_only_routes(self):
        up = h.Upstream("fp")
        cfg = {"services": [{"name": "s", "host": "127.0.0.1", "port": up.port}],
               "routes": [{"name": "r", "service": "s", "paths": ["/"],
                           "protocols": ["https"]}]}
        trusting = h.DataPlane(cfg, extra_env={"PORTICO_TRUSTED_IPS": "127.0.0.1"})
        plain = h.DataPlane(cfg)
        try:
            fwd = {"X-Forwarded-Proto": "https"}
            r = trusting.get("/x", headers=fwd)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["headers"]["X-Forwarded-Proto"], "https")
            self.assertEqual(trusting.get("/x").status, 426)
            self.assertEqual(plain.get("/x", headers=fwd).status, 426)
        finally:
            trusting.stop()
            plain.stop()
            up.stop()


class UpstreamTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certs("Upstream CA")
        cls.other = Certs("Other CA")
        cls.clients = Certs("Client CA")
        cert, key = cls.certs.leaf("up.test", "upstream", "DNS:up.test,IP:127.0.0.1")
        cls.up = TLSUpstream("tls-up", cert, key)
        cls.mtls = TLSUpstream("mtls-up", cert, key, client_ca=cls.clients.ca_crt)
        ccert, ckey = cls.clients.leaf("portico-client", "client", "DNS:portico-client")
        ca_id, other_id, client_id = uid(), uid(), uid()
        cfg = {
            "services": [
                {"name": "verify-ok", "protocol": "https", "host": "127.0.0.1",
                 "port": cls.up.port, "tls_verify": True, "ca_certificates": [ca_id]},
                {"name": "verify-bad", "protocol": "https", "host": "127.0.0.1",
                 "port": cls.up.port, "tls_verify": True, "ca_certificates": [other_id],
                 "retries": 0},
                {"name": "no-verify", "protocol": "https", "host": "127.0.0.1",
                 "port": cls.up.port},
                {"name": "mtls-svc", "protocol": "https", "host": "127.0.0.1",
                 "port": cls.mtls.port, "client_certificate": {"id": client_id},
                 "tls_verify": True, "ca_certificates": [ca_id]},
                {"name": "mtls-none", "protocol": "https", "host": "127.0.0.1",
                 "port": cls.mtls.port, "retries": 0},
                {"name": "mtls-upstream", "protocol": "https", "host": "mtls-pool"},
                {"name": "by-name", "protocol": "https", "host": "named-pool",
                 "tls_verify": True, "ca_certificates": [ca_id]},
            ],
            "upstreams": [
                {"name": "mtls-pool", "client_certificate": {"id": client_id}},
                {"name": "named-pool", "host_header": "up.test"},
            ],
            "targets": [
                {"upstream": "mtls-pool", "target": "127.0.0.1:%d" % cls.mtls.port},
                {"upstream": "named-pool", "target": "127.0.0.1:%d" % cls.up.port},
            ],
            "routes": [
                {"name": n, "service": n, "paths": ["/" + n]}
                for n in ("verify-ok", "verify-bad", "no-verify", "mtls-svc", "mtls-none",
                          "mtls-upstream", "by-name")
            ],
            "certificates": [{"id": client_id, "cert": ccert, "key": ckey}],
            "ca_certificates": [{"id": ca_id, "cert": cls.certs.ca_pem()},
                                {"id": other_id, "cert": cls.other.ca_pem()}],
        }
        http_port, cls.tls_port = h.free_port(), h.free_port()
        cls.dp = h.DataPlane(cfg, proxy_port=http_port, workers=2, extra_env={
            "PORTICO_PROXY_LISTEN": "127.0.0.1:%d, 127.0.0.1:%d ssl" % (http_port, cls.tls_port)})
        h.wait_port(cls.tls_port)

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.up.stop()
        cls.mtls.stop()

    def test_large_bodies_through_both_tls_legs(self):
        import hashlib
        c = TLSConn(self.tls_port, "big.test")
        n = 5 * 1024 * 1024 + 123
        c.request("GET", "/verify-ok/_bytes/%d" % n, headers={"Host": "big.test"})
        r = c.getresponse()
        data = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(data), n)
        self.assertEqual(data, ((bytes(range(256)) * 256) * (n // 65536 + 1))[:n])
        body = os.urandom(3 * 1024 * 1024 + 7)
        c.request("POST", "/verify-ok/_sink", body=body, headers={"Host": "big.test"})
        r = c.getresponse()
        got = json.loads(r.read())
        self.assertEqual(got["length"], len(body))
        self.assertEqual(got["sha256"], hashlib.sha256(body).hexdigest())
        c.close()

    def test_verified_upstream(self):
        r = self.dp.get("/verify-ok/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["server"], "tls-up")
        self.assertEqual(r.json()["path"], "/x")
        # keep-alive: a second request reuses the pooled TLS connection
        self.assertEqual(self.dp.get("/verify-ok/y").status, 200)

    def test_verification_failure_is_502(self):
        r = self.dp.get("/verify-bad/x")
        self.assertEqual(r.status, 502)
        h.wait_for(lambda: "certificate verify failed" in self.dp.proc.output(), 5,
                   what="verify failure log line")
        self.assertIn("upstream TLS handshake failed", self.dp.proc.output())

    def test_unverified_upstream(self):
        self.assertEqual(self.dp.get("/no-verify/x").status, 200)

    def test_upstream_mtls(self):
        r = self.dp.get("/mtls-svc/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["server"], "mtls-up")
        self.assertEqual(self.dp.get("/mtls-none/x").status, 502)
        r = self.dp.get("/mtls-upstream/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["server"], "mtls-up")

    def test_sni_is_upstream_host(self):
        r = self.dp.get("/by-name/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["headers"]["Host"].split(":")[0], "up.test")
        self.assertIn("up.test", self.up.snis)


if __name__ == "__main__":
    unittest.main()
