# tests/e2e/test_cluster_protocol.py: the cluster protocol against bad or unusual input, with a
# real control plane facing a hand-written data plane and a real data plane facing a
# hand-written control plane (tests/e2e/cluster_wire.py): version checks at Hello, malformed,
# truncated, oversized and corrupted messages, Nack reporting in the registry, and a rejected
# revision not being re-sent in a loop.
import hashlib
import os
import time
import unittest
import uuid
import zlib

import cluster_util as cu
import cluster_wire as w
import harness

CLOSE = 8


def close_code(msg):
    op, payload = msg
    if op != CLOSE:
        return None
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


def expect_closed(client):
    """Reads until the peer closes; returns the close code (None if the socket just died)."""
    try:
        while True:
            m = client.recv()
            if m[0] == CLOSE:
                return close_code(m)
    except (ConnectionError, OSError):
        return None


class Base(unittest.TestCase):
    def setUp(self):
        self.db = cu.setup_database()
        self.dir = harness.make_tmpdir()
        self.crt, self.key = cu.shared_certs(self.dir)
        self.procs = []
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
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

    def fake_dp(self, cp):
        c = w.Client(cp.cluster_port, self.crt, self.key, self.crt)
        self.clients.append(c)
        return c


class ControlPlaneFacesBadDataPlanes(Base):
    def setUp(self):
        super().setUp()
        self.rev, self.sid = cu.put_entity(self.db, "services", cu.service())
        self.cp = self.track(cu.start_cp(self.db, self.crt, self.key,
                                         extra={"PORTICO_CLUSTER_MAX_PAYLOAD": "4k"}))

    def hello_reply(self, c):
        op, payload = c.recv()
        self.assertEqual(op, 2)
        msg = w.parse(payload)
        self.assertIn(w.HELLO_REPLY, msg)
        return w.parse(msg[w.HELLO_REPLY][0])

    def test_compatible_hello_gets_reply_then_snapshot(self):
        c = self.fake_dp(self.cp)
        nid = str(uuid.uuid4())
        c.send(w.hello(nid, "0.1.7"), fragments=3)  # fragmented frames are reassembled
        r = self.hello_reply(c)
        self.assertEqual(r[1], [1])
        op, payload = c.recv()
        snap = w.parse(w.parse(payload)[w.SNAPSHOT][0])
        self.assertEqual(snap[1], [self.rev])
        config = zlib.decompress(snap[5][0])
        self.assertEqual(len(config), snap[4][0])
        self.assertEqual(hashlib.sha256(config).hexdigest(), snap[2][0].decode())
        services = w.parse(config)[1]
        self.assertEqual(w.parse(services[0])[1][0].decode(), self.sid)
        row = harness.wait_for(lambda: cu.row_of(self.db, nid), what="registry row")
        self.assertTrue(row["connected"])
        self.assertEqual(row["version"], "0.1.7")
        self.assertEqual(row["hostname"], "fake")

    def test_silent_data_plane_is_dropped_and_heartbeats_are_answered(self):
        c = self.fake_dp(self.cp)
        nid = str(uuid.uuid4())
        c.send(w.hello(nid, heartbeat_interval=1))
        self.assertEqual(self.hello_reply(c)[1], [1])
        c.recv()  # the snapshot
        # a heartbeat is answered with the control plane's current revision
        c.send(w.field_bytes(w.HEARTBEAT, w.field_varint(1, self.rev)))
        op, payload = c.recv()
        hb = w.parse(w.parse(payload)[w.HEARTBEAT][0])
        self.assertEqual(hb[1], [self.rev])
        self.assertEqual(len(hb[2][0]), 64)
        # then silence: dropped after 3 intervals + 5 s, and recorded as disconnected
        t0 = time.monotonic()
        expect_closed(c)
        self.assertGreater(time.monotonic() - t0, 5)
        harness.wait_for(lambda: cu.row_of(self.db, nid)["connected"] is False,
                         what="disconnected in registry")

    def check_refused(self, version, words):
        c = self.fake_dp(self.cp)
        nid = str(uuid.uuid4())
        c.send(w.hello(nid, version))
        r = self.hello_reply(c)
        self.assertEqual(r[1], [0])
        reason = r[2][0].decode()
        self.assertIn(words, reason)
        expect_closed(c)
        row = harness.wait_for(lambda: cu.row_of(self.db, nid), what="registry row")
        self.assertEqual(row["sync_status"], "kong_version_incompatible")
        self.assertFalse(row["connected"])
        self.assertIn(words, row["last_error"])
        self.assertIn("control plane refused data plane node_id=%s" % nid, self.cp.output())

    def test_other_major_version_is_refused_and_recorded(self):
        self.check_refused("1.1.0", "different major")

    def test_newer_minor_version_is_refused_and_recorded(self):
        self.check_refused("0.2.0", "newer")

    def test_bad_node_id_is_refused(self):
        c = self.fake_dp(self.cp)
        c.send(w.hello("not-a-uuid"))
        r = self.hello_reply(c)
        self.assertEqual(r[1], [0])
        self.assertIn("not a UUID", r[2][0].decode())
        expect_closed(c)

    def test_malformed_message_closes_the_connection(self):
        c = self.fake_dp(self.cp)
        c.send(b"\xff\xff\xff\xff\x0f")
        self.assertEqual(expect_closed(c), 1007)
        harness.wait_for(lambda: "malformed message" in self.cp.output(), what="cp log")

    def test_truncated_hello_closes_the_connection(self):
        c = self.fake_dp(self.cp)
        c.send(w.hello(str(uuid.uuid4()))[:-4])
        self.assertEqual(expect_closed(c), 1007)

    def test_first_message_must_be_hello(self):
        c = self.fake_dp(self.cp)
        c.send(w.field_bytes(w.HEARTBEAT, w.field_varint(1, 1)))
        self.assertEqual(expect_closed(c), 1008)
        harness.wait_for(lambda: "first message is not a Hello" in self.cp.output(),
                         what="cp log")

    def test_oversized_message_closes_the_connection(self):
        c = self.fake_dp(self.cp)
        big = w.field_bytes(w.HELLO, w.field_bytes(2, "x" * 10000))
        c.send(big, fragments=5)
        self.assertEqual(expect_closed(c), 1009)
        harness.wait_for(lambda: "larger than cluster_max_payload" in self.cp.output(),
                         what="cp log")
        # the control plane still serves others
        c2 = self.fake_dp(self.cp)
        c2.send(w.hello(str(uuid.uuid4())))
        self.assertEqual(self.hello_reply(c2)[1], [1])


class DataPlaneFacesBadControlPlane(Base):
    def setUp(self):
        super().setUp()
        self.srv = w.Server(self.crt, self.key, self.crt)

    def tearDown(self):
        super().tearDown()
        self.srv.close()

    def start_dp(self, extra=None):
        return self.track(cu.start_dp([self.srv.port], self.crt, self.key, extra=extra))

    def accept_hello(self, accepted=True, reason=""):
        peer = self.srv.accept()
        self.clients.append(peer)
        op, payload = peer.recv()
        h = w.parse(w.parse(payload)[w.HELLO][0])
        peer.send(w.hello_reply(accepted, reason))
        return peer, h

    def answer(self, peer):
        """Next Ack or Nack: (kind, fields)."""
        while True:
            op, payload = peer.recv()
            m = w.parse(payload)
            if w.ACK in m:
                return "ack", w.parse(m[w.ACK][0])
            if w.NACK in m:
                return "nack", w.parse(m[w.NACK][0])

    def test_corrupt_truncated_and_valid_snapshots(self):
        d = self.start_dp()
        peer, h = self.accept_hello()
        self.assertEqual(h[1][0].decode(), cu.node_id(d))
        self.assertEqual(h[3][0].decode(), "0.1.0")
        cfg = w.service_config(str(uuid.uuid4()))
        # hash that does not match the content: rejected whole, Nack names the problem
        peer.send(w.snapshot(cfg, 5, hash_hex="0" * 64))
        kind, f = self.answer(peer)
        self.assertEqual(kind, "nack")
        self.assertEqual(f[1], [5])
        err = w.parse(f[3][0])
        self.assertIn(b"hash", err[4][0])
        # corrupt compressed data
        bad = w.snapshot(cfg, 6)
        peer.send(bad[:-3] + b"\x00\x00\x00")
        kind, f = self.answer(peer)
        self.assertEqual(kind, "nack")
        # a valid snapshot is applied and acknowledged with its hash
        peer.send(w.snapshot(cfg, 7))
        kind, f = self.answer(peer)
        self.assertEqual(kind, "ack")
        self.assertEqual(f[1], [7])
        self.assertEqual(f[2][0].decode(), hashlib.sha256(cfg).hexdigest())
        # a truncated protobuf message: the data plane drops the connection and reconnects,
        # reporting what it runs in its Hello
        peer.send(w.snapshot(cfg, 8)[:-10])
        expect_closed(peer)
        harness.wait_for(lambda: "malformed message from control plane" in d.output(),
                         what="dp log")
        peer2, h2 = self.accept_hello()
        self.assertEqual(h2[4], [7])
        self.assertEqual(h2[5][0].decode(), hashlib.sha256(cfg).hexdigest())

    def test_oversized_snapshot_is_nacked_and_connection_kept(self):
        self.start_dp({"PORTICO_CLUSTER_MAX_PAYLOAD": "1k"})
        peer, _ = self.accept_hello()
        big = w.service_config(str(uuid.uuid4()), host=os.urandom(3000).hex())
        peer.send(w.snapshot(big, 3, compress=False))
        kind, f = self.answer(peer)
        self.assertEqual(kind, "nack")
        self.assertIn(b"cluster_max_payload", w.parse(f[3][0])[4][0])
        small = w.service_config(str(uuid.uuid4()))
        peer.send(w.snapshot(small, 4))
        kind, f = self.answer(peer)
        self.assertEqual(kind, "ack")
        self.assertEqual(f[1], [4])

    def test_only_the_newest_snapshot_is_applied_after_a_build(self):
        # this fake control plane does not answer heartbeats: keep the data plane's idle
        # timeout (3 intervals + 5 s) longer than a slow sanitizer build
        d = self.start_dp({"PORTICO_CLUSTER_HEARTBEAT_INTERVAL": "30"})
        peer, _ = self.accept_hello()
        # a large first snapshot keeps the apply thread busy while two more arrive
        big = b"".join(w.service_config(str(uuid.uuid4()),
                                        host="10.0.%d.%d" % (i // 250, i % 250))
                       for i in range(8000))
        peer.send(w.snapshot(big, 1))
        time.sleep(0.02)
        peer.send(w.snapshot(w.service_config(str(uuid.uuid4())), 2))
        peer.send(w.snapshot(w.service_config(str(uuid.uuid4())), 3))
        acked = []
        while 3 not in acked:
            kind, f = self.answer(peer)
            self.assertEqual(kind, "ack")
            acked.append(f[1][0])
        # revision 2 arrived while 1 was still being received or applied and 3 came right
        # after: 2 is never applied (1 may be skipped too if 2 overtook it in the queue)
        self.assertNotIn(2, acked)
        self.assertEqual(acked[-1], 3)
        self.assertIn("newer snapshot arrived during a build, skipping revision=2", d.output())

    def test_refused_hello_is_logged_and_retried_with_backoff(self):
        d = self.start_dp()
        self.accept_hello(accepted=False, reason="go away")
        harness.wait_for(lambda: 'control plane refused this data plane' in d.output(),
                         what="dp log")
        self.assertIn('reason="go away"', d.output())
        t0 = time.monotonic()
        peer, _ = self.accept_hello()
        self.assertGreater(time.monotonic() - t0, 0.5)  # backoff, not a tight loop


class RejectedRevisionNotResent(Base):
    def test_nack_is_visible_and_not_resent(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp = self.track(cu.start_cp(self.db, self.crt, self.key))
        d = self.track(cu.start_dp([cp.cluster_port], self.crt, self.key,
                                   extra={"PORTICO_CLUSTER_MAX_PAYLOAD": "2k"}))
        nid = cu.node_id(d)
        cu.wait_applied(self.db, nid, rev)
        # a configuration too large for this data plane (random text does not compress)
        rev2, big = cu.put_entity(self.db, "services",
                                  cu.service(tags=[os.urandom(40).hex() for _ in range(80)]))
        row = harness.wait_for(lambda: (lambda r: r if r["last_error"] else None)(
            cu.row_of(self.db, nid)), what="last_error in registry")
        self.assertIn("cluster_max_payload", row["last_error"])
        self.assertEqual(row["sync_status"], "config_rejected")
        self.assertEqual(row["applied_revision"], rev)  # still the old config
        self.assertTrue(row["connected"])
        sent = "sending snapshot node_id=%s" % nid
        time.sleep(3)  # heartbeats flow; nothing is re-sent
        self.assertEqual(cp.output().count(sent), 2)
        # a restarted data plane is not offered the rejected configuration again either
        d.stop()
        self.procs.remove(d)
        d2 = self.track(cu.start_dp([cp.cluster_port], self.crt, self.key, prefix=d.prefix,
                                    extra={"PORTICO_CLUSTER_MAX_PAYLOAD": "2k"}, name="dp2"))
        harness.wait_for(lambda: "connected to control plane" in d2.output(), what="dp2")
        time.sleep(1.5)
        self.assertEqual(cp.output().count(sent), 2)
        # the next change is offered and applied
        cu.delete_entity(self.db, "services", big)
        rev3 = rev2 + 1
        row = cu.wait_applied(self.db, nid, rev3, procs=(cp, d2))
        self.assertIsNone(row["last_error"])
        self.assertEqual(row["sync_status"], "normal")


if __name__ == "__main__":
    harness.main()
