# tests/e2e/test_admin_db.py: the control plane and its database: the migrations commands
# (bootstrap, up, status, reset --yes), start-up refusing a missing or foreign schema, and the
# Admin API answering 503 while PostgreSQL is down and recovering by itself (on a private
# PostgreSQL cluster so other tests are not disturbed).
import time
import unittest

import harness as h


class MigrationsTest(unittest.TestCase):
    def test_commands(self):
        cp = h.ControlPlane(bootstrap=False, start=False)
        r = cp.migrations("status")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("portico-cp migrations bootstrap", r.stdout)
        r = cp.migrations("up")
        self.assertEqual(r.returncode, 1)
        self.assertIn("portico-cp migrations bootstrap", r.stdout)

        # start-up without a schema fails, naming the command to run
        r = h.run_cmd([h.CP_BIN], env=cp.env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("portico-cp migrations bootstrap", r.stderr)

        r = cp.migrations("bootstrap")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("bootstrapped", r.stdout)
        tables = h.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                        "WHERE schemaname = 'public'", db=cp.db).strip().split(",")
        for t in ("services", "routes", "upstreams", "targets", "consumers", "plugins",
                  "keyauth_credentials", "certificates", "snis", "ca_certificates",
                  "config_revision", "clustering_data_planes", "schema_meta"):
            self.assertIn(t, tables)
        self.assertEqual(h.psql("SELECT revision FROM config_revision", db=cp.db).strip(), "0")
        # bootstrap and up twice are harmless
        r = cp.migrations("bootstrap")
        self.assertEqual(r.returncode, 0)
        self.assertIn("already bootstrapped", r.stdout)
        for _ in range(2):
            r = cp.migrations("up")
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertIn("up to date", r.stdout)
        r = cp.migrations("status")
        self.assertEqual(r.returncode, 0)
        self.assertIn("000_base", r.stdout)

        # a schema newer than this build: start-up refuses
        h.psql("UPDATE schema_meta SET version = 99", db=cp.db)
        r = h.run_cmd([h.CP_BIN], env=cp.env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("newer", r.stderr)
        # a version-1 database (before the registry's heartbeat_interval): start-up asks for
        # 'migrations up', which adds the column
        h.psql("ALTER TABLE clustering_data_planes DROP COLUMN heartbeat_interval; "
               "UPDATE schema_meta SET version = 1", db=cp.db)
        r = h.run_cmd([h.CP_BIN], env=cp.env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("migrations up", r.stderr)
        self.assertEqual(cp.migrations("status").returncode, 4)
        r = cp.migrations("up")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("001_data_plane_heartbeat", r.stdout)
        self.assertEqual(h.psql("SELECT count(*) FROM information_schema.columns WHERE "
                                "table_name = 'clustering_data_planes' AND "
                                "column_name = 'heartbeat_interval'", db=cp.db).strip(), "1")

        cp.start()
        self.assertEqual(cp.admin("POST", "/upstreams", form={"name": "u1"}).status, 201)
        cp.stop()

        r = cp.migrations("reset")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--yes", r.stdout)
        self.assertEqual(h.psql("SELECT count(*) FROM upstreams", db=cp.db).strip(), "1")
        r = cp.migrations("reset", "--yes")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(h.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                                db=cp.db).strip(), "0")
        self.assertEqual(cp.migrations("status").returncode, 3)
        self.assertEqual(cp.migrations("bogus").returncode, 2)

    def test_unreachable_database(self):
        env = dict(h.pg_env("nope"))
        env["PORTICO_PG_PORT"] = str(h.free_port())
        env["PORTICO_PREFIX"] = h.make_tmpdir()
        r = h.run_cmd([h.CP_BIN, "migrations", "status"], env=env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach PostgreSQL", r.stdout)
        r = h.run_cmd([h.CP_BIN], env=env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach PostgreSQL", r.stderr)


class SharedDatabaseTest(unittest.TestCase):
    def test_two_control_planes_one_database(self):
        a = h.ControlPlane()
        b = h.ControlPlane(db=a.db, bootstrap=False)
        try:
            self.assertNotEqual(a.admin("GET", "/").json()["node_id"],
                                b.admin("GET", "/").json()["node_id"])
            r = a.admin("POST", "/upstreams", form={"name": "shared-up"})
            self.assertEqual(r.status, 201)
            self.assertEqual(b.admin("GET", "/upstreams/shared-up").json(), r.json())
            r = b.admin("POST", "/upstreams", form={"name": "shared-up"})
            self.assertEqual(r.status, 409)
            self.assertEqual(b.admin("DELETE", "/upstreams/shared-up").status, 204)
            self.assertEqual(a.admin("GET", "/upstreams/shared-up").status, 404)
            self.assertEqual(h.psql("SELECT revision FROM config_revision", db=a.db).strip(), "2")
        finally:
            a.stop()
            b.stop()


class DatabaseDownTest(unittest.TestCase):
    def test_503_and_recovery(self):
        pg = h.TempPostgres()
        try:
            db = pg.create_database()
            cp = h.ControlPlane(db=db, env=pg.env(db))
            r = cp.admin("POST", "/services", form={"name": "keep", "host": "k.test"})
            self.assertEqual(r.status, 201, r)
            pg.stop()

            for path in ("/services", "/services/keep"):
                t0 = time.monotonic()
                r = cp.admin("GET", path, timeout=10)
                self.assertEqual(r.status, 503, r)
                self.assertIn("message", r.json())
                self.assertLess(time.monotonic() - t0, 3.0)
            r = cp.admin("POST", "/services", form={"name": "lost", "host": "l.test"})
            self.assertEqual(r.status, 503)
            r = cp.admin("GET", "/status")
            self.assertEqual(r.status, 200)
            self.assertIs(r.json()["database"]["reachable"], False)

            pg.start()
            h.wait_for(lambda: cp.admin("GET", "/services/keep").status == 200, timeout=15,
                       what="the Admin API to recover")
            self.assertIs(cp.admin("GET", "/status").json()["database"]["reachable"], True)
            self.assertEqual(cp.admin("POST", "/services", form={"name": "after",
                                                                 "host": "a.test"}).status, 201)
            self.assertEqual(len(cp.admin("GET", "/services").json()["data"]), 2)
            proc = cp.proc
            cp.stop()
            self.assertIn("lost the PostgreSQL connection", proc.output())
        finally:
            pg.destroy()


if __name__ == "__main__":
    h.main()
