# tests/e2e/test_readme.py: the README stays true about what the programs accept: every
# configuration key both programs know is documented in its table, and the two commands exist.
import os
import re
import unittest

import harness as h


class ReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(h.SRC_DIR, "README.md")) as f:
            cls.readme = f.read()

    def keys_of(self, binary):
        r = h.run_cmd([binary, "--show-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return [line.split(" = ", 1)[0] for line in r.stdout.splitlines() if " = " in line]

    def section(self, title):
        start = self.readme.index("### " + title)
        end = self.readme.find("\n## ", start)
        return self.readme[start:end]

    def test_every_key_is_documented(self):
        for binary, title in ((h.CP_BIN, "portico-cp"), (h.DP_BIN, "portico-dp")):
            table = self.section(title)
            documented = set(re.findall(r"[a-z][a-z0-9_]+", table))
            keys = self.keys_of(binary)
            self.assertGreater(len(keys), 10)
            missing = [k for k in keys if k not in documented]
            self.assertEqual(missing, [], "%s keys missing from the README" % title)

    def test_the_two_commands(self):
        for cmd in ("deploy/quickstart", "tests/run"):
            self.assertIn(cmd, self.readme)
            self.assertTrue(os.access(os.path.join(h.SRC_DIR, cmd), os.X_OK), cmd)


if __name__ == "__main__":
    h.main()
