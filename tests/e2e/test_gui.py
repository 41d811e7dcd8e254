# tests/e2e/test_gui.py: Portico Manager in a real browser (Debian's headless Chromium driven by
# python3-selenium) against a real cluster: PostgreSQL, portico-cp (Admin API + Portico Manager)
# and one portico-dp. Follows the seed tutorial's Kong Manager steps literally, checks the result
# through the Admin API, shows a field error from the Admin API next to its field, lists the
# data plane, and saves a screenshot of every page in <build dir>/test-artifacts/test_gui/.
# SPDX-License-Identifier: Apache-2.0
import os
import unittest

import gui_browser
import harness as h

from selenium.webdriver.common.by import By


class ManagerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.browser = None
        cls.tmp = h.make_tmpdir("gui-")
        try:
            cls.start_cluster()
            cls.browser = gui_browser.Browser(cls.tmp, shots=gui_browser.artifacts_dir("test_gui"))
        except BaseException:
            for p in cls.procs:
                p.kill()
            raise

    @classmethod
    def start_cluster(cls):
        cls.gui_port = h.free_port()
        cp = h.ControlPlane(env={"PORTICO_ADMIN_GUI_LISTEN": "127.0.0.1:%d" % cls.gui_port},
                            start=False)
        try:
            cp.start()
        finally:
            if cp.proc:
                cls.procs.append(cp.proc)
        h.wait_port(cls.gui_port)
        cls.dp = h.Proc([h.DP_BIN], name="dp", env={
            "PORTICO_PREFIX": os.path.join(cls.tmp, "dp"),
            "PORTICO_PROXY_LISTEN": "127.0.0.1:%d" % h.free_port(),
            "PORTICO_STATUS_LISTEN": "127.0.0.1:%d" % h.free_port(),
            "PORTICO_CLUSTER_CONTROL_PLANE": "127.0.0.1:%d" % cp.cluster_port,
            "PORTICO_CLUSTER_CERT": cp.cluster_cert,
            "PORTICO_CLUSTER_CERT_KEY": cp.cluster_key,
            "PORTICO_WORKER_THREADS": "1",
        })
        cls.procs.append(cls.dp)
        cls.gui_url = "http://127.0.0.1:%d" % cls.gui_port
        cls.admin_url = cp.admin_url
        cls.db = cp.db

    @classmethod
    def tearDownClass(cls):
        if cls.browser:
            cls.browser.quit()
            print("\nPortico Manager screenshots: %s" % cls.browser.shots)
        errors = []
        for p in reversed(cls.procs):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def admin(self, method, path, **kw):
        return h.request(method, self.admin_url + path, **kw)

    def tearDown(self):
        msgs = self.browser.severe_console_messages()
        self.assertEqual(msgs, [], "browser console errors")

    # The earlier pages of the tutorial created example_service; this does it through the UI.
    def ensure_example_service(self):
        if self.admin("GET", "/services/example_service").status == 200:
            return
        b = self.browser
        b.open(self.gui_url + "/#/services")
        b.wait_h1("Services")
        b.click("New Service")
        b.wait_h1("New Service")
        b.fill("Name", "example_service")
        b.fill("Host", "mockbin.org")
        b.fill("Port", "80")
        b.click("Create")
        b.wait_h1("Service example_service")
        r = self.admin("GET", "/services/example_service")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["host"], "mockbin.org")
        self.assertEqual(r.json()["port"], 80)

    def test_1_seed_kong_manager_steps(self):
        self.ensure_example_service()
        b = self.browser
        # 1. Access your Kong Manager instance.
        b.open(self.gui_url + "/")
        b.wait_h1("Overview")
        b.screenshot("overview")
        # 2. Go to Upstreams.
        b.nav("Upstreams")
        b.wait_h1("Upstreams")
        # 3. Click New Upstream.
        b.click("New Upstream")
        b.wait_h1("New Upstream")
        # 4. Enter example_upstream in the Name field.
        b.fill("Name", "example_upstream")
        b.screenshot("upstream-new")
        # 5. Scroll down and click Create.
        b.click("Create")
        # 6. On the Upstreams page, find the new upstream and click View.
        b.wait_h1("Upstreams")
        row = b.row("example_upstream")
        b.screenshot("upstreams")
        b.click("View", within=row)
        b.wait_h1("Upstream example_upstream")
        # 7-9. Scroll down, click New Target, httpbin.org port 80, Create; again for mockbin.org.
        for host in ("httpbin.org", "mockbin.org"):
            b.click("New Target")
            b.wait_h1("New Target")
            b.fill("Target", host)
            b.fill("Port", "80")
            b.click("Create")
            b.wait_h1("Upstream example_upstream")
            b.row(host + ":80")
        b.screenshot("upstream-view")
        # 10. Open the Services page.
        b.nav("Services")
        b.wait_h1("Services")
        b.screenshot("services")
        # 11. Find example_service and click Edit.
        b.click("Edit", within=b.row("example_service"))
        b.wait_h1("Edit Service example_service")
        # 12. Change the Host field to example_upstream, then click Update.
        b.fill("Host", "example_upstream")
        b.click("Update")
        b.wait_h1("Service example_service")
        self.assertEqual(b.d.find_element(By.ID, "service-host").text, "example_upstream")

        # The Admin API has what the tutorial's curl commands would have created.
        r = self.admin("GET", "/upstreams/example_upstream")
        self.assertEqual(r.status, 200, r)
        up = r.json()
        self.assertEqual(up["algorithm"], "round-robin")
        r = self.admin("GET", "/upstreams/example_upstream/targets")
        self.assertEqual(r.status, 200, r)
        targets = sorted((t["target"], t["weight"]) for t in r.json()["data"])
        self.assertEqual(targets, [("httpbin.org:80", 100), ("mockbin.org:80", 100)])
        r = self.admin("GET", "/services/example_service")
        self.assertEqual(r.json()["host"], "example_upstream")

    def test_2_invalid_upstream_name_shows_field_error(self):
        b = self.browser
        bad = "not a valid name!"
        expected = self.admin("POST", "/upstreams", json_body={"name": bad})
        self.assertEqual(expected.status, 400, expected)
        message = expected.json()["fields"]["name"]
        b.open(self.gui_url + "/#/upstreams/new")
        b.wait_h1("New Upstream")
        b.fill("Name", bad)
        b.click("Create")
        b.wait(lambda: b.field_error("Name") == message, what="field error %r next to Name" % message)
        name = b.field("Name")
        self.assertEqual(name.get_attribute("aria-invalid"), "true")
        self.assertEqual(b.d.switch_to.active_element.get_attribute("id"), name.get_attribute("id"))
        self.assertEqual(b.h1(), "New Upstream")  # stayed on the form
        b.screenshot("upstream-field-error")
        r = self.admin("GET", "/upstreams")
        self.assertNotIn(bad, [u["name"] for u in r.json()["data"]])

    def test_3_data_plane_listed(self):
        b = self.browser
        b.open(self.gui_url + "/#/data-planes")
        b.wait_h1("Data planes")
        # Live refresh: the page updates without a reload once the data plane has connected.
        b.wait(lambda: b.d.find_elements(By.XPATH, "//main//td//span[normalize-space()='connected']"),
               timeout=30, what="a connected data plane in the list")
        r = self.admin("GET", "/clustering/data-planes")
        self.assertEqual(r.status, 200, r)
        hostname = r.json()["data"][0]["hostname"]
        b.row(hostname)
        # What the Manager changed reaches the data plane: its applied revision catches up with
        # the control plane's, and the page shows it without a reload.
        rev = self.admin("GET", "/status").json()["config_revision"]
        h.wait_for(lambda: self.admin("GET", "/clustering/data-planes").json()["data"][0]
                   .get("applied_revision") == rev, timeout=20, what="data plane at revision %d" % rev)
        b.wait(lambda: str(rev) in b.row(hostname).text.split(), what="revision %d on the page" % rev)
        b.screenshot("data-planes")

    def test_3b_data_plane_fields_and_live_state(self):
        # A registry row as the cluster server writes it (a data plane that failed its last
        # snapshot and went away); the page shows every field and follows changes live.
        dp_id = "6f1c1d3e-1b5e-4e0a-9b7a-3c2d1e0f9a8b"
        h.psql("INSERT INTO clustering_data_planes (id, hostname, ip, version, sync_status, "
               "config_hash, last_seen, connected, applied_revision, last_error, cert_expiry) "
               "VALUES ('%s', 'dp-registry-test', '10.9.8.7', '0.1.0', 'normal', "
               "'0123456789abcdef0123456789abcdef', now() - interval '2 minutes', false, 41, "
               "'route paths[0]: invalid regex', extract(epoch from now() + interval '10 days')::bigint)"
               % dp_id, db=self.db)
        b = self.browser
        b.open(self.gui_url + "/#/data-planes")
        b.wait_h1("Data planes")
        row = b.row("dp-registry-test")
        text = row.text
        for want in ("10.9.8.7", "0.1.0", "disconnected", "normal", "41", "0123456789ab",
                     "route paths[0]: invalid regex", "(9 days)", "2 min ago"):
            self.assertIn(want, text)
        h.psql("UPDATE clustering_data_planes SET connected = true, last_seen = now(), "
               "applied_revision = 42, last_error = NULL WHERE id = '%s'" % dp_id, db=self.db)
        b.wait(lambda: "42" in b.row("dp-registry-test").text and
               "connected" in b.row("dp-registry-test").text.replace("disconnected", ""),
               what="the row to follow the registry without a reload")
        b.screenshot("data-planes-registry")
        h.psql("DELETE FROM clustering_data_planes WHERE id = '%s'" % dp_id, db=self.db)

    def test_4_every_page_renders(self):
        b = self.browser
        pages = [("", "Overview"), ("services", "Services"), ("routes", "Routes"),
                 ("upstreams", "Upstreams"), ("consumers", "Consumers"), ("plugins", "Plugins"),
                 ("certificates", "Certificates"), ("snis", "SNIs"), ("data-planes", "Data planes"),
                 ("routes/new", "New Route"), ("consumers/new", "New Consumer"),
                 ("plugins/new", "New Plugin"), ("certificates/new", "New Certificate")]
        # The overview shows the configuration revision the Admin API reports.
        b.open(self.gui_url + "/#/")
        b.wait_h1("Overview")
        rev = str(self.admin("GET", "/status").json()["config_revision"])
        b.wait(lambda: b.d.find_element(By.ID, "config-revision").text == rev,
               what="configuration revision %s on the overview" % rev)
        for path, title in pages:
            b.open(self.gui_url + "/#/" + path)
            b.wait_h1(title)
            b.wait(lambda: not b.d.find_elements(By.CSS_SELECTOR, "main .notice.bad"), timeout=3,
                   what="no error notice on %s" % title)
            b.screenshot("page-" + (path.replace("/", "-") or "overview"))
            # Accessibility basics: one h1, every control labelled, the current section marked.
            self.assertEqual(len(b.d.find_elements(By.TAG_NAME, "h1")), 1, title)
            unlabelled = b.d.execute_script(
                "return [...document.querySelectorAll('main input, main select, main textarea')]"
                ".filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.name || e.id)")
            self.assertEqual(unlabelled, [], title)
            self.assertEqual(len(b.d.find_elements(By.CSS_SELECTOR, "nav [aria-current='page']")), 1, title)
        # Keyboard: navigation moves focus to the new heading; from the top of the document the
        # first Tab reaches the skip link, and Enter on it moves focus to the heading again.
        from selenium.webdriver.common.keys import Keys
        b.open(self.gui_url + "/#/upstreams")
        b.wait_h1("Upstreams")
        b.wait(lambda: b.d.switch_to.active_element.text == "Upstreams", what="focus on the heading")
        b.d.execute_script("document.body.tabIndex = -1; document.body.focus(); "
                           "document.body.removeAttribute('tabindex')")
        b.d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        self.assertEqual(b.d.switch_to.active_element.get_attribute("id"), "skip-link")
        b.d.switch_to.active_element.send_keys(Keys.ENTER)
        self.assertEqual(b.d.switch_to.active_element.text, "Upstreams")

    def rows(self):
        return self.browser.d.find_elements(By.CSS_SELECTOR, "main table tbody tr")

    def test_5_pagination_and_tag_filter(self):
        for i in range(30):
            tags = ["bulk", "odd"] if i % 2 else ["bulk"]
            r = self.admin("POST", "/services", json_body={"name": "bulk-%02d" % i, "host": "b%d.test" % i,
                                                          "tags": tags})
            self.assertEqual(r.status, 201, r)
        total = len(self.admin("GET", "/services?size=1000").json()["data"])
        b = self.browser
        b.open(self.gui_url + "/#/services")
        b.wait_h1("Services")
        b.wait(lambda: len(self.rows()) == 25, what="a first page of 25 services")
        first = [r.get_attribute("data-id") for r in self.rows()]
        b.click("Next")
        b.wait(lambda: len(self.rows()) == total - 25, what="the second page")
        second = [r.get_attribute("data-id") for r in self.rows()]
        self.assertFalse(set(first) & set(second))
        b.screenshot("services-page-2")
        b.click("Previous")
        b.wait(lambda: [r.get_attribute("data-id") for r in self.rows()] == first, what="page 1 again")
        # Tag filters: "bulk,odd" = both tags (15 services), "odd/nope" = either.
        b.fill("Filter by tag", "bulk,odd")
        b.click("Filter")
        b.wait(lambda: len(self.rows()) == 15, what="15 services tagged bulk and odd")
        names = sorted(r.find_element(By.CSS_SELECTOR, "td").text for r in self.rows())
        self.assertEqual(names, ["bulk-%02d" % i for i in range(1, 30, 2)])
        b.fill("Filter by tag", "nope/odd")
        b.click("Filter")
        b.wait(lambda: len(self.rows()) == 15, what="15 services tagged nope or odd")
        b.fill("Filter by tag", "nope")
        b.click("Filter")
        b.wait(lambda: b.d.find_elements(By.XPATH, "//main//p[@class='empty']"), what="an empty list")

    def test_6_live_refresh_of_targets(self):
        r = self.admin("POST", "/upstreams", json_body={"name": "live_upstream"})
        self.assertEqual(r.status, 201, r)
        b = self.browser
        b.open(self.gui_url + "/#/upstreams/live_upstream")
        b.wait_h1("Upstream live_upstream")
        b.wait(lambda: b.d.find_elements(By.XPATH, "//main//p[@class='empty']"), what="no targets")
        r = self.admin("POST", "/upstreams/live_upstream/targets", json_body={"target": "10.1.2.3:8080"})
        self.assertEqual(r.status, 201, r)
        # No reload: the page polls every 3 s.
        b.wait(lambda: b.d.find_elements(By.XPATH, "//main//td[normalize-space()='10.1.2.3:8080']"),
               timeout=10, what="the new target to appear without a reload")
        # Edit and delete it through the UI.
        b.click("Edit", within=b.row("10.1.2.3:8080"))
        b.wait_h1("Edit Target 10.1.2.3:8080")
        b.fill("Weight", "0")
        b.click("Update")
        b.wait_h1("Upstream live_upstream")
        r = self.admin("GET", "/upstreams/live_upstream/targets/10.1.2.3:8080")
        self.assertEqual(r.json()["weight"], 0)
        b.click("Delete", within=b.row("10.1.2.3:8080"))
        b.wait(lambda: b.d.find_element(By.ID, "confirm-dialog").get_attribute("open") is not None,
               what="the confirmation dialog")
        b.d.find_element(By.ID, "confirm-ok").click()
        b.wait(lambda: b.d.find_elements(By.XPATH, "//main//p[@class='empty']"), what="target gone")
        r = self.admin("GET", "/upstreams/live_upstream/targets")
        self.assertEqual(r.json()["data"], [])

    def test_7_consumer_key_and_plugins(self):
        b = self.browser
        b.open(self.gui_url + "/#/consumers/new")
        b.wait_h1("New Consumer")
        b.fill("Username", "alice")
        b.click("Create")
        b.wait_h1("Consumer alice")
        b.fill("Key", "alice-key-123")
        b.click("Add key")
        b.row("alice-key-123")
        r = self.admin("GET", "/consumers/alice/key-auth")
        self.assertEqual([k["key"] for k in r.json()["data"]], ["alice-key-123"])
        b.screenshot("consumer-view")
        # A rate-limiting plugin scoped to a service, through its form.
        svc = self.admin("POST", "/services", json_body={"name": "rl_service", "host": "rl.test"}).json()
        b.open(self.gui_url + "/#/plugins/new?service=" + svc["id"])
        b.wait_h1("New Plugin")
        from selenium.webdriver.support.ui import Select
        Select(b.field("Plugin")).select_by_value("rate-limiting")
        b.wait(lambda: b.field("Per minute"), what="the rate-limiting form")
        b.click("Create")  # no limit at all: the Admin API's @entity error is shown
        b.wait(lambda: b.d.find_element(By.CSS_SELECTOR, "main .form-error").text, what="an error summary")
        b.fill("Per minute", "5")
        b.click("Create")
        b.wait_h1("Service rl_service")
        r = self.admin("GET", "/services/rl_service/plugins")
        plugins = r.json()["data"]
        self.assertEqual([p["name"] for p in plugins], ["rate-limiting"])
        self.assertEqual(plugins[0]["config"]["minute"], 5)
        self.assertEqual(plugins[0]["config"]["policy"], "local")
        b.open(self.gui_url + "/#/plugins")
        b.wait_h1("Plugins")
        b.row("rate-limiting")
        b.screenshot("plugins")

    def test_8_route_and_certificate(self):
        b = self.browser
        # A service from Kong's url shorthand.
        b.open(self.gui_url + "/#/services/new")
        b.wait_h1("New Service")
        b.fill("Name", "url_service")
        b.fill("URL", "https://mockbin.org/request")
        b.click("Create")
        b.wait_h1("Service url_service")
        s = self.admin("GET", "/services/url_service").json()
        self.assertEqual((s["protocol"], s["host"], s["port"], s["path"]),
                         ("https", "mockbin.org", 443, "/request"))
        svc = self.admin("POST", "/services", json_body={"name": "route_service", "host": "r.test"}).json()
        b.open(self.gui_url + "/#/services/" + svc["id"])
        b.wait_h1("Service route_service")
        b.click("New Route")
        b.wait_h1("New Route")
        b.fill("Name", "mock_route")
        b.fill("Paths", "/mock, /mock2")
        b.fill("Methods", "get, post")
        b.click("Create")
        b.wait_h1("Service route_service")
        b.row("mock_route")
        r = self.admin("GET", "/routes/mock_route")
        self.assertEqual(r.status, 200, r)
        route = r.json()
        self.assertEqual(route["service"]["id"], svc["id"])
        self.assertEqual(route["paths"], ["/mock", "/mock2"])
        self.assertEqual(route["methods"], ["GET", "POST"])
        self.assertEqual(route["protocols"], ["http", "https"])

        # A certificate with an SNI, pasted as PEM; the page reads its expiry from the PEM.
        crt, key = os.path.join(self.tmp, "site.crt"), os.path.join(self.tmp, "site.key")
        r = h.run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-keyout", key, "-out", crt, "-days", "90", "-subj", "/CN=site.test"])
        self.assertEqual(r.returncode, 0, r.stderr)
        b.open(self.gui_url + "/#/certificates/new")
        b.wait_h1("New Certificate")
        with open(crt) as f:
            b.fill("Certificate (PEM)", f.read())
        with open(key) as f:
            b.fill("Private key (PEM)", f.read())
        b.fill("SNIs", "site.test")
        b.click("Create")
        b.wait(lambda: b.h1().startswith("Certificate "), what="the certificate page")
        b.row("site.test")
        self.assertIn("site.test", b.d.find_element(By.CSS_SELECTOR, "main dl").text)
        self.assertRegex(b.d.find_element(By.CSS_SELECTOR, "main dl").text, r"\((89|90) days\)")
        r = self.admin("GET", "/snis/site.test")
        self.assertEqual(r.status, 200, r)
        b.screenshot("certificate-view")

    def test_9_key_auth_and_proxy_cache_forms(self):
        from selenium.webdriver.support.ui import Select
        b = self.browser
        r = self.admin("POST", "/services", json_body={"name": "ka_service", "host": "ka.test"})
        self.assertEqual(r.status, 201, r)
        route = self.admin("POST", "/services/ka_service/routes",
                           json_body={"name": "ka_route", "paths": ["/ka"]}).json()
        # key-auth on the route, header only.
        b.open(self.gui_url + "/#/plugins/new")
        b.wait_h1("New Plugin")
        Select(b.field("Plugin")).select_by_value("key-auth")
        Select(b.field("Route")).select_by_value(route["id"])
        b.fill("Key names", "apikey, x-api-key")
        b.field("Key in query").click()  # on by default: turn it off
        b.click("Create")
        b.wait_h1("Plugins")
        p = self.admin("GET", "/routes/ka_route/plugins").json()["data"]
        self.assertEqual(len(p), 1, p)
        self.assertEqual(p[0]["name"], "key-auth")
        self.assertEqual(p[0]["config"]["key_names"], ["apikey", "x-api-key"])
        self.assertFalse(p[0]["config"]["key_in_query"])
        self.assertTrue(p[0]["config"]["key_in_header"])
        self.assertIsNone(p[0]["service"])
        # A global proxy-cache, then edit its TTL and disable it from the list.
        b.open(self.gui_url + "/#/plugins/new")
        b.wait_h1("New Plugin")
        Select(b.field("Plugin")).select_by_value("proxy-cache")
        b.wait(lambda: b.field("Cache TTL (s)"), what="the proxy-cache form")
        b.fill("Cache TTL (s)", "30")
        b.click("Create")
        b.wait_h1("Plugins")
        pc = [x for x in self.admin("GET", "/plugins").json()["data"] if x["name"] == "proxy-cache"]
        self.assertEqual(len(pc), 1, pc)
        self.assertEqual(pc[0]["config"]["strategy"], "memory")
        self.assertEqual(pc[0]["config"]["cache_ttl"], 30)
        self.assertEqual(pc[0]["config"]["response_code"], [200, 301, 404])
        self.assertIsNone(pc[0]["service"])
        b.click("Edit", within=b.row("proxy-cache"))
        b.wait_h1("Edit Plugin proxy-cache")
        b.fill("Cache TTL (s)", "60")
        b.click("Update")
        b.wait_h1("Plugins")
        self.assertEqual(self.admin("GET", "/plugins/" + pc[0]["id"]).json()["config"]["cache_ttl"], 60)
        b.click("Disable", within=b.row("proxy-cache"))
        b.wait(lambda: self.admin("GET", "/plugins/" + pc[0]["id"]).json()["enabled"] is False,
               what="the plugin disabled")
        b.wait(lambda: "disabled" in b.row("proxy-cache").text, what="the list to show it disabled")


class ManagerTokenTest(unittest.TestCase):
    """admin_token set: the Manager asks for the token, refuses a wrong one, then works with
    Authorization: Bearer on every request (the CORS preflights need no token)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = h.make_tmpdir("gui-token-")
        gui_port = h.free_port()
        cls.cpx = h.ControlPlane(env={"PORTICO_ADMIN_GUI_LISTEN": "127.0.0.1:%d" % gui_port,
                                      "PORTICO_ADMIN_TOKEN": "gui-s3cret"})
        cls.cp = cls.cpx.proc
        cls.admin_port = cls.cpx.admin_port
        cls.browser = None
        try:
            h.wait_port(gui_port)
            cls.browser = gui_browser.Browser(cls.tmp)
        except BaseException:
            cls.cp.kill()
            raise
        cls.gui_url = "http://127.0.0.1:%d" % gui_port

    @classmethod
    def tearDownClass(cls):
        if cls.browser:
            cls.browser.quit()
        cls.cp.stop()

    def test_sign_in_and_create(self):
        b = self.browser
        b.open(self.gui_url + "/#/upstreams")
        b.wait(lambda: b.d.find_element(By.ID, "token-dialog").get_attribute("open") is not None,
               what="the sign-in dialog")
        self.assertEqual(b.d.switch_to.active_element.get_attribute("id"), "token-input")
        token = b.d.find_element(By.ID, "token-input")
        token.send_keys("wrong")
        b.click("Sign in")
        b.wait(lambda: b.d.find_element(By.ID, "token-error").text == "That token was refused.",
               what="the refusal message")
        b.screenshot("token-refused")
        token.clear()
        token.send_keys("gui-s3cret")
        b.click("Sign in")
        b.wait_h1("Upstreams")
        b.click("New Upstream")
        b.wait_h1("New Upstream")
        b.fill("Name", "token_upstream")
        b.click("Create")
        b.wait_h1("Upstreams")
        b.row("token_upstream")
        r = h.request("GET", "http://127.0.0.1:%d/upstreams/token_upstream" % self.admin_port,
                      headers={"Authorization": "Bearer gui-s3cret"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(b.severe_console_messages(), [])


if __name__ == "__main__":
    h.main()
