# tests/e2e/test_cluster_shared.py: hybrid mode in shared-certificate mode with real processes:
# gen-cert, a seed reaching two data planes, changes propagating, the registry, node ids kept
# across restarts, a control plane restart (data planes reconnect and converge).
import os
import socket
import stat
import time
import unittest

import cluster_util as cu
import harness


class GenCert(unittest.TestCase):
    def test_defaults_mode_and_no_overwrite(self):
        d = harness.make_tmpdir()
        r = cu.gen_cert(d)
        self.assertEqual(r.returncode, 0, r.stderr)
        crt, key = os.path.join(d, "cluster.crt"), os.path.join(d, "cluster.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(crt).st_mode), 0o644)
        with open(crt) as f:
            pem = f.read()
        self.assertIn("BEGIN CERTIFICATE", pem)
        text = harness.run_cmd(["openssl", "x509", "-in", crt, "-noout", "-text"]).stdout
        self.assertIn("secp384r1", text)
        self.assertIn("CN = portico_clustering", text)
        before = _read(key)
        r = cu.gen_cert(d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already exists", r.stderr)
        self.assertEqual(_read(key), before)

    def test_days_and_paths(self):
        d = harness.make_tmpdir()
        r = cu.gen_cert(d, "a.crt", "a.key", "--days", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        end = harness.run_cmd(["openssl", "x509", "-in", os.path.join(d, "a.crt"), "-noout",
                               "-checkend", str(11 * 86400)])
        self.assertNotEqual(end.returncode, 0)  # expires within 11 days
        end = harness.run_cmd(["openssl", "x509", "-in", os.path.join(d, "a.crt"), "-noout",
                               "-checkend", str(9 * 86400)])
        self.assertEqual(end.returncode, 0)
        self.assertEqual(cu.gen_cert(d, "--days", "0").returncode, 2)
        self.assertEqual(cu.gen_cert(d, "only-one-path").returncode, 2)


class SharedMode(unittest.TestCase):
    def setUp(self):
        self.db = cu.setup_database()
        self.certdir = harness.make_tmpdir()
        self.crt, self.key = cu.shared_certs(self.certdir)
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

    def cp(self, **kw):
        p = cu.start_cp(self.db, self.crt, self.key, **kw)
        self.procs.append(p)
        return p

    def dp(self, cps, **kw):
        p = cu.start_dp(cps, self.crt, self.key, **kw)
        self.procs.append(p)
        return p

    def test_seed_reaches_two_data_planes_and_changes_follow(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp = self.cp()
        d1 = self.dp([cp.cluster_port], name="dp1")
        d2 = self.dp([cp.cluster_port], name="dp2")
        n1, n2 = cu.node_id(d1), cu.node_id(d2)
        r1 = cu.wait_applied(self.db, n1, rev)
        r2 = cu.wait_applied(self.db, n2, rev)
        self.assertEqual(r1["config_hash"], r2["config_hash"])
        self.assertEqual(len(r1["config_hash"]), 64)
        for r in (r1, r2):
            self.assertTrue(r["connected"])
            self.assertEqual(r["version"], "0.1.0")
            self.assertEqual(r["ip"], "127.0.0.1")
            self.assertTrue(r["hostname"])
            self.assertIsNone(r["last_error"])
            self.assertGreater(r["cert_expiry"], time.time())
        harness.wait_for(lambda: cu.row_of(self.db, n1)["sync_status"] == "normal",
                         what="sync_status normal")
        # a change through the store reaches both
        rev2, sid = cu.put_entity(self.db, "services", cu.service(host="other.example"))
        t0 = time.monotonic()
        a = cu.wait_applied(self.db, n1, rev2)
        b = cu.wait_applied(self.db, n2, rev2)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertNotEqual(a["config_hash"], r1["config_hash"])
        self.assertEqual(a["config_hash"], b["config_hash"])
        self.assertIn("applied snapshot revision=%d" % rev2, d1.output())
        # the control plane built each revision once, not once per data plane
        self.assertEqual(cp.output().count("snapshot built revision=%d " % rev2), 1)
        # heartbeats keep last_seen fresh while connected
        seen = harness.psql("SELECT last_seen FROM clustering_data_planes WHERE id = '%s'" % n1,
                            db=self.db).strip()
        harness.wait_for(lambda: harness.psql(
            "SELECT last_seen FROM clustering_data_planes WHERE id = '%s'" % n1,
            db=self.db).strip() != seen, timeout=5, what="heartbeat")
        # disconnect is recorded
        d2.stop()
        self.procs.remove(d2)
        harness.wait_for(lambda: cu.row_of(self.db, n2)["connected"] is False,
                         what="disconnected row")

    def test_node_id_kept_and_control_plane_restart(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        port = harness.free_port()
        cp = self.cp(port=port)
        d1 = self.dp([port], name="dp1")
        n1 = cu.node_id(d1)
        first = cu.wait_applied(self.db, n1, rev)
        # control plane restart: the data plane reconnects and converges on a newer revision
        cp.stop()
        self.procs.remove(cp)
        harness.wait_for(lambda: "connection to control plane closed" in d1.output(),
                         what="dp notices the restart")
        rev2, _ = cu.put_entity(self.db, "services", cu.service(host="new.example"))
        cp2 = self.cp(port=port, name="cp2")
        r = cu.wait_applied(self.db, n1, rev2, timeout=20)
        self.assertTrue(r["connected"])
        self.assertNotEqual(r["config_hash"], first["config_hash"])
        self.assertEqual(r["control_plane_id"],
                         harness.wait_for(lambda: _cp_id(cp2), what="cp2 id"))
        # data plane restart: same node id, same registry row
        d1.stop()
        self.procs.remove(d1)
        d1b = self.dp([port], prefix=d1.prefix, name="dp1b")
        harness.wait_for(lambda: "connected to control plane" in d1b.output(), what="dp1b")
        self.assertEqual(cu.node_id(d1b), n1)
        self.assertIn("node_id=%s" % n1, d1b.output())
        self.assertEqual(len([x for x in cu.registry(self.db) if x["id"] == n1]), 1)

    def test_control_plane_list_is_tried_in_turn(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp = self.cp()
        dead = harness.free_port()  # nothing listens there
        d1 = self.dp([dead, cp.cluster_port], name="dp1")
        n1 = cu.node_id(d1)
        cu.wait_applied(self.db, n1, rev, timeout=15)
        out = d1.output()
        self.assertIn("127.0.0.1:%d" % dead, out)
        self.assertIn("reconnecting to control plane delay_ms=", out)


    def test_every_cluster_listen_address_accepts(self):
        # cluster_listen is a list, like Kong's: every address gets its own listen socket
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        p1, p2 = harness.free_port(), harness.free_port()
        cp = self.cp(port=p1, extra={"PORTICO_CLUSTER_LISTEN":
                                     "127.0.0.1:%d, 127.0.0.2:%d" % (p1, p2)})
        harness.wait_for(lambda: "cluster listener started address=127.0.0.2:%d" % p2
                         in cp.output(), what="second listener")
        self.assertIn("cluster listener started address=127.0.0.1:%d" % p1, cp.output())
        d1 = self.dp(["127.0.0.1:%d" % p1], name="dp1")
        d2 = self.dp(["127.0.0.2:%d" % p2], name="dp2")
        n1, n2 = cu.node_id(d1), cu.node_id(d2)
        cu.wait_applied(self.db, n1, rev, procs=[cp, d1])
        cu.wait_applied(self.db, n2, rev, procs=[cp, d2])
        self.assertIn("connected to control plane address=127.0.0.2:%d" % p2, d2.output())
        rev, _ = cu.put_entity(self.db, "services", cu.service(host="two.example"))
        cu.wait_applied(self.db, n1, rev)
        cu.wait_applied(self.db, n2, rev)
        # each socket is bound to its own address only (lws 4.1 put an IPv4 address given to
        # an IPv6-enabled vhost on [::], every interface)
        for addr in (("127.0.0.1", p2), ("127.0.0.2", p1)):
            with self.assertRaises(OSError, msg="%s:%d" % addr):
                socket.create_connection(addr, timeout=2).close()


class DataPlaneStartup(unittest.TestCase):
    def test_missing_certificate_stops_start_up(self):
        d = harness.make_tmpdir()
        p = cu.start_dp([harness.free_port()], os.path.join(d, "nope.crt"),
                        os.path.join(d, "nope.key"))
        harness.wait_for(lambda: not p.alive(), what="dp exits")
        self.assertNotEqual(p.p.returncode, 0)
        self.assertIn("cannot load cluster_cert", p.output())
        p.stop(expect_codes=(p.p.returncode,))

    def test_cluster_control_plane_off(self):
        d = harness.make_tmpdir()
        p = cu.start_dp([], os.path.join(d, "nope.crt"), os.path.join(d, "nope.key"),
                        extra={"PORTICO_CLUSTER_CONTROL_PLANE": "off"})
        harness.wait_for(lambda: "cluster_control_plane is off" in p.output(), what="notice")
        time.sleep(0.3)
        self.assertTrue(p.alive())
        p.stop()


class RegistryPurge(unittest.TestCase):
    def test_silent_rows_are_purged_after_the_delay(self):
        db = cu.setup_database()
        crt, key = cu.shared_certs(harness.make_tmpdir())
        stale, fresh = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
        harness.psql("INSERT INTO clustering_data_planes (id, hostname, last_seen, connected) "
                     "VALUES ('%s', 'old', now() - interval '2 minutes', false), "
                     "('%s', 'recent', now() - interval '10 seconds', false)" % (stale, fresh),
                     db=db)
        cp = cu.start_cp(db, crt, key,
                         extra={"PORTICO_CLUSTER_DATA_PLANE_PURGE_DELAY": "60"})
        try:
            harness.wait_for(lambda: cu.row_of(db, stale) is None, timeout=15,
                             what="stale row purged")
            self.assertIsNotNone(cu.row_of(db, fresh))
            self.assertIn("purged silent data planes from the registry count=1", cp.output())
        finally:
            cp.stop()


def _read(path):
    with open(path) as f:
        return f.read()


def _cp_id(cp):
    for line in cp.output().splitlines():
        if "control_plane_id=" in line:
            return line.split("control_plane_id=")[1].split()[0]
    return None


if __name__ == "__main__":
    harness.main()
