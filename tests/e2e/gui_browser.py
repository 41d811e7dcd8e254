# tests/e2e/gui_browser.py: drives Debian's headless Chromium through python3-selenium and
# chromium-driver for the Portico Manager browser tests (tests/e2e/test_gui*.py). Finds fields
# by their visible label and buttons/links by their text, the way a user does.
# SPDX-License-Identifier: Apache-2.0
import os
import shutil
import sys
import tempfile
import time

DEBIAN_PYTHON = "/usr/bin/python3"


def artifacts_dir(name):
    """A fresh directory for a test's artifacts (screenshots) that outlives the test run:
    <build dir>/test-artifacts/<name>."""
    build = os.environ.get("PORTICO_BIN_DIR") or tempfile.gettempdir()
    d = os.path.join(build, "test-artifacts", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def ensure_selenium():
    """Makes Debian's python3-selenium importable. When the tests run under another Python (a
    pyenv shim, say), re-executes the test with Debian's /usr/bin/python3, which has it."""
    try:
        import selenium  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.exists(DEBIAN_PYTHON) and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) \
            and not os.environ.get("PORTICO_GUI_REEXEC"):
        os.environ["PORTICO_GUI_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
    raise SystemExit("python3-selenium is missing: run deploy/setup (needs chromium, chromium-driver, "
                     "python3-selenium)")


ensure_selenium()

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def _xq(s):
    """An XPath string literal for s."""
    if "'" not in s:
        return "'%s'" % s
    if '"' not in s:
        return '"%s"' % s
    return "concat('%s')" % s.replace("'", "', \"'\", '")


class Browser:
    """One headless Chromium with a fresh profile under tmpdir. Screenshots go to shots (default
    tmpdir/shots)."""

    def __init__(self, tmpdir, width=1366, height=900, shots=None):
        self.tmpdir = tmpdir
        self.shots = shots or os.path.join(tmpdir, "shots")
        os.makedirs(self.shots, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=%d,%d" % (width, height),
                  "--user-data-dir=" + os.path.join(tmpdir, "chromium-profile")):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        log = os.path.join(tmpdir, "chromedriver.log")
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=log)
                                  if "log_output" in Service.__init__.__code__.co_varnames
                                  else Service(CHROMEDRIVER, log_path=log), options=opts)
        self.d.set_page_load_timeout(30)
        self.console = []

    def quit(self):
        try:
            self.d.quit()
        except WebDriverException:
            pass

    # -- waiting ---------------------------------------------------------------------------------

    def wait(self, pred, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = pred()
                if v:
                    return v
            except (WebDriverException, StaleElementReferenceException, AssertionError) as e:
                last = e
            time.sleep(0.1)
        self.screenshot("timeout")
        raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))

    # -- navigation ------------------------------------------------------------------------------

    def open(self, url):
        self.d.get(url)

    def h1(self):
        return self.d.find_element(By.CSS_SELECTOR, "main h1").text

    def wait_h1(self, text, timeout=10.0):
        return self.wait(lambda: self.h1() == text, timeout, "page heading %r (now %r)" % (
            text, self._safe(self.h1)))

    def _safe(self, fn):
        try:
            return fn()
        except WebDriverException:
            return None

    def nav(self, text):
        """Clicks an entry of the main navigation."""
        self.d.find_element(By.XPATH, "//nav[@aria-label='Main']//a[normalize-space()=%s]" % _xq(text)).click()

    def click(self, text, within=None):
        """Clicks the visible link or button whose text is text (inside element within)."""
        root = within or self.d
        xp = ".//*[self::a or self::button][normalize-space()=%s]" % _xq(text)

        def find():
            for el in root.find_elements(By.XPATH, xp):
                if el.is_displayed():
                    return el
            return None
        el = self.wait(find, what="link or button %r" % text)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def row(self, text):
        """The table row that contains a cell whose text is text."""
        xp = "//main//tr[td[normalize-space()=%s or .//*[normalize-space()=%s]]]" % (_xq(text), _xq(text))
        return self.wait(lambda: self.d.find_element(By.XPATH, xp), what="table row %r" % text)

    # -- forms -----------------------------------------------------------------------------------

    def field(self, label):
        """The input, select or textarea whose label reads label."""
        lab = self.wait(lambda: self.d.find_element(
            By.XPATH, "//main//label[normalize-space(text())=%s]" % _xq(label)), what="label %r" % label)
        return self.d.find_element(By.ID, lab.get_attribute("for"))

    def fill(self, label, value):
        el = self.field(label)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.send_keys(Keys.CONTROL, "a")
        el.send_keys(Keys.DELETE)
        el.send_keys(value)
        return el

    def field_error(self, label):
        """The error text shown next to the field labelled label."""
        el = self.field(label)
        err_id = el.get_attribute("id").replace("f-", "err-", 1)
        return self.d.find_element(By.ID, err_id).text

    # -- artifacts and diagnostics ---------------------------------------------------------------

    def screenshot(self, name):
        path = os.path.join(self.shots, "%s.png" % name)
        try:
            # Notifications fade after a few seconds; keep them out of the pictures.
            self.d.execute_script("var t = document.getElementById('toasts'); if (t) t.replaceChildren();")
            self.d.save_screenshot(path)
        except WebDriverException:
            return None
        return path

    def severe_console_messages(self):
        """Console messages at SEVERE level, except failed loads the UI handles itself (a 4xx
        answer from the Admin API is shown on the page)."""
        out = []
        for entry in self.d.get_log("browser"):
            self.console.append(entry)
            if entry["level"] != "SEVERE":
                continue
            if "Failed to load resource" in entry["message"]:
                continue
            out.append(entry["message"])
        return out
