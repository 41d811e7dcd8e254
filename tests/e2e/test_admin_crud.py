# tests/e2e/test_admin_crud.py: the Admin API against a real portico-cp and a real PostgreSQL:
# CRUD of every entity (form, JSON and multipart bodies), nested and foreign endpoints, PUT
# upserts by name and by id, cascades, pagination, tag filters, the seed tutorial's commands
# verbatim, and the database contract the snapshot builder relies on (doc column, revision).
import json
import uuid
import unittest

import harness as h


def multipart(fields, boundary="PorticoBoundary42"):
    """Encodes [(name, value)] as multipart/form-data (what curl -F sends)."""
    out = []
    for k, v in fields:
        out.append("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                   % (boundary, k, v))
    out.append("--%s--\r\n" % boundary)
    return "".join(out).encode(), "multipart/form-data; boundary=%s" % boundary


class AdminCrudTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp = h.ControlPlane()

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def a(self, method, path, **kw):
        return self.cp.admin(method, path, **kw)

    def revision(self):
        return int(h.psql("SELECT revision FROM config_revision", db=self.cp.db).strip())

    def stored_doc(self, table, id_):
        out = h.psql("SELECT doc::text FROM %s WHERE id = '%s'" % (table, id_), db=self.cp.db)
        return json.loads(out) if out.strip() else None

    # ------------------------------------------------------------------------------------
    def test_services_crud_and_upsert(self):
        rev0 = self.revision()
        r = self.a("POST", "/services", form={"name": "svc-crud", "host": "crud.test",
                                              "port": "8080"})
        self.assertEqual(r.status, 201, r)
        svc = r.json()
        self.assertEqual(svc["name"], "svc-crud")
        self.assertEqual(svc["host"], "crud.test")
        self.assertEqual(svc["port"], 8080)
        self.assertEqual(svc["protocol"], "http")
        self.assertEqual(svc["retries"], 5)
        self.assertIsNone(svc["path"])
        self.assertTrue(h.uuid.UUID(svc["id"]))
        self.assertIsInstance(svc["created_at"], int)
        # the write bumped the revision, and the stored doc is exactly what the API returned
        self.assertEqual(self.revision(), rev0 + 1)
        self.assertEqual(self.stored_doc("services", svc["id"]), svc)

        for key in (svc["id"], "svc-crud", svc["id"].upper()):
            r = self.a("GET", "/services/" + key)
            self.assertEqual(r.status, 200, key)
            self.assertEqual(r.json(), svc)

        r = self.a("PATCH", "/services/svc-crud", json_body={"port": 9090, "path": "/v1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["port"], 9090)
        self.assertEqual(r.json()["path"], "/v1")
        self.assertEqual(r.json()["host"], "crud.test")
        self.assertEqual(r.json()["id"], svc["id"])

        # PUT by name replaces the whole entity (absent fields back to defaults), same id
        r = self.a("PUT", "/services/svc-crud", json_body={"host": "other.test"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], svc["id"])
        self.assertEqual(r.json()["port"], 80)
        self.assertIsNone(r.json()["path"])
        self.assertEqual(r.json()["name"], "svc-crud")

        # PUT by name creates (200)
        r = self.a("PUT", "/services/svc-put-new", form={"host": "new.test"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["name"], "svc-put-new")
        self.assertEqual(self.a("GET", "/services/svc-put-new").status, 200)

        # PUT by id creates with that id, then replaces
        new_id = str(uuid.uuid4())
        r = self.a("PUT", "/services/" + new_id, json_body={"host": "byid.test", "name": "svc-byid"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], new_id)
        r = self.a("PUT", "/services/" + new_id, json_body={"host": "byid2.test"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["host"], "byid2.test")
        self.assertIsNone(r.json()["name"])

        for key in ("svc-crud", "svc-put-new", new_id):
            self.assertEqual(self.a("DELETE", "/services/" + key).status, 204)
            self.assertEqual(self.a("GET", "/services/" + key).status, 404)
        # DELETE of something absent is 204 too, and does not bump the revision
        rev = self.revision()
        self.assertEqual(self.a("DELETE", "/services/svc-crud").status, 204)
        self.assertEqual(self.a("DELETE", "/services/" + str(uuid.uuid4())).status, 204)
        self.assertEqual(self.revision(), rev)
        self.assertIsNone(self.stored_doc("services", svc["id"]))

    def test_notify_on_commit(self):
        listener = h.subprocess.Popen(
            ["psql", "-X", "-h", h.PG_HOST, "-p", str(h.PG_PORT), "-U", h.PG_USER, "-d",
             self.cp.db, "-c", "LISTEN portico_config", "-c", "SELECT pg_sleep(3)"],
            stdout=h.subprocess.PIPE, stderr=h.subprocess.STDOUT, text=True)
        # psql runs its commands in order: once its session sleeps, it is listening (a fixed
        # delay was not enough on a loaded machine)
        h.wait_for(lambda: h.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                                  "AND query = 'SELECT pg_sleep(3)'" % self.cp.db).strip() != "0",
                   timeout=15, what="psql listening")
        r = self.a("POST", "/upstreams", form={"name": "notify-up"})
        self.assertEqual(r.status, 201)
        rev = self.revision()
        out, _ = listener.communicate(timeout=20)
        self.assertIn('"portico_config" with payload "%d"' % rev, out)
        self.assertEqual(self.a("DELETE", "/upstreams/notify-up").status, 204)
        self.assertEqual(self.revision(), rev + 1)

    def test_body_encodings(self):
        # JSON
        r = self.a("POST", "/routes", json_body={"name": "enc-json", "paths": ["/a", "/b"],
                                                 "hosts": ["x.test"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["paths"], ["/a", "/b"])
        # form: repeated keys, key[] and key[n]
        r = self.a("POST", "/routes", body="name=enc-form&paths[]=/c&paths[]=/d&hosts=h1.test"
                   "&hosts=h2.test&methods[2]=POST&methods[1]=GET",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 201, r)
        route = r.json()
        self.assertEqual(route["paths"], ["/c", "/d"])
        self.assertEqual(route["hosts"], ["h1.test", "h2.test"])
        self.assertEqual(route["methods"], ["GET", "POST"])
        # form: one value for an array field becomes a one-element array; booleans coerced
        r = self.a("POST", "/routes", form={"name": "enc-form1", "paths": "/e",
                                            "strip_path": "false"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["paths"], ["/e"])
        self.assertIs(r.json()["strip_path"], False)
        # multipart
        body, ct = multipart([("name", "enc-multi"), ("paths[]", "/f"), ("paths[]", "/g")])
        r = self.a("POST", "/routes", body=body, headers={"Content-Type": ct})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["paths"], ["/f", "/g"])
        # form with a dotted foreign key given by name
        self.assertEqual(self.a("POST", "/services", form={"name": "enc-svc",
                                                           "host": "e.test"}).status, 201)
        r = self.a("POST", "/routes", form={"name": "enc-ref", "paths": "/h",
                                            "service.name": "enc-svc"})
        self.assertEqual(r.status, 201, r)
        svc_id = self.a("GET", "/services/enc-svc").json()["id"]
        self.assertEqual(r.json()["service"], {"id": svc_id})
        for n in ("enc-json", "enc-form", "enc-form1", "enc-multi", "enc-ref"):
            self.assertEqual(self.a("DELETE", "/routes/" + n).status, 204)
        self.assertEqual(self.a("DELETE", "/services/enc-svc").status, 204)

    def test_routes_nested_and_restrict(self):
        r = self.a("POST", "/services", form={"name": "nest-svc", "host": "n.test"})
        self.assertEqual(r.status, 201)
        svc = r.json()
        r = self.a("POST", "/services/nest-svc/routes", form={"name": "nest-r1", "paths": "/n1"})
        self.assertEqual(r.status, 201, r)
        route = r.json()
        self.assertEqual(route["service"], {"id": svc["id"]})
        r = self.a("POST", "/services/%s/routes" % svc["id"], json_body={"paths": ["/n2"]})
        self.assertEqual(r.status, 201, r)
        unnamed = r.json()

        r = self.a("GET", "/services/nest-svc/routes")
        self.assertEqual(r.status, 200)
        self.assertEqual(sorted(x["id"] for x in r.json()["data"]),
                         sorted([route["id"], unnamed["id"]]))
        self.assertIsNone(r.json()["next"])
        self.assertEqual(self.a("GET", "/services/nest-svc/routes/nest-r1").json()["id"],
                         route["id"])
        self.assertEqual(self.a("GET", "/routes/nest-r1/service").json(), svc)
        r = self.a("PATCH", "/routes/nest-r1/service", form={"port": "81"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["port"], 81)
        self.assertEqual(self.a("DELETE", "/routes/nest-r1/service").status, 405)
        self.assertEqual(self.a("DELETE", "/routes/nest-r1/service").json(),
                         {"message": "Method not allowed"})
        # PUT on the foreign entity of a route without a service creates and associates one
        r = self.a("POST", "/routes", json_body={"name": "nest-lone", "paths": ["/lone"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.a("GET", "/routes/nest-lone/service").status, 404)
        r = self.a("PUT", "/routes/nest-lone/service", form={"host": "assoc.test"})
        self.assertEqual(r.status, 200, r)
        assoc = r.json()
        self.assertEqual(self.a("GET", "/routes/nest-lone").json()["service"], {"id": assoc["id"]})
        self.assertEqual(self.a("GET", "/routes/nest-lone/service").json()["host"], "assoc.test")
        self.assertEqual(self.a("DELETE", "/routes/nest-lone").status, 204)
        self.assertEqual(self.a("DELETE", "/services/" + assoc["id"]).status, 204)
        r = self.a("PATCH", "/services/nest-svc/routes/nest-r1", json_body={"paths": ["/n1b"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["paths"], ["/n1b"])

        # a route of another service is not found under this one; unknown parent is 404
        self.assertEqual(self.a("POST", "/services", form={"name": "nest-other",
                                                           "host": "o.test"}).status, 201)
        self.assertEqual(self.a("GET", "/services/nest-other/routes/nest-r1").status, 404)
        self.assertEqual(self.a("GET", "/services/nope-svc/routes").status, 404)
        self.assertEqual(self.a("POST", "/services/nope-svc/routes",
                                form={"paths": "/z"}).status, 404)

        # restrict: a service with routes cannot be deleted
        r = self.a("DELETE", "/services/nest-svc")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"code": 4, "name": "foreign key violation",
                                    "message": "an existing 'routes' entity references this "
                                               "'services' entity",
                                    "fields": {"@referenced_by": "routes"}})
        self.assertEqual(self.a("GET", "/services/nest-svc").status, 200)
        self.assertEqual(self.a("DELETE", "/services/nest-svc/routes/nest-r1").status, 204)
        self.assertEqual(self.a("DELETE", "/routes/" + unnamed["id"]).status, 204)
        self.assertEqual(self.a("DELETE", "/services/nest-svc").status, 204)
        self.assertEqual(self.a("DELETE", "/services/nest-other").status, 204)

    def test_seed_tutorial_and_targets(self):
        # the tutorial's earlier pages created example_service
        r = self.a("POST", "/services", form={"name": "example_service",
                                              "url": "http://mockbin.org"})
        if r.status != 201:  # a schema without the url shorthand: give host directly
            r = self.a("POST", "/services", form={"name": "example_service",
                                                  "host": "mockbin.org"})
        self.assertEqual(r.status, 201, r)
        # curl -X POST http://<admin-hostname>:8001/upstreams --data name=example_upstream
        r = self.a("POST", "/upstreams", form=[("name", "example_upstream")])
        self.assertEqual(r.status, 201, r)
        upstream = r.json()
        self.assertEqual(upstream["algorithm"], "round-robin")
        # curl -X PATCH .../services/example_service --data host='example_upstream'
        r = self.a("PATCH", "/services/example_service", form=[("host", "example_upstream")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["host"], "example_upstream")
        # curl -X POST .../upstreams/example_upstream/targets --data target='mockbin.org:80'
        r1 = self.a("POST", "/upstreams/example_upstream/targets",
                    form=[("target", "mockbin.org:80")])
        self.assertEqual(r1.status, 201, r1)
        r2 = self.a("POST", "/upstreams/example_upstream/targets",
                    form=[("target", "httpbin.org:80")])
        self.assertEqual(r2.status, 201, r2)
        t1, t2 = r1.json(), r2.json()
        self.assertEqual(t1["upstream"], {"id": upstream["id"]})
        self.assertEqual(t1["weight"], 100)
        self.assertIsInstance(t1["created_at"], (int, float))

        # the same target twice: 409
        r = self.a("POST", "/upstreams/example_upstream/targets",
                   form=[("target", "httpbin.org:80")])
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["code"], 5)
        self.assertEqual(r.json()["name"], "unique constraint violation")

        # newest first
        r = self.a("GET", "/upstreams/example_upstream/targets")
        self.assertEqual(r.status, 200)
        self.assertEqual([t["target"] for t in r.json()["data"]],
                         ["httpbin.org:80", "mockbin.org:80"])
        r = self.a("GET", "/upstreams/%s/targets/all" % upstream["id"])
        self.assertEqual(len(r.json()["data"]), 2)
        # by host:port and by id, within the upstream only
        self.assertEqual(self.a("GET", "/upstreams/example_upstream/targets/mockbin.org:80")
                         .json()["id"], t1["id"])
        self.assertEqual(self.a("GET", "/upstreams/example_upstream/targets/" + t2["id"])
                         .json()["target"], "httpbin.org:80")
        r = self.a("PATCH", "/upstreams/example_upstream/targets/mockbin.org:80",
                   form={"weight": "0"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["weight"], 0)
        self.assertEqual(self.a("POST", "/upstreams", form={"name": "other_upstream"}).status, 201)
        self.assertEqual(self.a("GET", "/upstreams/other_upstream/targets/" + t1["id"]).status,
                         404)
        # targets integer offsets
        r = self.a("GET", "/upstreams/example_upstream/targets?size=1")
        self.assertEqual(r.json()["offset"], "1")
        self.assertEqual(r.json()["data"][0]["id"], t2["id"])
        self.assertTrue(r.json()["next"].startswith("/upstreams/example_upstream/targets?offset=1"))
        r = self.a("GET", r.json()["next"])
        self.assertEqual(r.json()["data"][0]["id"], t1["id"])
        self.assertIsNone(r.json()["next"])
        # /targets is not an endpoint; collections refuse PUT
        self.assertEqual(self.a("GET", "/targets").status, 404)
        self.assertEqual(self.a("GET", "/targets/" + t1["id"]).status, 404)
        r = self.a("PUT", "/upstreams/example_upstream/targets", form={"target": "x:1"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json(), {"message": "Method not allowed"})

        # cascade: deleting the upstream deletes its targets
        self.assertEqual(self.a("DELETE", "/upstreams/other_upstream").status, 204)
        self.assertEqual(self.a("DELETE",
                                "/upstreams/example_upstream/targets/httpbin.org:80").status, 204)
        self.assertEqual(self.a("DELETE", "/upstreams/example_upstream").status, 204)
        left = h.psql("SELECT count(*) FROM targets WHERE doc->'upstream'->>'id' = '%s'"
                      % upstream["id"], db=self.cp.db)
        self.assertEqual(left.strip(), "0")
        self.assertEqual(self.a("DELETE", "/services/example_service").status, 204)

    def test_consumers_credentials_plugins_cascade(self):
        r = self.a("POST", "/consumers", form={"username": "alice", "custom_id": "c-alice"})
        self.assertEqual(r.status, 201, r)
        consumer = r.json()
        r = self.a("GET", "/consumers?custom_id=c-alice")
        self.assertEqual(r.json(), {"data": [consumer], "next": None})
        r = self.a("GET", "/consumers?custom_id=")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"message": "custom_id must be an unempty string"})
        # unique username: 409 with Kong's message
        r = self.a("POST", "/consumers", json_body={"username": "alice"})
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json(), {"code": 5, "name": "unique constraint violation",
                                    "message": "UNIQUE violation detected on "
                                               "'{username=\"alice\"}'",
                                    "fields": {"username": "alice"}})

        r = self.a("POST", "/consumers/alice/key-auth", form={"key": "alice-key"})
        self.assertEqual(r.status, 201, r)
        cred = r.json()
        self.assertEqual(cred["consumer"], {"id": consumer["id"]})
        r = self.a("POST", "/consumers/alice/key-auth")
        self.assertEqual(r.status, 201, r)
        auto = r.json()
        self.assertTrue(auto["key"])
        self.assertNotEqual(auto["key"], "alice-key")
        self.assertEqual(self.a("GET", "/consumers/alice/key-auth/alice-key").json()["id"],
                         cred["id"])
        self.assertEqual(self.a("GET", "/key-auths/" + cred["id"]).json()["key"], "alice-key")
        self.assertEqual(len(self.a("GET", "/consumers/alice/key-auth").json()["data"]), 2)
        self.assertEqual(self.a("GET", "/key-auths/alice-key/consumer").json()["id"],
                         consumer["id"])
        r = self.a("POST", "/consumers/alice/key-auth", form={"key": "alice-key"})
        self.assertEqual(r.status, 409)

        self.assertEqual(self.a("POST", "/services", form={"name": "plug-svc",
                                                           "host": "p.test"}).status, 201)
        r = self.a("POST", "/services/plug-svc/plugins", form={"name": "key-auth"})
        self.assertEqual(r.status, 201, r)
        plugin = r.json()
        svc_id = self.a("GET", "/services/plug-svc").json()["id"]
        self.assertEqual(plugin["service"], {"id": svc_id})
        r = self.a("POST", "/services/plug-svc/plugins", form={"name": "key-auth"})
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json()["fields"], {"consumer": None, "name": "key-auth",
                                              "route": None, "service": {"id": svc_id}})
        self.assertEqual(self.a("GET", "/services/plug-svc/plugins").json()["data"][0]["id"],
                         plugin["id"])
        self.assertEqual(self.a("GET", "/plugins/" + plugin["id"]).status, 200)
        # plugin on a consumer: the consumer's deletion cascades to it and to credentials
        r = self.a("POST", "/consumers/alice/plugins", json_body={
            "name": "rate-limiting", "config": {"minute": 5, "policy": "local"}})
        self.assertEqual(r.status, 201, r)
        cplugin = r.json()
        self.assertEqual(self.a("DELETE", "/consumers/alice").status, 204)
        self.assertEqual(self.a("GET", "/key-auths/" + cred["id"]).status, 404)
        self.assertEqual(self.a("GET", "/plugins/" + cplugin["id"]).status, 404)
        # service deletion cascades to its plugins
        self.assertEqual(self.a("DELETE", "/services/plug-svc").status, 204)
        self.assertEqual(self.a("GET", "/plugins/" + plugin["id"]).status, 404)

    def test_plugins_on_routes_and_instance_names(self):
        r = self.a("POST", "/routes", json_body={"name": "plug-route", "paths": ["/pr"]})
        self.assertEqual(r.status, 201, r)
        route = r.json()
        body, ct = multipart([("name", "rate-limiting"), ("config.minute", "7"),
                              ("config.policy", "local"), ("instance_name", "rl-route")])
        r = self.a("POST", "/routes/plug-route/plugins", body=body, headers={"Content-Type": ct})
        self.assertEqual(r.status, 201, r)
        plugin = r.json()
        self.assertEqual(plugin["route"], {"id": route["id"]})
        self.assertEqual(plugin["config"]["minute"], 7)
        self.assertEqual(self.a("GET", "/plugins/rl-route").json()["id"], plugin["id"])
        self.assertEqual(self.a("GET", "/routes/plug-route/plugins/rl-route").json()["id"],
                         plugin["id"])
        r = self.a("PATCH", "/plugins/rl-route", form={"config.minute": "9"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["config"]["minute"], 9)
        self.assertEqual(r.json()["config"]["policy"], "local")
        # PUT by instance name creates a global plugin; the global list holds both
        r = self.a("PUT", "/plugins/global-rl", json_body={"name": "rate-limiting",
                                                           "config": {"hour": 100}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["instance_name"], "global-rl")
        self.assertIsNone(r.json()["route"])
        ids = {p["id"] for p in self.a("GET", "/plugins").json()["data"]}
        self.assertTrue({plugin["id"], r.json()["id"]} <= ids)
        self.assertEqual(len(self.a("GET", "/routes/plug-route/plugins").json()["data"]), 1)
        # deleting the route cascades to its plugin
        self.assertEqual(self.a("DELETE", "/routes/plug-route").status, 204)
        self.assertEqual(self.a("GET", "/plugins/rl-route").status, 404)
        self.assertEqual(self.a("DELETE", "/plugins/global-rl").status, 204)

    def test_pagination_and_tags(self):
        ids = []
        for i in range(7):
            tags = ["page"] + (["even"] if i % 2 == 0 else ["odd"])
            r = self.a("POST", "/consumers", json_body={"username": "pg-%d" % i, "tags": tags})
            self.assertEqual(r.status, 201, r)
            ids.append(r.json()["id"])
        seen = []
        r = self.a("GET", "/consumers?tags=page&size=3")
        pages = 0
        while True:
            self.assertEqual(r.status, 200, r)
            body = r.json()
            pages += 1
            seen += [c["id"] for c in body["data"]]
            if body["next"] is None:
                self.assertNotIn("offset", body)
                break
            self.assertEqual(len(body["data"]), 3)
            self.assertIn("offset", body)
            self.assertIn("size=3", body["next"])
            self.assertIn("tags=page", body["next"])
            self.assertTrue(body["next"].startswith("/consumers?offset="))
            r = self.a("GET", body["next"])
        self.assertEqual(pages, 3)
        self.assertEqual(seen, sorted(ids))  # primary-key order, no repeats

        r = self.a("GET", "/consumers?tags=page,even")
        self.assertEqual(len(r.json()["data"]), 4)
        r = self.a("GET", "/consumers?tags=even/odd")
        self.assertEqual(len(r.json()["data"]), 7)
        r = self.a("GET", "/consumers?tags=even,odd")
        self.assertEqual(r.json(), {"data": [], "next": None})
        self.assertIn(b'"data":[]', r.body)
        r = self.a("GET", "/consumers?tags=")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"code": 11, "name": "invalid options",
                                    "message": "invalid option (tags: cannot be null)",
                                    "options": {"tags": "cannot be null"}})

        r = self.a("GET", "/tags/odd")
        self.assertEqual(r.status, 200)
        self.assertEqual(sorted(x["entity_id"] for x in r.json()["data"]),
                         sorted(ids[1::2]))
        self.assertTrue(all(x["entity_name"] == "consumers" and x["tag"] == "odd"
                            for x in r.json()["data"]))
        r = self.a("GET", "/tags?size=5")
        self.assertEqual(len(r.json()["data"]), 5)
        r2 = self.a("GET", r.json()["next"])
        self.assertEqual(r2.status, 200)
        self.assertNotEqual(r2.json()["data"][0], r.json()["data"][0])

        r = self.a("GET", "/consumers?size=abc")
        self.assertEqual(r.json(), {"code": 9, "name": "invalid size",
                                    "message": "size must be a number"})
        r = self.a("GET", "/consumers?size=5000")
        self.assertEqual(r.json()["message"], "size must be an integer between 1 and 1000")
        r = self.a("GET", "/consumers?offset=%21%21")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"code": 7, "name": "invalid offset",
                                    "message": "'!!' is not a valid offset: bad base64 encoding"})
        for i in range(7):
            self.assertEqual(self.a("DELETE", "/consumers/pg-%d" % i).status, 204)

    def test_error_classes(self):
        self.assertEqual(self.a("GET", "/nothing-here").json(), {"message": "Not found"})
        self.assertEqual(self.a("GET", "/nothing-here").status, 404)
        r = self.a("DELETE", "/services")
        self.assertEqual((r.status, r.json()), (405, {"message": "Method not allowed"}))
        r = self.a("POST", "/services", body="{not json", headers={"Content-Type":
                                                                   "application/json"})
        self.assertEqual((r.status, r.json()), (400, {"message": "Cannot parse JSON body"}))
        r = self.a("POST", "/services", body="host=x", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        # GET ignores bodies, even invalid JSON
        r = self.a("GET", "/services", body="{bad", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200)
        # schema violation
        r = self.a("POST", "/services", json_body={"name": "bad-svc"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["code"], 2)
        self.assertEqual(r.json()["name"], "schema violation")
        self.assertEqual(r.json()["fields"]["host"], "required field missing")
        # foreign key to a missing entity
        missing = str(uuid.uuid4())
        r = self.a("POST", "/routes", json_body={"paths": ["/fk"], "service": {"id": missing}})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"code": 4, "name": "foreign key violation",
                                    "message": "the foreign key '{id=\"%s\"}' does not reference "
                                               "an existing 'services' entity." % missing,
                                    "fields": {"service": {"id": missing}}})
        r = self.a("POST", "/routes", json_body={"paths": ["/fk"], "service": {"name": "nope"}})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["code"], 4)
        # primary key violation
        r = self.a("POST", "/upstreams", form={"name": "pk-up"})
        self.assertEqual(r.status, 201)
        up = r.json()
        r = self.a("POST", "/upstreams", json_body={"name": "pk-up2", "id": up["id"]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json(), {"code": 3, "name": "primary key violation",
                                    "message": "primary key violation on key '{id=\"%s\"}'"
                                               % up["id"], "fields": {"id": up["id"]}})
        # unique name
        r = self.a("POST", "/upstreams", form={"name": "pk-up"})
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json(), {"code": 5, "name": "unique constraint violation",
                                    "message": "UNIQUE violation detected on '{name=\"pk-up\"}'",
                                    "fields": {"name": "pk-up"}})
        # a failed write does not bump the revision
        rev = self.revision()
        self.a("POST", "/upstreams", form={"name": "pk-up"})
        self.assertEqual(self.revision(), rev)
        self.assertEqual(self.a("DELETE", "/upstreams/pk-up").status, 204)
        self.assertEqual(self.a("GET", "/services/%zz").status, 404)
        self.assertEqual(self.a("PATCH", "/services/not-there", form={"port": "1"}).status, 404)

    def test_certificates_and_snis(self):
        d = h.make_tmpdir()
        crt, key = d + "/c.crt", d + "/c.key"
        h.subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                          key, "-out", crt, "-days", "2", "-subj", "/CN=cert.test", "-addext",
                          "basicConstraints=critical,CA:TRUE"], check=True,
                         capture_output=True)
        pem_crt, pem_key = open(crt).read(), open(key).read()
        r = self.a("POST", "/certificates", json_body={"cert": pem_crt, "key": pem_key,
                                                       "snis": ["a.cert.test", "b.cert.test"]})
        self.assertEqual(r.status, 201, r)
        cert = r.json()
        self.assertEqual(sorted(cert["snis"]), ["a.cert.test", "b.cert.test"])
        # the stored doc holds no transient field; the SNIs are entities of their own
        self.assertNotIn("snis", self.stored_doc("certificates", cert["id"]))
        r = self.a("GET", "/certificates/%s/snis" % cert["id"])
        self.assertEqual(sorted(s["name"] for s in r.json()["data"]),
                         ["a.cert.test", "b.cert.test"])
        self.assertTrue(all(s["certificate"] == {"id": cert["id"]} for s in r.json()["data"]))
        # a certificate is found by one of its SNI names
        self.assertEqual(self.a("GET", "/certificates/b.cert.test").json()["id"], cert["id"])
        self.assertEqual(self.a("GET", "/snis/a.cert.test/certificate").json()["id"], cert["id"])
        # PATCH with snis replaces them
        r = self.a("PATCH", "/certificates/" + cert["id"], json_body={"snis": ["c.cert.test"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["snis"], ["c.cert.test"])
        self.assertEqual(self.a("GET", "/snis/a.cert.test").status, 404)
        # an SNI name is unique
        r = self.a("POST", "/snis", json_body={"name": "c.cert.test",
                                               "certificate": {"id": cert["id"]}})
        self.assertEqual(r.status, 409, r)
        r = self.a("POST", "/certificates/%s/snis" % cert["id"], form={"name": "d.cert.test"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(sorted(self.a("GET", "/certificates/" + cert["id"]).json()["snis"]),
                         ["c.cert.test", "d.cert.test"])
        self.assertEqual(self.a("DELETE", "/certificates/" + cert["id"]).status, 204)
        self.assertEqual(self.a("GET", "/snis/c.cert.test").status, 404)
        # CA certificates
        r = self.a("POST", "/ca_certificates", json_body={"cert": pem_crt})
        self.assertEqual(r.status, 201, r)
        if r.status == 201:
            self.assertEqual(self.a("GET", "/ca_certificates/" + r.json()["id"]).status, 200)
            dup = self.a("POST", "/ca_certificates", json_body={"cert": pem_crt})
            self.assertEqual(dup.status, 409, dup)
            self.assertEqual(self.a("DELETE", "/ca_certificates/" + r.json()["id"]).status, 204)

    def test_info_endpoints(self):
        r = self.a("GET", "/")
        self.assertEqual(r.status, 200)
        info = r.json()
        with open(self.cp.prefix + "/node.id") as f:
            self.assertEqual(f.read().strip(), info["node_id"])
        self.assertIn("key-auth", info["plugins"]["available_on_server"])
        self.assertEqual(info["version"], "0.1.0")
        r = self.a("GET", "/status")
        self.assertIs(r.json()["database"]["reachable"], True)
        self.assertGreater(r.json()["server"]["total_requests"], 0)
        eps = self.a("GET", "/endpoints").json()["data"]
        for p in ("/services/{services}/routes", "/upstreams/{upstreams}/targets/all",
                  "/consumers/{consumers}/key-auth", "/clustering/data-planes"):
            self.assertIn(p, eps)
        self.assertIn("key-auth", self.a("GET", "/plugins/enabled").json()["enabled_plugins"])
        self.assertEqual(self.a("GET", "/schemas/services").status, 200)
        r = self.a("GET", "/schemas/nope")
        self.assertEqual((r.status, r.json()), (404, {"message": "No entity named 'nope'"}))
        self.assertEqual(self.a("GET", "/schemas/plugins/key-auth").status, 200)
        self.assertEqual(self.a("GET", "/schemas/plugins/nope").status, 404)
        r = self.a("POST", "/schemas/services/validate", form={"host": "ok.test"})
        self.assertEqual((r.status, r.json()), (200, {"message": "schema validation successful"}))
        r = self.a("POST", "/schemas/services/validate", json_body={"port": 1})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.a("GET", "/services?tags=zz").json(), {"data": [], "next": None})

        # the data plane registry (rows written by the cluster server)
        self.assertEqual(self.a("GET", "/clustering/data-planes").json(),
                         {"data": [], "next": None})
        dp_id = str(uuid.uuid4())
        h.psql("INSERT INTO clustering_data_planes (id, hostname, ip, version, sync_status, "
               "config_hash, last_seen, connected, applied_revision, control_plane_id, "
               "cert_expiry, labels) VALUES ('%s', 'dp1', '10.0.0.1', '0.1.0', 'normal', "
               "'abc', to_timestamp(1700000000), true, 7, 'cp-a', 1800000000, '{\"a\":\"b\"}')"
               % dp_id, db=self.cp.db)
        r = self.a("GET", "/clustering/data-planes")
        dp = r.json()["data"][0]
        self.assertEqual(dp["id"], dp_id)
        self.assertEqual(dp["hostname"], "dp1")
        self.assertEqual(dp["last_seen"], 1700000000)
        self.assertEqual(dp["applied_revision"], 7)
        # stored connected=true, but last_seen is far older than the liveness bound (3
        # heartbeat intervals + 5 s): its control plane is gone, the row is not connected
        self.assertIs(dp["connected"], False)
        self.assertEqual(dp["labels"], {"a": "b"})
        self.assertEqual(dp["cert_details"], {"expiry_timestamp": 1800000000})
        st = self.a("GET", "/clustering/status").json()
        self.assertEqual(st[dp_id]["hostname"], "dp1")
        self.assertIs(st[dp_id]["connected"], False)
        # seen within the bound: connected
        h.psql("UPDATE clustering_data_planes SET last_seen = now() - interval '30 seconds', "
               "heartbeat_interval = 10", db=self.cp.db)
        self.assertIs(self.a("GET", "/clustering/data-planes").json()["data"][0]["connected"],
                      True)
        self.assertIs(self.a("GET", "/clustering/status").json()[dp_id]["connected"], True)
        # the bound follows the data plane's heartbeat interval: 3 * 5 + 5 = 20 s < 30 s
        h.psql("UPDATE clustering_data_planes SET heartbeat_interval = 5", db=self.cp.db)
        self.assertIs(self.a("GET", "/clustering/data-planes").json()["data"][0]["connected"],
                      False)
        h.psql("DELETE FROM clustering_data_planes", db=self.cp.db)


if __name__ == "__main__":
    h.main()
