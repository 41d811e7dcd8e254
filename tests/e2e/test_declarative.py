# tests/e2e/test_declarative.py: declarative configuration through the real binaries and a real
# PostgreSQL: `portico-cp config validate|diff|sync|dump` with the seed tutorial's kong.yaml,
# checked from outside through the Admin API of a running control plane.
import json
import os
import unittest

import harness as h

SEED = os.path.join(h.SRC_DIR, "tests", "data", "declarative", "seed-kong.yaml")

SERVICE_ID = "5f2be09e-de92-5059-859b-a01b35cf0d4a"   # Kong's UUID v5 for "example_service"
ROUTE_ID = "4ca50430-3aa8-568b-820d-8809dddc3574"     # ... for route "mocking"
KEYAUTH_PLUGIN_ID = "72ed89f6-4400-5850-9b77-74ff52cdcb26"


def no_sanitizer_report(testcase, r):
    for marker in h.SANITIZER_MARKERS:
        testcase.assertNotIn(marker, r.stderr)


class DeclarativeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = h.make_tmpdir("decl-")
        cls.cp = h.ControlPlane()
        cls.env = cls.cp.env
        cls.admin_port = cls.cp.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    # helpers -----------------------------------------------------------------------------------

    def config(self, *args):
        r = h.run_cmd([h.CP_BIN, "config"] + list(args), env=self.env)
        no_sanitizer_report(self, r)
        return r

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def admin(self, path):
        r = h.request("GET", "http://127.0.0.1:%d%s" % (self.admin_port, path))
        self.assertEqual(r.status, 200, r)
        return r.json()

    def names(self, path, key="name"):
        return sorted(e[key] for e in self.admin(path)["data"])

    def sync_seed(self):
        r = self.config("sync", SEED)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    # tests ---------------------------------------------------------------------------------------

    def test_1_validate(self):
        r = self.config("validate", SEED)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("parse successful", r.stdout)

    def test_2_seed_sync_then_admin_api_shows_exactly_it(self):
        r = self.sync_seed()
        self.assertIn("creating service example_service (%s)" % SERVICE_ID, r.stdout)
        self.assertIn("Created: 10", r.stdout)

        services = self.admin("/services")["data"]
        self.assertEqual(len(services), 1)
        svc = services[0]
        self.assertEqual(svc["id"], SERVICE_ID)
        self.assertEqual((svc["name"], svc["host"], svc["port"], svc["protocol"]),
                         ("example_service", "example_upstream", 80, "http"))
        routes = self.admin("/routes")["data"]
        self.assertEqual(len(routes), 1)
        self.assertEqual(routes[0]["id"], ROUTE_ID)
        self.assertEqual(routes[0]["paths"], ["/mock"])
        self.assertIs(routes[0]["strip_path"], True)
        self.assertEqual(routes[0]["service"], {"id": SERVICE_ID})

        plugins = {p["name"]: p for p in self.admin("/plugins")["data"]}
        self.assertEqual(sorted(plugins), ["key-auth", "proxy-cache", "rate-limiting"])
        ka = plugins["key-auth"]
        self.assertEqual(ka["id"], KEYAUTH_PLUGIN_ID)
        self.assertIs(ka["enabled"], False)
        self.assertEqual(ka["route"], {"id": ROUTE_ID})
        rl = plugins["rate-limiting"]
        self.assertIsNone(rl["route"])
        self.assertIsNone(rl["service"])
        self.assertEqual(rl["config"]["minute"], 5)
        self.assertEqual(rl["config"]["policy"], "local")
        pc = plugins["proxy-cache"]["config"]
        self.assertEqual(pc["content_type"], ["application/json; charset=utf-8"])
        self.assertEqual(pc["cache_ttl"], 30)

        consumers = self.admin("/consumers")["data"]
        self.assertEqual([(c["username"], c["custom_id"]) for c in consumers],
                         [("consumer", "consumer")])
        creds = self.admin("/consumers/consumer/key-auth")["data"]
        self.assertEqual([c["key"] for c in creds], ["apikey"])

        self.assertEqual(self.names("/upstreams"), ["example_upstream"])
        targets = self.admin("/upstreams/example_upstream/targets")["data"]
        self.assertEqual(sorted((t["target"], t["weight"]) for t in targets),
                         [("httpbin.org:80", 100), ("mockbin.org:80", 100)])

        # The database now matches the file.
        r = self.config("diff", SEED)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "no changes\n")
        r = self.config("sync", SEED)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "no changes\n")

    def test_3_changed_file_syncs_only_the_change(self):
        self.sync_seed()
        before = self.admin("/services/example_service")
        with open(SEED) as f:
            text = f.read()
        text = text.replace("minute: 5", "minute: 10")
        text = text.replace("    - target: mockbin.org:80\n      weight: 100\n", "")
        text = text.replace("      enabled: false\n",
                            "      enabled: false\n  - name: extra\n    paths: [/extra]\n")
        changed = self.write("changed.yaml", text)
        r = self.config("diff", changed)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("creating route extra", r.stdout)
        self.assertIn("updating plugin rate-limiting (250fd348-4071-5a51-8efd-c65e826fdfa9)\n"
                      "  config.minute: 5 -> 10\n", r.stdout)
        self.assertIn("deleting target mockbin.org:80", r.stdout)
        self.assertIn("Created: 1\n  Updated: 1\n  Deleted: 1\n", r.stdout)
        r = self.config("sync", changed)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.names("/routes"), ["extra", "mocking"])
        rl = [p for p in self.admin("/plugins")["data"] if p["name"] == "rate-limiting"][0]
        self.assertEqual(rl["config"]["minute"], 10)
        targets = self.admin("/upstreams/example_upstream/targets")["data"]
        self.assertEqual([t["target"] for t in targets], ["httpbin.org:80"])
        after = self.admin("/services/example_service")
        self.assertEqual(before["updated_at"], after["updated_at"])  # untouched
        self.assertEqual(self.config("diff", changed).stdout, "no changes\n")
        # And back.
        r = self.sync_seed()
        self.assertIn("deleting route extra", r.stdout)
        self.assertEqual(self.names("/routes"), ["mocking"])

    def test_4_bad_files_name_entity_and_field_and_change_nothing(self):
        self.sync_seed()
        bad_ref = self.write("bad-ref.yaml", "_format_version: '3.0'\nroutes:\n"
                             "- name: r\n  paths: [/r]\n  service: nope\n")
        r = self.config("sync", bad_ref)
        self.assertEqual(r.returncode, 1)
        self.assertIn("routes[1] (r) > service: invalid reference 'service: nope' "
                      "(no such entry in 'services')", r.stderr)
        bad_field = self.write("bad-field.yaml", "_format_version: '3.0'\nservices:\n"
                               "- name: s\n  host: h\n  port: many\n  routes:\n"
                               "  - name: r\n    strip_path: maybe\n")
        r = self.config("validate", bad_field)
        self.assertEqual(r.returncode, 1)
        self.assertIn("services[1] (s) > port:", r.stderr)
        self.assertIn("services[1] (s) > routes[1] (r) > strip_path:", r.stderr)
        r = self.config("validate", self.write("bad-version.yaml", "_format_version: '0.1'\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("_format_version: expected one of: 1.1, 2.1, 3.0", r.stderr)
        r = self.config("validate", self.write("bad-yaml.yaml", "services: [\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("failed parsing declarative configuration", r.stderr)
        # A file the database refuses (two global rate-limiting plugins) changes nothing at all.
        dup = self.write("dup.yaml", "_format_version: '3.0'\nservices:\n- name: new-svc\n"
                         "  host: h\nplugins:\n- name: rate-limiting\n  instance_name: a\n"
                         "  config: {minute: 1}\n- name: rate-limiting\n  instance_name: b\n"
                         "  config: {minute: 2}\n")
        r = self.config("sync", dup)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("nothing was changed", r.stderr)
        self.assertEqual(self.names("/services"), ["example_service"])
        self.assertEqual(self.config("diff", SEED).stdout, "no changes\n")

    def test_5_select_tag(self):
        self.sync_seed()
        team = self.write("team.yaml", "_format_version: '3.0'\nservices:\n"
                          "- name: team-svc\n  host: team.internal\n")
        r = self.config("sync", team, "--select-tag", "team-b")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("creating service team-svc", r.stdout)
        self.assertNotIn("deleting", r.stdout)   # untagged entities are out of scope
        svc = self.admin("/services/team-svc")
        self.assertEqual(svc["tags"], ["team-b"])
        self.assertEqual(self.names("/services"), ["example_service", "team-svc"])
        empty = self.write("empty.yaml", "_format_version: '3.0'\n")
        r = self.config("sync", empty, "--select-tag", "team-b")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("deleting service team-svc", r.stdout)
        self.assertIn("Deleted: 1\n", r.stdout)
        self.assertEqual(self.names("/services"), ["example_service"])

    def test_6_dump_round_trips(self):
        self.sync_seed()
        r = self.config("dump")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('_format_version: "3.0"\n'), r.stdout[:200])
        self.assertIn("name: example_service", r.stdout)
        for name in ("dump.yaml", "dump.json"):
            path = os.path.join(self.dir, name)
            r = self.config("dump", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.config("diff", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "no changes\n")
        with open(os.path.join(self.dir, "dump.json")) as f:
            self.assertTrue(f.read().lstrip().startswith("{"))

    def test_7_admin_api_config_endpoint(self):
        with open(SEED) as f:
            seed_text = f.read()
        url = "http://127.0.0.1:%d/config" % self.admin_port
        r = h.request("POST", url, body=seed_text, headers={"Content-Type": "application/x-yaml"})
        self.assertEqual(r.status, 201, r)
        body = r.json()
        self.assertEqual(body["services"][SERVICE_ID]["name"], "example_service")
        self.assertEqual(body["plugins"][KEYAUTH_PLUGIN_ID]["enabled"], False)
        r = h.request("POST", url + "?check_hash=1", body=seed_text,
                      headers={"Content-Type": "application/x-yaml"})
        self.assertEqual(r.status, 304, r)

        # A JSON body replaces the whole configuration at once.
        r = h.request("POST", url, json_body={
            "_format_version": "3.0",
            "services": [{"name": "only", "url": "http://only.internal:8080/v1",
                          "routes": [{"name": "only-route", "paths": ["/only"]}]}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.names("/services"), ["only"])
        self.assertEqual(self.names("/routes"), ["only-route"])
        self.assertEqual(self.admin("/plugins")["data"], [])
        self.assertEqual(self.admin("/consumers")["data"], [])
        svc = self.admin("/services/only")
        self.assertEqual((svc["host"], svc["port"], svc["path"]), ("only.internal", 8080, "/v1"))

        # The configuration as text in a `config` field, as Kong's clients send it.
        r = h.request("POST", url, json_body={"config": seed_text})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.names("/services"), ["example_service"])

        # Errors: Kong's code 14 body; with flatten_errors, the flattened list.
        bad = {"_format_version": "3.0",
               "services": [{"name": "bad", "host": "h", "port": "many",
                             "routes": [{"name": "r", "paths": ["/r"], "strip_path": "maybe"}]}]}
        r = h.request("POST", url, json_body=bad)
        self.assertEqual(r.status, 400, r)
        err = r.json()
        self.assertEqual((err["code"], err["name"]), (14, "invalid declarative configuration"))
        self.assertTrue(err["message"].startswith("declarative config is invalid: "), err)
        self.assertIn("port", err["fields"]["services"][0])
        self.assertIn("strip_path", err["fields"]["services"][0]["routes"][0])
        r = h.request("POST", url + "?flatten_errors=1", json_body=bad)
        self.assertEqual(r.status, 400, r)
        flat = r.json()["flattened_errors"]
        self.assertEqual(sorted((e["entity_type"], e["entity_name"]) for e in flat),
                         [("route", "r"), ("service", "bad")])
        self.assertEqual(self.names("/services"), ["example_service"])   # nothing changed
        r = h.request("POST", url, body=b"", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json(), {"message": "expected a declarative configuration"})
        r = h.request("POST", url, body="services: [", headers={"Content-Type": "text/yaml"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("failed parsing declarative configuration", r.json()["fields"]["error"])

        # GET /config exports what is stored; the export loads back unchanged.
        r = h.request("GET", url)
        self.assertEqual(r.status, 200, r)
        text = r.json()["config"]
        self.assertTrue(text.startswith('_format_version: "3.0"\n'), text[:100])
        r = h.request("POST", url + "?check_hash=1", body=text,
                      headers={"Content-Type": "application/x-yaml"})
        self.assertEqual(r.status, 304, r)
        r = h.request("GET", url + "?format=json")
        self.assertEqual(r.status, 200, r)
        exported = json.loads(r.json()["config"])
        self.assertEqual([s["id"] for s in exported["services"]], [SERVICE_ID])

    def revision(self):
        return int(h.psql("SELECT revision FROM config_revision", db=self.cp.db).strip())

    def test_8_one_revision_per_sync_swaps_and_repoints(self):
        self.sync_seed()
        rev = self.revision()
        self.assertEqual(self.config("sync", SEED).stdout, "no changes\n")
        self.assertEqual(self.revision(), rev)   # nothing written, no new snapshot
        a, b = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
        first = self.write("swap1.yaml", "_format_version: '3.0'\nservices:\n"
                           "- {id: %s, name: alpha, host: a.internal}\n"
                           "- {id: %s, name: beta, host: b.internal}\n"
                           "routes:\n- {name: r, paths: [/r], service: alpha}\n" % (a, b))
        r = self.config("sync", first)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.revision(), rev + 1)   # one transaction, one revision
        # Names swapped between the two rows, and the route moved to a service that replaces
        # the one it pointed at: both need the ordering of the sync to apply.
        c = "33333333-3333-4333-8333-333333333333"
        second = self.write("swap2.yaml", "_format_version: '3.0'\nservices:\n"
                            "- {id: %s, name: beta, host: a.internal}\n"
                            "- {id: %s, name: gamma, host: c.internal}\n"
                            "routes:\n- {name: r, paths: [/r], service: gamma}\n" % (a, c))
        r = self.config("sync", second)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.revision(), rev + 2)
        self.assertEqual(self.admin("/services/beta")["id"], a)
        self.assertEqual(self.admin("/services/gamma")["id"], c)
        self.assertEqual(self.admin("/routes/r")["service"], {"id": c})
        self.assertEqual(self.names("/services"), ["beta", "gamma"])
        self.assertEqual(self.config("diff", second).stdout, "no changes\n")

    def test_9_unnamed_entities_resync_without_changes(self):
        path = self.write("unnamed.yaml", "_format_version: '3.0'\nservices:\n"
                          "- url: http://anon.internal:8080\n  routes:\n  - paths: [/anon]\n"
                          "consumers:\n- custom_id: c-only\n")
        r = self.config("sync", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.admin("/routes")["data"]), 1)
        r = self.config("diff", path)
        self.assertEqual(r.stdout, "no changes\n")

    def test_10_certificates_with_nested_snis(self):
        key = os.path.join(self.dir, "tls.key")
        crt = os.path.join(self.dir, "tls.crt")
        r = h.run_cmd(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                       "-out", crt, "-days", "2", "-subj", "/CN=a.example.test"])
        self.assertEqual(r.returncode, 0, r.stderr)

        def block(path):   # the PEM file as a YAML literal block under a list entry
            with open(path) as f:
                return "".join("    " + line for line in f.read().splitlines(True))
        text = ("_format_version: '3.0'\ncertificates:\n- cert: |\n" + block(crt) +
                "  key: |\n" + block(key) +
                "  snis:\n  - name: a.example.test\n  - name: '*.wild.example.test'\n")
        path = self.write("certs.yaml", text)
        r = self.config("sync", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        certs = self.admin("/certificates")["data"]
        self.assertEqual(len(certs), 1)
        snis = self.admin("/certificates/%s/snis" % certs[0]["id"])["data"]
        self.assertEqual(sorted(s["name"] for s in snis), ["*.wild.example.test", "a.example.test"])
        self.assertEqual(self.config("diff", path).stdout, "no changes\n")
        # The export round-trips the PEM blocks.
        dump = os.path.join(self.dir, "certs-dump.yaml")
        self.assertEqual(self.config("dump", dump).returncode, 0)
        self.assertEqual(self.config("diff", dump).stdout, "no changes\n")


if __name__ == "__main__":
    h.main()
