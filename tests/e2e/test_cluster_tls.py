# tests/e2e/test_cluster_tls.py: mutual TLS of the cluster link with real processes: pki mode
# (gen-cert --ca / issue), and every refusal: no client certificate, a certificate from another
# CA (the libwebsockets verification trap), an expired certificate, a common name outside
# cluster_allowed_common_names, a control plane with the wrong server name, a shared-mode data
# plane with another certificate. Each refusal is logged by the side that refused, naming why,
# and the refused data plane never gets configuration.
import os
import socket
import ssl
import time
import unittest

import cluster_util as cu
import harness

P = harness.CP_BIN


def pki(directory):
    """A CA, a control plane certificate (cp.example + 127.0.0.1) and data plane certificates:
    dp1 (valid), dp-expired, and dp1 from an unrelated CA (other/)."""
    def run(*args, cwd=directory):
        r = harness.run_cmd([P, "gen-cert"] + list(args), cwd=cwd)
        assert r.returncode == 0, r.stderr
    run("--ca")
    issue = ["issue", "--ca-cert", "cluster-ca.crt", "--ca-key", "cluster-ca.key"]
    run(*issue, "--cn", "cp.example", "--san", "127.0.0.1")
    run(*issue, "--cn", "dp1")
    run(*issue, "--cn", "dp-expired", "--expired")
    other = os.path.join(directory, "other")
    os.mkdir(other)
    run("--ca", cwd=other)
    run(*issue, "--cn", "dp1", cwd=other)
    return lambda *p: os.path.join(directory, *p)


class Base(unittest.TestCase):
    def setUp(self):
        self.db = cu.setup_database()
        self.rev, _ = cu.put_entity(self.db, "services", cu.service())
        self.dir = harness.make_tmpdir()
        self.procs = []

    def tearDown(self):
        errors = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def track(self, p):
        self.procs.append(p)
        return p

    def assert_never_configured(self, dp, seconds=2.5):
        time.sleep(seconds)
        self.assertNotIn("applied snapshot", dp.output())
        self.assertNotIn("connected to control plane address", dp.output())
        self.assertEqual(cu.registry(self.db), [])


class PkiMode(Base):
    def setUp(self):
        super().setUp()
        self.f = pki(self.dir)

    def cp(self, extra=None):
        env = {"PORTICO_CLUSTER_MTLS": "pki", "PORTICO_CLUSTER_CA_CERT": self.f("cluster-ca.crt")}
        env.update(extra or {})
        return self.track(cu.start_cp(self.db, self.f("cp.example.crt"), self.f("cp.example.key"),
                                      extra=env))

    def dp(self, cp, crt, key, server_name="cp.example", name="dp"):
        return self.track(cu.start_dp([cp.cluster_port], crt, key, name=name, extra={
            "PORTICO_CLUSTER_MTLS": "pki", "PORTICO_CLUSTER_CA_CERT": self.f("cluster-ca.crt"),
            "PORTICO_CLUSTER_SERVER_NAME": server_name}))

    def test_pki_accepts_a_certificate_of_the_ca(self):
        cp = self.cp()
        d = self.dp(cp, self.f("dp1.crt"), self.f("dp1.key"))
        n = cu.node_id(d)
        r = cu.wait_applied(self.db, n, self.rev)
        self.assertTrue(r["connected"])
        self.assertIn("cn=dp1", cp.output())

    def test_certificate_from_another_ca_is_refused(self):
        # the libwebsockets trap: REQUIRE_VALID_OPENSSL_CLIENT_CERT alone accepts this one
        cp = self.cp()
        d = self.dp(cp, self.f("other", "dp1.crt"), self.f("other", "dp1.key"))
        harness.wait_for(lambda: "control plane refused data plane certificate" in cp.output(),
                         what="cp refusal log")
        self.assertIn('reason="unable to get local issuer certificate"', cp.output())
        harness.wait_for(lambda: "refused this data plane's certificate" in d.output(),
                         what="dp log of the refusal")
        self.assert_never_configured(d)

    def test_expired_certificate_is_refused(self):
        cp = self.cp()
        d = self.dp(cp, self.f("dp-expired.crt"), self.f("dp-expired.key"))
        harness.wait_for(lambda: 'reason="certificate has expired"' in cp.output(),
                         what="cp refusal log")
        self.assertIn("subject=\"/CN=dp-expired\"", cp.output())
        harness.wait_for(lambda: "refused this data plane's certificate" in d.output(),
                         what="dp log of the refusal")
        self.assert_never_configured(d)

    def test_common_name_not_allowed_is_refused(self):
        cp = self.cp({"PORTICO_CLUSTER_ALLOWED_COMMON_NAMES": "dp7, dp8"})
        d = self.dp(cp, self.f("dp1.crt"), self.f("dp1.key"))
        harness.wait_for(lambda: "common name not in cluster_allowed_common_names" in
                         cp.output(), what="cp refusal log")
        self.assertIn('cn="dp1"', cp.output())
        self.assert_never_configured(d)

    def test_common_name_allowed_is_accepted(self):
        cp = self.cp({"PORTICO_CLUSTER_ALLOWED_COMMON_NAMES": "dp7,dp1"})
        d = self.dp(cp, self.f("dp1.crt"), self.f("dp1.key"))
        cu.wait_applied(self.db, cu.node_id(d), self.rev)

    def test_wrong_server_name_is_refused_by_the_data_plane(self):
        cp = self.cp()
        d = self.dp(cp, self.f("dp1.crt"), self.f("dp1.key"), server_name="wrong.example")
        harness.wait_for(lambda: "data plane refused control plane certificate" in d.output(),
                         what="dp refusal log")
        self.assertIn("hostname mismatch", d.output())
        self.assert_never_configured(d)
        self.assertNotIn("data plane connected", cp.output())


class SharedRefusals(Base):
    def setUp(self):
        super().setUp()
        self.crt, self.key = cu.shared_certs(self.dir)
        self.cp = self.track(cu.start_cp(self.db, self.crt, self.key))

    def test_client_without_certificate_is_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.crt)
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", self.cp.cluster_port), timeout=5) as s:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                with ctx.wrap_socket(s) as t:
                    t.sendall(b"GET /v1/cluster HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              b"Sec-WebSocket-Version: 13\r\n\r\n")
                    data = t.recv(100)
                    if not data:
                        raise ConnectionError("closed")
        harness.wait_for(lambda: "control plane refused TLS connection" in self.cp.output(),
                         what="cp log of the refusal")
        self.assertIn("certificate required", self.cp.output())

    def test_data_plane_with_another_certificate_is_refused_by_the_control_plane(self):
        # This data plane trusts the control plane (pki mode with the shared certificate as CA)
        # but presents a different certificate: the control plane must refuse it.
        other = harness.make_tmpdir()
        ocrt, okey = cu.shared_certs(other)
        d = self.track(cu.start_dp([self.cp.cluster_port], ocrt, okey, extra={
            "PORTICO_CLUSTER_MTLS": "pki", "PORTICO_CLUSTER_CA_CERT": self.crt,
            "PORTICO_CLUSTER_SERVER_NAME": "portico_clustering"}))
        harness.wait_for(lambda: "control plane refused data plane certificate" in
                         self.cp.output(), what="cp refusal log")
        self.assertIn("mode=shared", self.cp.output())
        harness.wait_for(lambda: "refused this data plane's certificate" in d.output(),
                         what="dp refusal log")
        self.assert_never_configured(d)

    def test_shared_data_plane_with_another_certificate_refuses_the_control_plane(self):
        other = harness.make_tmpdir()
        ocrt, okey = cu.shared_certs(other)
        d = self.track(cu.start_dp([self.cp.cluster_port], ocrt, okey))
        harness.wait_for(lambda: "data plane refused control plane certificate" in d.output(),
                         what="dp refusal log")
        self.assertIn("self-signed certificate", d.output())
        self.assert_never_configured(d)

    def test_plain_http_and_wrong_path_get_nothing(self):
        with socket.create_connection(("127.0.0.1", self.cp.cluster_port), timeout=5) as s:
            s.sendall(b"GET /v1/cluster HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except ConnectionError:
                data = b""
            self.assertNotIn(b"200", data)


if __name__ == "__main__":
    harness.main()
