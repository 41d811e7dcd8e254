# tests/e2e/test_proxy_dns.py: name resolution of targets and service hosts through a real
# (tiny) DNS server: answers honoured with their TTL (a changed answer moves the traffic without
# a config change), dns_resolver and dns_hostsfile, and 503 for a name that does not resolve.
import os
import socket
import struct
import threading
import time
import unittest

import harness as h


class FakeDNS:
    """UDP DNS server on 127.0.0.1 answering A queries from a dict {name: (ip, ttl)}; AAAA and
    unknown names get an empty NOERROR / NXDOMAIN answer."""

    def __init__(self):
        self.records = {}
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(data), peer)
            except Exception:  # noqa: BLE001 - a malformed query is ignored
                pass

    def answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        pos, labels = 12, []
        while q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]].decode())
            pos += 1 + q[pos]
        qtype, _ = struct.unpack(">HH", q[pos + 1:pos + 5])
        question = q[12:pos + 5]
        name = ".".join(labels).lower()
        self.queries += 1
        rec = self.records.get(name)
        if rec is None:
            return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        if qtype != 1:
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
        ip, ttl = rec
        rr = struct.pack(">HHHIH", 0xC00C, 1, 1, ttl, 4) + socket.inet_aton(ip)
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr

    def stop(self):
        self.stopped = True
        self.sock.close()


class DnsTest(unittest.TestCase):
    def test_ttl_refresh_moves_traffic(self):
        dns = FakeDNS()
        a = h.Upstream("a")
        b = h.Upstream("b", port=a.port, host="127.0.0.2")
        dns.records["svc.test"] = ("127.0.0.1", 1)
        hosts = os.path.join(h.make_tmpdir(), "hosts")
        with open(hosts, "w") as f:
            f.write("# test hosts\n127.0.0.1   fromhosts.test alias.test\n")
        cfg = {"services": [{"name": "lb", "host": "dns.upstream", "port": 1},
                            {"name": "plain", "host": "svc.test", "port": a.port},
                            {"name": "hosts", "host": "alias.test", "port": a.port},
                            {"name": "broken", "host": "nowhere.test", "port": a.port}],
               "routes": [{"name": "lb", "service": "lb", "paths": ["/lb"]},
                          {"name": "plain", "service": "plain", "paths": ["/plain"]},
                          {"name": "hosts", "service": "hosts", "paths": ["/hosts"]},
                          {"name": "broken", "service": "broken", "paths": ["/broken"]}],
               "upstreams": [{"name": "dns.upstream"}],
               "targets": [{"upstream": "dns.upstream", "target": "svc.test:%d" % a.port}]}
        dp = h.DataPlane(cfg, extra_env={"PORTICO_DNS_RESOLVER": "127.0.0.1:%d" % dns.port,
                                         "PORTICO_DNS_HOSTSFILE": hosts})
        try:
            for path in ("/lb", "/plain", "/hosts"):
                r = dp.get(path)
                self.assertEqual(r.status, 200, (path, r.body))
                self.assertEqual(r.json()["server"], "a")
            # the target's name goes upstream as Host
            self.assertEqual(dp.get("/lb").json()["headers"]["Host"], "svc.test:%d" % a.port)
            r = dp.get("/broken")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["message"], "name resolution failed")
            # the record changes: after its TTL the traffic follows, no config change needed
            dns.records["svc.test"] = ("127.0.0.2", 1)
            h.wait_for(lambda: dp.get("/lb").json()["server"] == "b", 8, what="traffic to b")
            h.wait_for(lambda: dp.get("/plain").json()["server"] == "b", 8, what="plain to b")
            self.assertEqual(dp.status()["configuration"]["revision"], 1)
            self.assertGreater(dns.queries, 2)
        finally:
            dp.stop()
            dns.stop()
            a.stop()
            b.stop()


if __name__ == "__main__":
    h.main()
