# tests/e2e/test_hostile_admin.py: hostile input against the Admin API of a real portico-cp on a
# real PostgreSQL: oversized bodies (Content-Length and chunked), deep JSON and form nesting,
# invalid UTF-8, NUL bytes, SQL metacharacters in every field of every entity and in paths and
# query strings, huge numbers in every numeric field, duplicate keys, bad percent-encoding,
# malformed multipart, header abuse. Each case must get a clear 4xx, store nothing (the config
# revision and every table's row count are unchanged, or the value is stored verbatim when it is
# a legal value), and the server must keep answering; the control plane must stop cleanly with
# no sanitizer report at the end.
import json
import socket
import time
import unittest
import uuid

import harness as h

ENTITIES = ["certificates", "ca_certificates", "services", "routes", "upstreams", "targets",
            "consumers", "plugins", "keyauth_credentials", "snis"]
TABLES = ENTITIES + ["config_revision"]
# Admin API endpoint of each entity (Kong's names)
ENDPOINT = {e: e for e in ENTITIES}
ENDPOINT["keyauth_credentials"] = "key-auths"

# What an attacker tries on a SQL store: quotes, comment, statement separator, dollar quoting,
# backslashes, LIKE wildcards, a NUL escape is tested separately.
SQL_PAYLOADS = ["x'); DROP TABLE consumers; --",
                "\" OR \"\"=\" ' OR '1'='1 $$ $q$ \\' \\\\ %_* ; /* */"]

# Fields the server computes itself, whatever the request says (Kong does the same).
DERIVED = {("ca_certificates", "cert_digest")}

MAX_BODY = 65536  # admin_max_body_size of the control plane under test


def raw_request(port, data, timeout=10, read_all=True):
    """Sends raw bytes on a new connection and returns what came back (bytes), stopping at a
    close, at a complete response, or at the timeout. A reset after the answer is tolerated."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            out += b
            if not read_all and b"\r\n\r\n" in out:
                break
    finally:
        s.close()
    return out


def status_of(raw):
    """The status code of a raw HTTP response, or None."""
    if not raw.startswith(b"HTTP/1."):
        return None
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


class HostileAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp = h.ControlPlane(env={"PORTICO_ADMIN_MAX_BODY_SIZE": str(MAX_BODY)})
        with open(cls.cp.cluster_cert) as f:
            cls.cert = f.read()
        with open(cls.cp.cluster_key) as f:
            cls.key = f.read()
        # parents and a canary that must survive everything
        cls.svc = cls.ok("POST", "/services", json_body={"name": "parent-svc", "host": "p.test"})
        cls.ups = cls.ok("POST", "/upstreams", json_body={"name": "parent-ups"})
        cls.con = cls.ok("POST", "/consumers", json_body={"username": "parent-con"})
        cls.crt = cls.ok("POST", "/certificates", json_body={"cert": cls.cert, "key": cls.key})
        cls.canary = cls.ok("POST", "/consumers", json_body={"username": "canary",
                                                               "custom_id": "canary-1"})
        cls.counted = {"cases": 0, "rejected": 0, "stored_verbatim": 0}

    @classmethod
    def tearDownClass(cls):
        print("\nhostile admin: %(cases)d hostile requests, %(rejected)d refused with 4xx, "
              "%(stored_verbatim)d legal values stored verbatim" % cls.counted)
        cls.cp.stop()  # fails on a crash, a sanitizer report or an unclean exit

    @classmethod
    def ok(cls, method, path, **kw):
        r = cls.cp.admin(method, path, **kw)
        if r.status not in (200, 201):
            raise AssertionError("%s %s: %r" % (method, path, r))
        return r.json()

    # ------------------------------------------------------------------------------------
    # helpers

    def state(self):
        """Row counts of every table and the config revision."""
        q = " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in ENTITIES)
        q += " UNION ALL SELECT 'revision', revision FROM config_revision"
        rows = h.psql(q, db=self.cp.db)
        return dict(line.split("|") for line in rows.strip().splitlines())

    def alive(self):
        r = self.cp.admin("GET", "/status", timeout=5)
        self.assertEqual(r.status, 200, r)
        c = self.cp.admin("GET", "/consumers/canary")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.json()["custom_id"], "canary-1")

    def refused(self, resp_or_status, what, codes=range(400, 500)):
        """Asserts a 4xx (or one of codes)."""
        self.counted["cases"] += 1
        st = resp_or_status if isinstance(resp_or_status, int) or resp_or_status is None \
            else resp_or_status.status
        self.assertIn(st, codes, "%s: got %r" % (what, resp_or_status))
        self.counted["rejected"] += 1
        if not isinstance(resp_or_status, (int, type(None))) and \
                resp_or_status.header("Content-Type", "").startswith("application/json"):
            body = resp_or_status.json()  # a clear error: a JSON object with a message
            self.assertIn("message", body, what)

    def post(self, path, body, ctype):
        return self.cp.admin("POST", path, body=body, headers={"Content-Type": ctype})

    def base_body(self, entity):
        """A valid creation body for entity (unique values each call)."""
        u = uuid.uuid4().hex[:10]
        return {
            "certificates": {"cert": self.cert, "key": self.key},
            "ca_certificates": {"cert": self.cert},
            "services": {"name": "s-" + u, "host": "h.test"},
            "routes": {"name": "r-" + u, "paths": ["/" + u], "service": {"id": self.svc["id"]}},
            "upstreams": {"name": "u-" + u},
            "targets": {"target": "10.1.2.3:%d" % (1000 + int(u[:4], 16) % 60000),
                        "upstream": {"id": self.ups["id"]}},
            "consumers": {"username": "c-" + u},
            "plugins": {"name": "rate-limiting", "config": {"minute": 5},
                        "consumer": {"id": self.con["id"]}, "instance_name": "i-" + u},
            "keyauth_credentials": {"key": "k-" + u, "consumer": {"id": self.con["id"]}},
            "snis": {"name": u + ".example.com", "certificate": {"id": self.crt["id"]}},
        }[entity]

    def fields(self, entity):
        r = self.cp.admin("GET", "/schemas/" + entity)
        self.assertEqual(r.status, 200, r)
        out = []
        for f in r.json()["fields"]:
            (k, v), = f.items()
            out.append((k, v))
        return out

    # ------------------------------------------------------------------------------------
    def test_oversized_bodies(self):
        before = self.state()
        port = self.cp.admin_port
        # announced too large: refused from the headers alone
        raw = raw_request(port, b"POST /consumers HTTP/1.1\r\nHost: a\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        self.refused(status_of(raw), "Content-Length over the limit", codes=(413,))
        raw = raw_request(port, b"POST /consumers HTTP/1.1\r\nHost: a\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}")
        self.refused(status_of(raw), "absurd Content-Length")
        # sent in full
        big = b'{"username":"' + b"a" * (MAX_BODY * 2) + b'"}'
        raw = raw_request(port, b"POST /consumers HTTP/1.1\r\nHost: a\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        self.refused(status_of(raw), "body over the limit", codes=(413,))
        # chunked, the limit crossed in the middle
        chunks = b"".join(b"%x\r\n%s\r\n" % (8192, b"a" * 8192) for _ in range(MAX_BODY // 8192 + 2))
        raw = raw_request(port, b"POST /consumers HTTP/1.1\r\nHost: a\r\nContent-Type: "
                          b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"10\r\n{\"username\":\"aa\r\n" + chunks + b"0\r\n\r\n")
        self.refused(status_of(raw), "chunked body over the limit", codes=(413,))
        raw = raw_request(port, b"POST /consumers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                          b"chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{}")
        self.refused(status_of(raw), "chunk size overflow")
        # a body just under the limit is still fine (refused for its content, not its size)
        ok = b'{"username":"' + b"b" * (MAX_BODY - 64) + b'"}'
        r = self.post("/consumers", ok, "application/json")
        self.assertNotEqual(r.status, 413, r)
        self.assertLess(r.status, 500, r)
        if r.status == 201:
            self.cp.admin("DELETE", "/consumers/" + r.json()["id"])
            before = self.state()
        # header abuse: huge and numerous headers, over-long request line
        raw = raw_request(port, b"GET /status HTTP/1.1\r\nHost: a\r\n" + b"X-A: b\r\n" * 20000
                          + b"\r\n")
        self.refused(status_of(raw), "20000 headers")
        raw = raw_request(port, b"GET /status HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 200000
                          + b"\r\n\r\n")
        self.refused(status_of(raw), "200 kB header")
        raw = raw_request(port, b"GET /" + b"a" * 200000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        self.refused(status_of(raw), "200 kB request line")
        state = self.state()
        self.assertEqual(state, before)
        self.alive()

    def test_deep_nesting(self):
        before = self.state()
        for depth in (100, 5000, 200000):
            # over the body limit the answer is 413, possibly before the body is sent
            for body in (b'{"username":"d","tags":' + b"[" * depth + b"]" * depth + b"}",
                         b'{"username":"d","x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"):
                raw = raw_request(self.cp.admin_port, b"POST /consumers HTTP/1.1\r\nHost: a\r\n"
                                  b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                                  b"Connection: close\r\n\r\n" % len(body) + body)
                self.refused(status_of(raw), "JSON nested %d deep" % depth,
                             codes=(400, 413) if len(body) > MAX_BODY else (400,))
        # upstream healthchecks with an extra level everywhere
        body = json.dumps({"name": "deep-u", "healthchecks": {"active": {"healthy": {
            "interval": {"a": {"b": {"c": [[[[1]]]]}}}}}}})
        self.refused(self.post("/upstreams", body, "application/json"), "deep record")
        # form keys: too deep, huge index, unclosed bracket; each alone in a valid body
        for key in ["a" + ".a" * 100000, "tags" + "[1]" * 50000, "tags[999999999]",
                    "tags[", "username.x", "config.minute.x"]:
            form = "username=f-%s&%s=1" % (uuid.uuid4().hex[:6], key)
            self.refused(self.post("/consumers", form.encode(),
                                   "application/x-www-form-urlencoded"),
                         "form key %r" % key[:40])
            mp = ("--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nm-%s\r\n"
                  "--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n1\r\n--b--\r\n"
                  % (uuid.uuid4().hex[:6], key)).encode()
            self.refused(self.post("/consumers", mp, "multipart/form-data; boundary=b"),
                         "multipart key %r" % key[:40])
        self.assertEqual(self.state(), before)
        self.alive()

    def test_invalid_utf8_and_nul(self):
        before = self.state()
        cases = [
            (b'{"username":"\xff\xfe"}', "application/json"),
            (b'{"username":"\xc3\x28"}', "application/json"),
            (b'{"username":"\xed\xa0\x80"}', "application/json"),      # a surrogate in UTF-8
            (b'{"username":"\\ud800"}', "application/json"),           # a lone surrogate escape
            (b'{"\xff":"x","username":"u8"}', "application/json"),
            (b'{"username":"a\\u0000b"}', "application/json"),
            (b'{"username":"a\x00b"}', "application/json"),
            (b'{"username":"ok","custom_id":"\\u0000"}', "application/json"),
            (b"username=%ff%fe", "application/x-www-form-urlencoded"),
            (b"username=\xff", "application/x-www-form-urlencoded"),
            (b"%ff=1&username=u9", "application/x-www-form-urlencoded"),
            (b"username=a%00b", "application/x-www-form-urlencoded"),
            (b"username=a\x00b", "application/x-www-form-urlencoded"),
            (b"user\x00name=ab&username=z", "application/x-www-form-urlencoded"),
            (b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n\xff\r\n--b--\r\n",
             "multipart/form-data; boundary=b"),
            (b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na\x00b\r\n--b--\r\n",
             "multipart/form-data; boundary=b"),
            (b"--b\r\nContent-Disposition: form-data; name=\"username\x00x\"\r\n\r\nab\r\n--b--\r\n",
             "multipart/form-data; boundary=b"),
        ]
        for body, ct in cases:
            self.refused(self.post("/consumers", body, ct), "%s %r" % (ct[:20], body[:40]))
        # NUL in every string field of a plugin config and a credential
        self.refused(self.cp.admin("POST", "/plugins", json_body={
            "name": "key-auth", "config": {"key_names": ["a\u0000b"]}}), "NUL in key_names")
        self.refused(self.cp.admin("POST", "/consumers/parent-con/key-auth",
                                   json_body={"key": "k\u0000"}), "NUL in a key")
        # paths
        for p in ["/consumers/%ff", "/consumers/%00", "/consumers/a%00b",
                  "/consumers/%c0%af", "/services/%ed%a0%80/routes"]:
            r = self.cp.admin("GET", p)
            self.refused(r, "GET " + p)
        raw = raw_request(self.cp.admin_port, b"GET /consumers/\xff\xfe HTTP/1.1\r\nHost: a\r\n"
                          b"Connection: close\r\n\r\n")
        self.refused(status_of(raw), "raw invalid UTF-8 in the path")
        self.assertEqual(self.state(), before)
        self.alive()

    def test_sql_metacharacters_in_every_field(self):
        """Each top-level field of each entity, in turn, carries each SQL payload (as a string,
        a one-element array or a foreign key id, as the field's type calls for). The answer is
        a 4xx with nothing stored, or a 201 whose stored value is exactly the payload."""
        for entity in ENTITIES:
            for name, spec in self.fields(entity):
                if name in ("created_at", "updated_at"):
                    continue
                for payload in SQL_PAYLOADS:
                    body = self.base_body(entity)
                    t = spec.get("type")
                    if t in ("array", "set"):
                        body[name] = [payload]
                    elif t == "foreign":
                        body[name] = {"id": payload}
                    elif t == "record":
                        body[name] = {"x": payload}
                    elif t == "map":
                        body[name] = {payload: [payload]}
                    else:
                        body[name] = payload
                    before = self.state()
                    ep = ENDPOINT[entity]
                    if entity == "targets":  # no top-level collection, as in Kong
                        ep = "upstreams/%s/targets" % self.ups["id"]
                    r = self.cp.admin("POST", "/" + ep, json_body=body)
                    what = "%s.%s = %r" % (entity, name, payload)
                    self.assertIn(r.status, (201, 400, 409), "%s: %r" % (what, r))
                    if r.status == 201:
                        ent = r.json()
                        self.counted["cases"] += 1
                        self.counted["stored_verbatim"] += 1
                        got = self.cp.admin("GET", "/%s/%s" % (ep, ent["id"]))
                        self.assertEqual(got.status, 200, got)
                        if (entity, name) in DERIVED:  # computed by the server, input ignored
                            self.assertRegex(got.json()[name], "^[0-9a-f]{64}$", what)
                        elif (entity, name) == ("targets", "upstream"):  # the path's upstream
                            self.assertEqual(got.json()[name], {"id": self.ups["id"]}, what)
                        else:
                            self.assertEqual(got.json()[name], body[name], what)
                        self.assertEqual(self.cp.admin("DELETE", "/%s/%s" % (
                            ep, ent["id"])).status, 204)
                    else:
                        self.refused(r, what)
                        after = self.state()
                        self.assertEqual(after, before, what)
            # the same payloads where the store reads: paths and query strings
            ep = ENDPOINT[entity]
            if entity == "targets":
                ep = "upstreams/%s/targets" % self.ups["id"]
            for payload in SQL_PAYLOADS:
                q = h.urllib.parse.quote(payload, safe="")
                r = self.cp.admin("GET", "/%s/%s" % (ep, q))
                self.assertIn(r.status, (400, 404), r)
                r = self.cp.admin("GET", "/%s?tags=%s" % (ep, q))
                self.assertIn(r.status, (200, 400), "%s: %r" % (ep, r))
                if r.status == 200:
                    self.assertEqual(r.json()["data"], [], r)
                self.refused(self.cp.admin("GET", "/%s?offset=%s" % (ep, q)), "offset",
                             codes=(400,))
                self.refused(self.cp.admin("GET", "/%s?size=%s" % (ep, q)), "size",
                             codes=(400,))
                self.refused(self.cp.admin("PATCH", "/%s/%s" % (ep, q), json_body={}),
                             "PATCH by a payload key", codes=(400, 404))
                self.refused(self.cp.admin("DELETE", "/%s/%s" % (ep, q)),
                             "DELETE by a payload key", codes=(204, 400, 404))
        # every table is still there and the canary untouched
        for t in TABLES:
            h.psql("SELECT 1 FROM %s LIMIT 1" % t, db=self.cp.db)
        self.alive()

    def test_huge_numbers(self):
        before = self.state()
        numbers = [b"1e400", b"-1e400", b"99999999999999999999999", b"9223372036854775808",
                   b"-9223372036854775809", b"1e308", b"1.5", b"-1", b"NaN", b"Infinity",
                   b"0x10", b"1e2"]
        for entity in ("services", "routes", "upstreams", "targets"):
            base = self.base_body(entity)
            ep = entity if entity != "targets" else "upstreams/%s/targets" % self.ups["id"]
            for name, spec in self.fields(entity):
                if spec.get("type") not in ("integer", "number") or name in (
                        "created_at", "updated_at"):
                    continue
                for n in numbers:
                    raw = json.dumps(base)[:-1].encode() + b', "%s": %s}' % (name.encode(), n)
                    r = self.post("/" + ep, raw, "application/json")
                    if r.status == 201:  # a legal value (1e2 = 100, -1 for a priority)
                        v = json.loads(n)
                        self.assertTrue(v == int(v) and abs(v) <= 65535,
                                        "%s.%s=%s: %r" % (entity, name, n, r))
                        self.assertEqual(r.json()[name], v)
                        self.counted["cases"] += 1
                        self.counted["stored_verbatim"] += 1
                        self.cp.admin("DELETE", "/%s/%s" % (ep, r.json()["id"]))
                        continue
                    self.refused(r, "%s.%s = %s" % (entity, name, n))
                form = h.urllib.parse.urlencode(
                    {k: v for k, v in base.items() if isinstance(v, str)}).encode()
                form += b"&%s=99999999999999999999999999" % name.encode()
                if entity == "routes":
                    form += b"&paths=/huge&service.id=" + self.svc["id"].encode()
                if entity == "targets":
                    form += b"&upstream.id=" + self.ups["id"].encode()
                self.refused(self.post("/" + ep, form, "application/x-www-form-urlencoded"),
                             "form %s.%s huge" % (entity, name))
        # huge pagination and a huge nested value
        self.refused(self.cp.admin("GET", "/services?size=99999999999999999999"), "size")
        self.refused(self.post("/plugins", b'{"name":"rate-limiting","config":{"minute":1e400}}',
                               "application/json"), "rate-limiting minute 1e400")
        self.refused(self.cp.admin("POST", "/plugins", json_body={
            "name": "rate-limiting", "config": {"minute": -1e300}}), "rate-limiting minute < 0")
        after = self.state()
        before["revision"] = after["revision"]  # legal values were created and deleted
        self.assertEqual(after, before)
        self.alive()

    def test_duplicate_keys(self):
        before = self.state()
        # JSON: the last value wins, as with Kong's cjson; one row is stored
        r = self.post("/consumers", b'{"username":"dup-a","username":"dup-b"}',
                      "application/json")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["username"], "dup-b")
        self.assertEqual(self.cp.admin("GET", "/consumers/dup-a").status, 404)
        self.assertEqual(self.cp.admin("DELETE", "/consumers/dup-b").status, 204)
        # form and multipart: a repeated scalar key is an array, which the schema refuses
        self.refused(self.post("/consumers", b"username=a&username=b",
                               "application/x-www-form-urlencoded"), "form duplicate")
        mp = (b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na\r\n"
              b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nb\r\n--b--\r\n")
        self.refused(self.post("/consumers", mp, "multipart/form-data; boundary=b"),
                     "multipart duplicate")
        # two Content-Type headers
        raw = raw_request(self.cp.admin_port, b"POST /consumers HTTP/1.1\r\nHost: a\r\n"
                          b"Content-Type: application/json\r\nContent-Type: application/x-www-"
                          b"form-urlencoded\r\nContent-Length: 18\r\n\r\n{\"username\":\"ct2\"}")
        self.refused(status_of(raw), "two Content-Type headers")
        state = self.state()
        before["revision"] = state["revision"]  # the duplicate-key create and its delete
        self.assertEqual(state, before)
        self.alive()

    def test_bad_encodings_and_shapes(self):
        before = self.state()
        for p in ["/services/%", "/services/%zz", "/services/%2", "/services/%%30",
                  "/%2e%2e/services", "/services/..%2f..%2fetc%2fpasswd", "/services/%2F",
                  "/services?tags=%", "/services?offset=%zz", "/services?size=%00"]:
            r = self.cp.admin("GET", p)
            self.assertIn(r.status, (200, 400, 404), "%s: %r" % (p, r))
            if r.status == 200:
                self.assertEqual(r.json()["data"] if "data" in r.json() else None, [], p)
        # malformed bodies for their declared type
        cases = [
            (b"[]", "application/json"), (b"\"str\"", "application/json"),
            (b"{\"username\":", "application/json"), (b"{} {}", "application/json"),
            (b"{\"username\":\"x\"}", "text/plain"), (b"x", "application/xml"),
            (b"--b\r\nbroken", "multipart/form-data; boundary=b"),
            (b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nv",
             "multipart/form-data; boundary=b"),
            (b"x", "multipart/form-data"),
            (b"x", "multipart/form-data; boundary=" + "b" * 300),
            (b"x", "multipart/form-data; boundary=\""),
        ]
        for body, ct in cases:
            self.refused(self.post("/consumers", body, ct), "%s %r" % (ct[:30], body[:30]))
        # methods and request lines that make no sense
        for req in [b"BREW /services HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"GET services HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"GET /services HTTP/9.9\r\nHost: a\r\n\r\n",
                    b"GET /services\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"POST /consumers HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                    b"Content-Length: 6\r\nContent-Type: application/json\r\n\r\n{}   ",
                    b"\x16\x03\x01\x00\x05hello\r\n\r\n"]:
            raw = raw_request(self.cp.admin_port, req, timeout=5)
            st = status_of(raw)
            self.counted["cases"] += 1
            # nothing, a 4xx, or 501 for a method it does not know
            self.assertTrue(st is None or 400 <= st < 500 or st == 501,
                            "%r: %r" % (req[:30], raw[:100]))
            self.counted["rejected"] += 1
        self.assertEqual(self.state(), before)
        self.alive()


if __name__ == "__main__":
    h.main()
