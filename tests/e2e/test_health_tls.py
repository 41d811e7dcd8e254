# tests/e2e/test_health_tls.py: active health checks of type https use the data plane's upstream
# TLS settings (certificates made by the test with the openssl CLI): the upstream's
# client_certificate is presented to a target that requires one (HEALTHY with the right
# certificate, UNHEALTHY without it or with one the target does not trust, and back to HEALTHY
# when the next config carries the right one), https_verify_certificate against an untrusted
# target (UNHEALTHY) or off (HEALTHY), trust in the CA certificates of the services that reach
# the upstream, the SNI sent (https_sni, else host_header, else the target name), and a client
# certificate rotated through the Admin API in hybrid mode.
import time
import unittest
import uuid

import cluster_util as cu
import harness as h
from test_proxy_tls import Certs, TLSUpstream

INTERVAL = 0.2


def uid():
    return str(uuid.uuid4())


def hc(verify=None, sni=None, path="/probe"):
    a = {"type": "https", "http_path": path, "timeout": 1,
         "healthy": {"interval": INTERVAL, "successes": 1},
         "unhealthy": {"interval": INTERVAL, "tcp_failures": 1, "http_failures": 1,
                       "timeouts": 1}}
    if verify is not None:
        a["https_verify_certificate"] = verify
    if sni is not None:
        a["https_sni"] = sni
    return {"active": a}


def upstream(name, target_port, checks, **extra):
    """An upstream entity and its single target 127.0.0.1:<target_port>."""
    u = {"name": name, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "healthchecks": checks}
    u.update(extra)
    t = {"upstream": name, "target": "127.0.0.1:%d" % target_port,
         "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name + "/t"))}
    return u, t


def target_health(status_port, name):
    r = h.request("GET", "http://127.0.0.1:%d/upstreams/%s/health" % (status_port, name))
    if r.status != 200:
        return None
    data = r.json()["data"]
    return data[0]["health"] if data else None


def probes(up, path):
    return sum(1 for r in list(up.httpd.requests) if r["path"] == path)


class HealthTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certs("Target CA")
        cls.clients = Certs("Client CA")
        cls.strangers = Certs("Stranger CA")
        cert, key = cls.certs.leaf("up.test", "target", "DNS:up.test,DNS:probe.test,"
                                   "IP:127.0.0.1")
        # a target that requires a client certificate signed by the Client CA
        cls.mtls = TLSUpstream("mtls", cert, key, client_ca=cls.clients.ca_crt)
        # a target whose certificate is signed by the Target CA (not in the system store)
        cls.tls = TLSUpstream("tls", cert, key)
        cls.good = cls.clients.leaf("portico-client", "client", "DNS:portico-client")
        cls.bad = cls.strangers.leaf("portico-client", "stranger", "DNS:portico-client")

    @classmethod
    def tearDownClass(cls):
        cls.mtls.stop()
        cls.tls.stop()

    def wait(self, dp, name, want, what):
        h.wait_for(lambda: target_health(dp.status_port, name) == want, 6,
                   what="%s: %s %s" % (what, name, want))

    def stays(self, dp, name, want, seconds=1.0):
        """The health stays `want` for several probe rounds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertEqual(target_health(dp.status_port, name), want, name)
            time.sleep(0.1)

    def test_client_certificate_and_rotation(self):
        good_id, bad_id = uid(), uid()
        certs = [{"id": good_id, "cert": self.good[0], "key": self.good[1]},
                 {"id": bad_id, "cert": self.bad[0], "key": self.bad[1]}]
        port = self.mtls.port
        u1, t1 = upstream("mtls-good", port, hc(verify=False, path="/good"),
                          client_certificate={"id": good_id})
        u2, t2 = upstream("mtls-none", port, hc(verify=False, path="/none"))
        u3, t3 = upstream("mtls-rotated", port, hc(verify=False, path="/rotated"),
                          client_certificate={"id": bad_id})
        cfg = {"upstreams": [u1, u2, u3], "targets": [t1, t2, t3], "certificates": certs}
        dp = h.DataPlane(cfg)
        try:
            self.wait(dp, "mtls-none", "UNHEALTHY", "no client certificate")
            self.wait(dp, "mtls-rotated", "UNHEALTHY", "untrusted client certificate")
            self.assertEqual(probes(self.mtls, "/none"), 0)
            self.assertEqual(probes(self.mtls, "/rotated"), 0)
            # the right certificate: the target answered the probes (it requires the cert)
            h.wait_for(lambda: probes(self.mtls, "/good") >= 2, 5, what="probes with the cert")
            self.stays(dp, "mtls-good", "HEALTHY")
            self.assertIn("health probe TLS handshake failed upstream=mtls-none",
                          dp.proc.output())
            # the next config gives mtls-rotated the right certificate
            u3["client_certificate"] = {"id": good_id}
            dp.reload({"upstreams": [u1, u2, u3], "targets": [t1, t2, t3],
                       "certificates": certs}, 2)
            self.wait(dp, "mtls-rotated", "HEALTHY", "certificate rotated")
            self.assertGreater(probes(self.mtls, "/rotated"), 0)
            self.stays(dp, "mtls-none", "UNHEALTHY")
        finally:
            dp.stop()

    def test_verification_and_trust(self):
        ca_id = uid()
        port = self.tls.port
        u1, t1 = upstream("verify-untrusted", port, hc(path="/untrusted"))  # default: verify
        u2, t2 = upstream("verify-off", port, hc(verify=False, path="/off"))
        # verified against the CA certificate of the service that reaches the upstream
        u3, t3 = upstream("verify-trusted", port, hc(verify=True, sni="up.test", path="/trusted"))
        u4, t4 = upstream("verify-wrong-name", port,
                          hc(verify=True, sni="other.test", path="/wrong-name"))
        svcs = [{"name": n, "protocol": "https", "host": n, "port": 443, "tls_verify": True,
                 "ca_certificates": [ca_id]} for n in ("verify-trusted", "verify-wrong-name")]
        cfg = {"upstreams": [u1, u2, u3, u4], "targets": [t1, t2, t3, t4], "services": svcs,
               "ca_certificates": [{"id": ca_id, "cert": self.certs.ca_pem()}]}
        dp = h.DataPlane(cfg)
        try:
            self.wait(dp, "verify-untrusted", "UNHEALTHY", "untrusted certificate")
            self.wait(dp, "verify-wrong-name", "UNHEALTHY", "name mismatch")
            h.wait_for(lambda: probes(self.tls, "/off") >= 2, 5, what="unverified probes")
            h.wait_for(lambda: probes(self.tls, "/trusted") >= 2, 5, what="verified probes")
            self.stays(dp, "verify-off", "HEALTHY")
            self.stays(dp, "verify-trusted", "HEALTHY")
            self.assertEqual(probes(self.tls, "/untrusted"), 0)
            self.assertEqual(probes(self.tls, "/wrong-name"), 0)
            self.assertIn("certificate verify failed", dp.proc.output())
        finally:
            dp.stop()

    def test_sni(self):
        port = self.tls.port
        u1, t1 = upstream("sni-set", port, hc(verify=False, sni="probe.test", path="/s1"))
        u2, t2 = upstream("sni-host-header", port, hc(verify=False, path="/s2"),
                          host_header="hh.test")
        u3, t3 = upstream("sni-none", port, hc(verify=False, path="/s3"))
        cfg = {"upstreams": [u1, u2, u3], "targets": [t1, t2, t3]}
        before = len(self.tls.snis)
        dp = h.DataPlane(cfg)
        try:
            h.wait_for(lambda: all(probes(self.tls, p) >= 1 for p in ("/s1", "/s2", "/s3")), 5,
                       what="probes of the three upstreams")
            seen = set(self.tls.snis[before:])
            self.assertIn("probe.test", seen)
            self.assertIn("hh.test", seen)
            # the target name is an IP address: no SNI for that one (None in Python's callback)
            self.assertIn(None, seen)
            self.assertEqual(target_health(dp.status_port, "sni-set"), "HEALTHY")
        finally:
            dp.stop()


class HealthTLSClusterTest(unittest.TestCase):
    """The upstream's client certificate changed through the Admin API reaches the checks."""

    def test_client_certificate_rotated_through_the_admin_api(self):
        certs, clients, strangers = Certs("Target CA"), Certs("Client CA"), Certs("Stranger CA")
        cert, key = certs.leaf("up.test", "target", "DNS:up.test,IP:127.0.0.1")
        target = TLSUpstream("mtls", cert, key, client_ca=clients.ca_crt)
        good = clients.leaf("portico-client", "client", "DNS:portico-client")
        bad = strangers.leaf("portico-client", "stranger", "DNS:portico-client")
        cp = h.ControlPlane()
        dp = cu.start_dp([cp.cluster_port], cp.cluster_cert, cp.cluster_key)
        try:
            def admin(method, path, body, expect):
                r = cp.admin(method, path, json_body=body)
                self.assertEqual(r.status, expect, r.text)
                return r.json()

            c = admin("POST", "/certificates", {"cert": bad[0], "key": bad[1]}, 201)
            admin("POST", "/upstreams", {"name": "mtls-pool", "client_certificate": {"id": c["id"]},
                                         "healthchecks": hc(verify=False, path="/admin")}, 201)
            admin("POST", "/upstreams/mtls-pool/targets",
                  {"target": "127.0.0.1:%d" % target.port}, 201)
            h.wait_for(lambda: target_health(dp.status_port, "mtls-pool") == "UNHEALTHY", 20,
                       what="untrusted client certificate: UNHEALTHY")
            self.assertEqual(probes(target, "/admin"), 0)
            admin("PATCH", "/certificates/%s" % c["id"], {"cert": good[0], "key": good[1]}, 200)
            h.wait_for(lambda: target_health(dp.status_port, "mtls-pool") == "HEALTHY", 20,
                       what="rotated client certificate: HEALTHY")
            self.assertGreater(probes(target, "/admin"), 0)
        finally:
            errors = []
            for p in (dp, cp):
                try:
                    p.stop()
                except AssertionError as e:
                    errors.append(str(e))
            target.stop()
            if errors:
                raise AssertionError("\n".join(errors))


if __name__ == "__main__":
    h.main()
