# tests/e2e/test_cluster_resilience.py: hybrid mode when things fail, with real processes:
# PostgreSQL unreachable (connected data planes keep their configuration, a new data plane still
# gets the last snapshot, everything catches up when the database returns) and two control
# planes on one database (a change reaches data planes attached to either, through NOTIFY).
import re
import time
import unittest

import cluster_util as cu
import harness


class Resilience(unittest.TestCase):
    def setUp(self):
        self.db = cu.setup_database()
        self.dir = harness.make_tmpdir()
        self.crt, self.key = cu.shared_certs(self.dir)
        self.procs = []
        self.db_blocked = False

    def tearDown(self):
        if self.db_blocked:
            self.unblock_db()
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

    def block_db(self):
        """Makes this test's database unreachable (for this database only, so tests running in
        parallel on the same server are not disturbed)."""
        harness.psql("ALTER DATABASE %s ALLOW_CONNECTIONS false" % self.db)
        harness.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = '%s' AND pid <> pg_backend_pid()" % self.db)
        self.db_blocked = True

    def unblock_db(self):
        harness.psql("ALTER DATABASE %s ALLOW_CONNECTIONS true" % self.db)
        self.db_blocked = False

    def test_database_down(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp = self.track(cu.start_cp(self.db, self.crt, self.key))
        d1 = self.track(cu.start_dp([cp.cluster_port], self.crt, self.key, name="dp1"))
        r1 = cu.wait_applied(self.db, cu.node_id(d1), rev)
        good_hash = r1["config_hash"]

        self.block_db()
        harness.wait_for(lambda: "lost its PostgreSQL connection" in cp.output(),
                         what="cp notices the database is gone")
        # a data plane that connects now still gets the last snapshot
        d2 = self.track(cu.start_dp([cp.cluster_port], self.crt, self.key, name="dp2"))
        harness.wait_for(lambda: "applied snapshot revision=%d hash=%s" % (rev, good_hash)
                         in d2.output(), what="dp2 got the last snapshot")
        # the connected one kept its configuration: nothing rejected, nothing re-applied
        time.sleep(1)
        self.assertEqual(d1.output().count("applied snapshot"), 1)
        self.assertNotIn("rejected", d1.output())
        self.assertTrue(cp.alive() and d1.alive() and d2.alive())

        self.unblock_db()
        # the registry catches up with the data plane that connected during the outage
        n2 = cu.node_id(d2)
        row = harness.wait_for(lambda: cu.row_of(self.db, n2), timeout=20,
                               what="dp2 registry row after the outage")
        self.assertEqual(row["config_hash"], good_hash)
        # and changes flow again once the builder has reconnected
        harness.wait_for(lambda: cp.output().count("snapshot builder connected") >= 2,
                         timeout=20, what="builder reconnected")
        rev2, _ = cu.put_entity(self.db, "services", cu.service(host="after.example"))
        cu.wait_applied(self.db, cu.node_id(d1), rev2, timeout=20)
        cu.wait_applied(self.db, n2, rev2, timeout=20)

    def test_two_control_planes_one_database(self):
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp1 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp1"))
        cp2 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp2"))
        d1 = self.track(cu.start_dp([cp1.cluster_port], self.crt, self.key, name="dp1"))
        d2 = self.track(cu.start_dp([cp2.cluster_port], self.crt, self.key, name="dp2"))
        n1, n2 = cu.node_id(d1), cu.node_id(d2)
        a = cu.wait_applied(self.db, n1, rev)
        b = cu.wait_applied(self.db, n2, rev)
        # equal configurations hash equally on both control planes
        self.assertEqual(a["config_hash"], b["config_hash"])
        self.assertNotEqual(a["control_plane_id"], b["control_plane_id"])
        for _ in range(3):
            rev, _ = cu.put_entity(self.db, "services", cu.service())
            t0 = time.monotonic()
            a = cu.wait_applied(self.db, n1, rev, timeout=10)
            b = cu.wait_applied(self.db, n2, rev, timeout=10)
            # NOTIFY, not polling: well under Kong's 5 s db_update_frequency
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(a["config_hash"], b["config_hash"])
        built1 = re.findall(r"snapshot built revision=(\d+) hash=(\w+)", cp1.output())
        built2 = re.findall(r"snapshot built revision=(\d+) hash=(\w+)", cp2.output())
        self.assertEqual(dict(built1)[str(rev)], dict(built2)[str(rev)])


    def test_killed_control_plane_leaves_no_connected_rows(self):
        # A control plane killed with SIGKILL never writes its data planes' disconnect. The
        # registry reports a row connected only while its last_seen is within 3 heartbeat
        # intervals + 5 s (the data planes here beat every second: 8 s), and the surviving
        # control plane's sweep rewrites the stored flag.
        rev, _ = cu.put_entity(self.db, "services", cu.service())
        cp1 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp1"))
        cp2 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp2"))
        later = harness.free_port()  # a third control plane starts there after the kill
        d1 = self.track(cu.start_dp([cp1.cluster_port, later], self.crt, self.key, name="dp1"))
        n1 = cu.node_id(d1)
        cu.wait_applied(self.db, n1, rev)
        admin = "http://" + cp2.env["PORTICO_ADMIN_LISTEN"]

        def api_row():
            data = harness.request("GET", admin + "/clustering/data-planes").json()["data"]
            return [r for r in data if r["id"] == n1][0]

        def status_row():
            return harness.request("GET", admin + "/clustering/status").json()[n1]
        self.assertIs(api_row()["connected"], True)
        self.assertIs(status_row()["connected"], True)
        cp1_id = api_row()["control_plane_id"]

        cp1.kill()
        self.procs.remove(cp1)
        t_kill = time.monotonic()
        harness.wait_for(lambda: "connection to control plane closed" in d1.output(),
                         what="dp notices the kill")
        # nobody wrote the disconnect: the stored flag is still true right after the kill
        self.assertEqual(harness.psql("SELECT connected FROM clustering_data_planes WHERE id = "
                                      "'%s'" % n1, db=self.db).strip(), "t")
        harness.wait_for(lambda: api_row()["connected"] is False, timeout=20,
                         what="the killed control plane's data plane reported disconnected")
        elapsed = time.monotonic() - t_kill
        self.assertLess(elapsed, 8 + 3, "bound 3 * 1 s + 5 s, plus one heartbeat and slack")
        self.assertIs(status_row()["connected"], False)
        self.assertEqual(api_row()["control_plane_id"], cp1_id)
        # the survivor's periodic sweep (every 5 s) marks the stored row too
        harness.wait_for(lambda: harness.psql(
            "SELECT connected FROM clustering_data_planes WHERE id = '%s'" % n1,
            db=self.db).strip() == "f", timeout=15, what="stored connected = false")
        self.assertIn("marked silent data planes disconnected", cp2.output())

        # the data plane reaches another control plane of the same database: connected again
        cp3 = self.track(cu.start_cp(self.db, self.crt, self.key, port=later, name="cp3"))
        r = harness.wait_for(lambda: (lambda x: x if x["connected"] and
                                      x["control_plane_id"] != cp1_id else None)(api_row()),
                             timeout=45, what="reconnected to cp3")
        self.assertIn("control_plane_id=" + r["control_plane_id"], cp3.output())
        self.assertIs(status_row()["connected"], True)

    def test_incremental_builds_equal_a_fresh_full_build(self):
        """The builder converts only changed rows; after updates in place, deletes and inserts
        its snapshot must be byte-identical (same hash) to a fresh control plane's full build."""
        ids = [cu.put_entity(self.db, "services", cu.service())[1] for _ in range(5)]
        # enough rows that a full build converts them on two threads
        harness.psql("INSERT INTO services (id, doc) SELECT id, jsonb_build_object('id', id, "
                     "'name', 'bulk-' || i, 'host', 'h' || i || '.example', 'port', 80, "
                     "'protocol', 'http') FROM (SELECT i, md5('bulk' || i)::uuid AS id "
                     "FROM generate_series(1, 2500) i) s", db=self.db)
        cp1 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp1"))
        harness.wait_for(lambda: "snapshot built" in cp1.output(), what="first build")
        svc = cu.service(host="changed.example")
        svc["id"] = ids[2]
        cu.put_entity(self.db, "services", svc)            # update in place
        cu.delete_entity(self.db, "services", ids[0])      # delete
        rev, _ = cu.put_entity(self.db, "routes", {"paths": ["/x"], "service": {"id": ids[1]}})
        last = lambda p: re.findall(r"snapshot built revision=(\d+) hash=(\w+)", p.output())
        harness.wait_for(lambda: last(cp1) and int(last(cp1)[-1][0]) == rev, what="cp1 caught up")
        self.assertIn("converted=1 ", cp1.output())  # a rebuild parsed only the changed row
        cp2 = self.track(cu.start_cp(self.db, self.crt, self.key, name="cp2"))
        harness.wait_for(lambda: last(cp2), what="cp2 build")
        self.assertEqual(last(cp2)[-1], last(cp1)[-1])


if __name__ == "__main__":
    harness.main()
