# tests/e2e/test_cli.py: the command-line shape of both programs: --help, --version,
# --show-config (secrets masked), configuration errors (exit code 2, message naming the key).
import os
import unittest

import harness as h


class CliTest(unittest.TestCase):
    def test_help_and_version(self):
        for binary, name in ((h.CP_BIN, "portico-cp"), (h.DP_BIN, "portico-dp")):
            r = h.run_cmd([binary, "--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: " + name, r.stdout)
            self.assertIn("PORTICO_<KEY>", r.stdout)
            r = h.run_cmd([binary, "--version"])
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, name + r" \d+\.\d+\.\d+")

    def test_show_config_masks_secrets_and_takes_env(self):
        r = h.run_cmd([h.CP_BIN, "--show-config"],
                      env={"PORTICO_PG_PASSWORD": "s3cret", "PORTICO_ADMIN_LISTEN": "127.0.0.1:9001"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("admin_listen = 127.0.0.1:9001", r.stdout)
        self.assertIn("pg_password = ******", r.stdout)
        self.assertNotIn("s3cret", r.stdout)
        r = h.run_cmd([h.DP_BIN, "--show-config"], env={"PORTICO_WORKER_THREADS": "3"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("worker_threads = 3", r.stdout)
        self.assertIn("proxy_listen = 0.0.0.0:8000, 0.0.0.0:8443 ssl", r.stdout)

    def test_config_file_and_errors(self):
        d = h.make_tmpdir()
        good = os.path.join(d, "good.conf")
        with open(good, "w") as f:
            f.write("# portico.conf\nadmin_listen = 127.0.0.1:9101  # comment\npg_port = 6000\n")
        r = h.run_cmd([h.CP_BIN, "-c", good, "--show-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pg_port = 6000", r.stdout)

        bad = os.path.join(d, "bad.conf")
        with open(bad, "w") as f:
            f.write("admin_listn = 127.0.0.1:9101\n")
        r = h.run_cmd([h.CP_BIN, "-c", bad])
        self.assertEqual(r.returncode, 2)
        self.assertIn("admin_listn", r.stderr)

        r = h.run_cmd([h.DP_BIN], env={"PORTICO_WORKER_THREADS": "many"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("worker_threads", r.stderr)

        r = h.run_cmd([h.CP_BIN, "-c", os.path.join(d, "missing.conf")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.conf", r.stderr)

        r = h.run_cmd([h.DP_BIN, "--bogus"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--bogus", r.stderr)

    def test_unknown_env_is_only_a_warning(self):
        r = h.run_cmd([h.DP_BIN, "--show-config"], env={"PORTICO_NOT_A_KEY": "1"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("PORTICO_NOT_A_KEY", r.stderr)


if __name__ == "__main__":
    h.main()
