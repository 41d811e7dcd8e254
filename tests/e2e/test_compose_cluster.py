# tests/e2e/test_compose_cluster.py: the compose cluster (deploy/docker-compose.yml) end to end,
# with real images built from Debian packages: base image, `build`, `up -d --scale dp=3`, the
# seed tutorial's curl commands against the published Admin API, traffic through the published
# proxy port alternating between the two demo upstreams, three data planes with one config hash,
# the control plane stopped while the data planes keep serving (also after they are recreated
# from their cache volumes), a clean stop of every container, and `down -v` leaving nothing.
# A second test runs deploy/systemd's units under a real systemd inside a container
# (deploy/docker/systemd-check): hardening in force, reload, restart on failure, clean stop; it
# is skipped where a container cannot run systemd (it needs CAP_SYS_ADMIN). A third one, without
# Docker, checks what the units' ExecReload relies on (SIGUSR1 reopens log_file) with the
# sanitizer build.
#
# Runs only where a Docker engine and Compose (`docker compose` v2 or `docker-compose` 1.29) are
# usable; otherwise it is skipped ("skipped: no docker engine"). PORTICO_SKIP_DOCKER=1 skips it
# too; PORTICO_COMPOSE="docker-compose" (or "docker compose") picks the Compose spelling.
# The first run builds every image (a few minutes); later runs reuse Docker's build cache.
# SPDX-License-Identifier: Apache-2.0
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import unittest
import uuid
import http.client

import harness as h

COMPOSE_FILE = os.path.join(h.SRC_DIR, "deploy", "docker-compose.yml")
BASE_IMAGE_SCRIPT = os.path.join(h.SRC_DIR, "deploy", "docker", "base-image")
NUM_DP = 3
ZERO_HASH = "0" * 32


def _ok(argv, timeout=30):
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_compose():
    """The Compose command as a list (v2 plugin first, then docker-compose 1.x), or None."""
    forced = os.environ.get("PORTICO_COMPOSE")
    if forced:
        return shlex.split(forced)
    if _ok(["docker", "compose", "version"]):
        return ["docker", "compose"]
    if _ok(["docker-compose", "version"]):
        return ["docker-compose"]
    return None


def skip_reason():
    if os.environ.get("PORTICO_SKIP_DOCKER") == "1":
        return "PORTICO_SKIP_DOCKER=1"
    if not _ok(["docker", "info"], timeout=60):
        return "no docker engine"
    if find_compose() is None:
        return "no docker compose (neither `docker compose` nor `docker-compose`)"
    return None


SKIP = skip_reason()
if SKIP:
    print("skipped: %s" % SKIP, file=sys.stderr)


def log(msg):
    print("compose-cluster: %s" % msg, file=sys.stderr, flush=True)


@unittest.skipIf(SKIP, "skipped: %s" % SKIP)
class ComposeClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose_cmd = find_compose()
        cls.project = "porticoe2e" + uuid.uuid4().hex[:10]
        cls.admin_port = h.free_port()
        cls.gui_port = h.free_port()
        cls.proxy_port = h.free_port()
        cls.proxy_ssl_port = h.free_port()
        cls.env = {
            "PORTICO_ADMIN_PORT": str(cls.admin_port),
            "PORTICO_GUI_PORT": str(cls.gui_port),
            "PORTICO_PROXY_PORT": str(cls.proxy_port),
            "PORTICO_PROXY_SSL_PORT": str(cls.proxy_ssl_port),
            "COMPOSE_HTTP_TIMEOUT": "300",
        }
        cls.started = False

    @classmethod
    def tearDownClass(cls):
        if cls.started:
            # Whatever happened, leave nothing behind.
            cls.compose(["down", "-v", "--remove-orphans", "--timeout", "20"], timeout=300,
                        check=False)

    # ------------------------------------------------------------------------------------------
    # helpers

    @classmethod
    def compose(cls, args, timeout=300, check=True):
        argv = cls.compose_cmd + ["-p", cls.project, "-f", COMPOSE_FILE] + args
        r = h.run_cmd(argv, env=cls.env, timeout=timeout, cwd=os.path.dirname(COMPOSE_FILE))
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d)\n%s\n%s" % (" ".join(argv), r.returncode,
                                                             r.stdout[-4000:], r.stderr[-6000:]))
        return r

    def docker(self, args, timeout=120, check=True):
        r = h.run_cmd(["docker"] + args, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("docker %s failed (%d)\n%s" % (" ".join(args), r.returncode,
                                                                r.stderr[-4000:]))
        return r

    def containers(self):
        """docker inspect of every container of the project, as dicts."""
        r = self.docker(["ps", "-a", "-q", "--filter",
                         "label=com.docker.compose.project=%s" % self.project])
        ids = r.stdout.split()
        if not ids:
            return []
        return json.loads(self.docker(["inspect"] + ids).stdout)

    @staticmethod
    def service_of(c):
        return c["Config"]["Labels"].get("com.docker.compose.service")

    def by_service(self):
        out = {}
        for c in self.containers():
            out.setdefault(self.service_of(c), []).append(c)
        return out

    def admin_url(self, path):
        return "http://127.0.0.1:%d%s" % (self.admin_port, path)

    def proxy_url(self, path):
        return "http://127.0.0.1:%d%s" % (self.proxy_port, path)

    def curl(self, command):
        """Runs one of the tutorial's curl command lines (shell syntax); returns (status, body)."""
        r = h.run_cmd(["bash", "-c", command + " -sS -w '\\n%{http_code}'"], timeout=30)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (command, r.stderr))
        body, _, status = r.stdout.rpartition("\n")
        return int(status), body

    def keepalive_servers(self, n):
        """n requests for /mock on ONE connection through the published proxy port (so on one
        data plane): the list of upstream names that answered."""
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        seen = []
        try:
            for _ in range(n):
                conn.request("GET", "/mock")
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200, body[:300])
                seen.append(json.loads(body)["server"])
        finally:
            conn.close()
        return seen

    def assert_alternates(self, seen):
        for a, b in zip(seen, seen[1:]):
            self.assertNotEqual(a, b, "round-robin must alternate: %s" % seen)
        self.assertEqual(sorted(set(seen)), ["httpbin", "mockbin"], seen)

    def servers_inside(self, container_id, n=9):
        """n requests for /mock sent from inside a data plane container to its own proxy port,
        each on a new connection (bash only: the image has no curl). Returns the names seen.
        With at most 4 worker threads, one worker gets 3 requests in a row of its round-robin,
        so both upstreams must show up."""
        script = r'''
for i in $(seq 1 %d); do
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000 || exit 1
    printf "GET /mock HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3
    cat <&3' || echo "REQUEST FAILED"
  echo
done''' % n
        r = self.docker(["exec", container_id, "bash", "-c", script], timeout=60)
        self.assertNotIn("REQUEST FAILED", r.stdout)
        self.assertEqual(r.stdout.count("HTTP/1.1 200"), n, r.stdout[-2000:])
        return {name for name in ("httpbin", "mockbin") if '"server": "%s"' % name in r.stdout}

    def wait_healthy(self, timeout):
        """Waits until the one-shot services exited 0 and every other container is healthy."""
        def converged():
            svcs = self.by_service()
            for oneshot in ("certs", "migrations"):
                for c in svcs.get(oneshot, []):
                    st = c["State"]
                    if st["Status"] == "exited" and st["ExitCode"] != 0:
                        raise AssertionError("%s exited with %d" % (oneshot, st["ExitCode"]))
            self.assertEqual(len(svcs.get("dp", [])), NUM_DP)
            for name, cs in svcs.items():
                for c in cs:
                    st = c["State"]
                    if name in ("certs", "migrations"):
                        if st["Status"] != "exited":
                            return False
                    elif st.get("Health", {}).get("Status") != "healthy":
                        return False
            return True
        h.wait_for(converged, timeout=timeout, interval=1, what="every service healthy")

    def prefixes(self, dps):
        """The prefix each data plane process runs with (set by the image's entrypoint)."""
        out = set()
        for c in dps:
            r = self.docker(["exec", c["Id"], "bash", "-c",
                             "tr '\\0' '\\n' </proc/1/environ | sed -n 's/^PORTICO_PREFIX=//p'"])
            out.add(r.stdout.strip())
        return out

    def dump_logs(self):
        r = self.compose(["logs", "--no-color", "--tail", "60"], check=False, timeout=120)
        log("logs of project %s:\n%s%s" % (self.project, r.stdout[-20000:], r.stderr[-2000:]))

    # ------------------------------------------------------------------------------------------

    def test_cluster(self):
        try:
            self.run_cluster()
        except BaseException:
            if self.started:
                self.dump_logs()
            raise

    def run_cluster(self):
        # The image tags (portico:latest, ...) are shared by every checkout on this machine:
        # hold a lock from the build until the containers exist (they pin the image by id).
        with open(os.path.join("/tmp", "portico-compose-e2e.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            t0 = time.monotonic()
            r = h.run_cmd([BASE_IMAGE_SCRIPT], timeout=1200)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            log("base image %.1fs (%s)" % (time.monotonic() - t0, r.stdout.strip()))

            t0 = time.monotonic()
            # The build stage gets a tag of its own, so that it stays cached (and what earlier
            # builds left untagged can be pruned: it would pile up on the machine run after run).
            self.docker(["build", "-q", "--force-rm", "--target", "build",
                         "-t", "portico-build:cache",
                         "-f", os.path.join(h.SRC_DIR, "deploy", "Dockerfile"), h.SRC_DIR],
                        timeout=3600)
            self.compose(["build", "--force-rm"], timeout=3600)
            log("compose build %.1fs" % (time.monotonic() - t0))
            self.docker(["image", "prune", "-f", "--filter", "label=io.portico.image"],
                        check=False)

            # docker compose up -d --scale dp=3
            t0 = time.monotonic()
            type(self).started = True
            self.compose(["up", "-d", "--scale", "dp=%d" % NUM_DP], timeout=600)
        self.wait_healthy(timeout=180)
        log("up and healthy %.1fs" % (time.monotonic() - t0))

        svcs = self.by_service()
        self.assertEqual(sorted(svcs), ["certs", "cp", "dp", "httpbin", "lb", "migrations",
                                        "mockbin", "postgres"])
        dps = svcs["dp"]
        # Not root, and nothing but the Admin API and the proxy is published.
        for c in svcs["cp"] + dps:
            self.assertEqual(c["Config"]["User"], "portico")
        published = {}
        for name, cs in svcs.items():
            for c in cs:
                for port, binds in (c["NetworkSettings"]["Ports"] or {}).items():
                    if binds:
                        published.setdefault(name, set()).update(int(b["HostPort"]) for b in binds)
        self.assertEqual(published, {"cp": {self.admin_port, self.gui_port},
                                     "lb": {self.proxy_port, self.proxy_ssl_port}})
        self.assertEqual(len({c["Config"]["Hostname"] for c in dps}), NUM_DP)
        # Each replica has a prefix of its own (node id, configuration cache) on the dp-data volume.
        slots = {"/var/lib/portico/slots/dp-%d" % i for i in range(1, NUM_DP + 1)}
        self.assertEqual(self.prefixes(dps), slots)

        # The seed tutorial ("Set Up Intelligent Load Balancing"), host names changed only.
        admin = "http://localhost:%d" % self.admin_port
        status, body = self.curl("curl -X POST %s/services --data name=example_service "
                                 "--data url='http://mockbin'" % admin)
        self.assertEqual(status, 201, body)
        status, body = self.curl("curl -X POST %s/services/example_service/routes "
                                 "--data 'paths[]=/mock' --data name=mocking" % admin)
        self.assertEqual(status, 201, body)
        status, body = self.curl("curl -X POST %s/upstreams --data name=example_upstream" % admin)
        self.assertEqual(status, 201, body)
        self.assertEqual(json.loads(body)["algorithm"], "round-robin")
        status, body = self.curl("curl -X PATCH %s/services/example_service "
                                 "--data host='example_upstream'" % admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["host"], "example_upstream")
        for target in ("mockbin:80", "httpbin:80"):
            status, body = self.curl("curl -X POST %s/upstreams/example_upstream/targets "
                                     "--data target='%s'" % (admin, target))
            self.assertEqual(status, 201, body)
            self.assertEqual(json.loads(body)["target"], target)

        # Traffic on the published proxy port: every data plane becomes ready, then requests on
        # one connection (one data plane) alternate between the two demo upstreams.
        def both_seen():
            seen = set()
            for _ in range(6):
                r = h.request("GET", self.proxy_url("/mock"))
                if r.status != 200:
                    return False
                seen.add(r.json()["server"])
            return seen == {"httpbin", "mockbin"}
        h.wait_for(both_seen, timeout=60, interval=0.5, what="balanced traffic on the proxy port")
        seen = self.keepalive_servers(20)
        self.assert_alternates(seen)
        self.assertEqual(seen.count("httpbin"), 10, seen)
        # The README's check: curl reuses one connection for several URLs, so they go to one
        # data plane and alternate.
        r = h.run_cmd(["bash", "-c", "curl -sS " + " ".join(
            ["http://localhost:%d/mock" % self.proxy_port] * 4) + " | grep '\"server\"'"],
            timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        self.assert_alternates([x.strip('",') for x in lines if x.strip('",') in
                                ("httpbin", "mockbin")])
        self.assertEqual(len(r.stdout.splitlines()), 4, r.stdout)
        # curl http://localhost:8000/mock, a new connection each time (spread over the replicas)
        names = []
        for _ in range(12):
            status, body = self.curl("curl http://localhost:%d/mock" % self.proxy_port)
            self.assertEqual(status, 200, body)
            names.append(json.loads(body)["server"])
        self.assertEqual(set(names), {"httpbin", "mockbin"}, names)
        # Every replica serves the configuration itself.
        for c in dps:
            self.assertEqual(self.servers_inside(c["Id"]), {"httpbin", "mockbin"}, c["Name"])

        # All three data planes registered, with one (non-empty) configuration hash.
        dp_hostnames = {c["Config"]["Hostname"] for c in dps}

        def registered():
            r = h.request("GET", self.admin_url("/clustering/data-planes"))
            if r.status != 200:
                return False
            rows = r.json()["data"]
            hashes = {row.get("config_hash") for row in rows}
            if len(rows) != NUM_DP or len(hashes) != 1:
                return False
            hsh = hashes.pop()
            return hsh not in (None, "", ZERO_HASH) and rows
        rows = h.wait_for(registered, timeout=60, interval=1,
                          what="%d data planes with one config hash" % NUM_DP)
        self.assertEqual({row["hostname"] for row in rows}, dp_hostnames, rows)

        # Stop the control plane: it exits 0 on SIGTERM, and the data planes keep serving.
        self.compose(["stop", "--timeout", "20", "cp"], timeout=120)
        cp = self.by_service()["cp"][0]
        self.assertEqual(cp["State"]["Status"], "exited")
        self.assertEqual(cp["State"]["ExitCode"], 0, "cp did not stop cleanly")
        with self.assertRaises(OSError):
            h.request("GET", self.admin_url("/"), timeout=2)
        self.assert_alternates(self.keepalive_servers(10))
        time.sleep(3)   # past a reconnect attempt or two
        self.assert_alternates(self.keepalive_servers(10))
        for c in self.by_service()["dp"]:
            self.assertEqual(c["State"]["Status"], "running", c["Name"])

        # Recreate the data planes while the control plane is down: new containers, same cache
        # volumes; they load the cached configuration and serve it.
        old_ids = {c["Id"] for c in dps}
        self.compose(["up", "-d", "--no-deps", "--force-recreate", "--scale",
                      "dp=%d" % NUM_DP, "dp"], timeout=300)
        new_dps = self.by_service()["dp"]
        self.assertEqual(len(new_dps), NUM_DP)
        self.assertFalse(old_ids & {c["Id"] for c in new_dps}, "dp containers were not recreated")
        self.assertEqual(self.prefixes(new_dps), slots)
        for c in new_dps:
            h.wait_for(lambda c=c: self.servers_inside(c["Id"]) == {"httpbin", "mockbin"},
                       timeout=60, interval=1, what="recreated %s serving" % c["Name"])
        h.wait_for(lambda: self.assert_alternates(self.keepalive_servers(10)) is None,
                   timeout=30, interval=1, what="proxy port serving after recreate")

        # `up` again brings the control plane back (certs and migrations run again and find
        # their work done); the recreated data planes kept their node ids (still three rows,
        # now with the new containers' host names) and converge on one hash again.
        self.compose(["up", "-d", "--scale", "dp=%d" % NUM_DP], timeout=300)
        self.wait_healthy(timeout=120)
        self.assertEqual({c["Id"] for c in self.by_service()["dp"]}, {c["Id"] for c in new_dps})
        new_hostnames = {c["Config"]["Hostname"] for c in new_dps}

        def reregistered():
            rows = registered()
            return rows and {row["hostname"] for row in rows} == new_hostnames and rows
        h.wait_for(reregistered, timeout=60, interval=1,
                   what="the recreated data planes registered under their old node ids")

        # Every container stops cleanly (exit 0 on its stop signal) and never restarted.
        self.compose(["stop", "--timeout", "30"], timeout=300)
        for c in self.containers():
            st = c["State"]
            self.assertEqual(st["Status"], "exited", c["Name"])
            self.assertEqual(st["ExitCode"], 0, "%s exited with %d" % (c["Name"], st["ExitCode"]))
            self.assertEqual(c["RestartCount"], 0, c["Name"])

        # docker compose down -v: no container, volume or network of the project is left.
        volumes = {m["Name"] for c in self.containers() for m in c["Mounts"]
                   if m["Type"] == "volume"}
        self.assertEqual(len(volumes), 3, volumes)   # pg-data, cluster-certs, dp-data
        self.compose(["down", "-v", "--remove-orphans"], timeout=300)
        type(self).started = False
        label = "label=com.docker.compose.project=%s" % self.project
        self.assertEqual(self.docker(["ps", "-a", "-q", "--filter", label]).stdout.strip(), "")
        self.assertEqual(self.docker(["volume", "ls", "-q", "--filter", label]).stdout.strip(),
                         "")
        self.assertEqual(self.docker(["network", "ls", "-q", "--filter", label]).stdout.strip(),
                         "")
        for v in volumes:
            self.assertNotEqual(self.docker(["volume", "inspect", v], check=False).returncode, 0,
                                "volume %s left behind" % v)


class ReloadSignalTest(unittest.TestCase):
    """What the units' ExecReload (SIGUSR1) relies on, with the sanitizer build and no Docker:
    after logrotate moved log_file away, SIGUSR1 makes each program write to a new file at the
    configured path and keep running; SIGTERM still stops it with exit status 0."""

    def check_reopen(self, proc, log_path, still_serving):
        os.rename(log_path, log_path + ".1")
        proc.signal(signal.SIGUSR1)

        def reopened():
            with open(log_path, encoding="utf-8", errors="replace") as f:
                return "log file reopened" in f.read()
        h.wait_for(lambda: os.path.exists(log_path) and reopened(), timeout=10,
                   what="a new %s" % log_path)
        self.assertTrue(proc.alive(), "SIGUSR1 stopped the process")
        self.assertTrue(still_serving())
        with open(log_path + ".1", encoding="utf-8", errors="replace") as f:
            self.assertNotIn("log file reopened", f.read())

    def test_sigusr1_reopens_the_log(self):
        d = h.make_tmpdir("reload-")
        cp_log = os.path.join(d, "cp.log")
        cp = h.ControlPlane(env={"PORTICO_LOG_FILE": cp_log})
        try:
            self.check_reopen(cp.proc, cp_log,
                              lambda: cp.admin("GET", "/status").status == 200)
        finally:
            cp.stop()
        dp_log = os.path.join(d, "dp.log")
        dp = h.DataPlane(extra_env={"PORTICO_LOG_FILE": dp_log})
        try:
            self.check_reopen(dp.proc, dp_log, lambda: h.request(
                "GET", "http://127.0.0.1:%d/status" % dp.status_port).status == 200)
        finally:
            dp.stop()


SYSTEMD_RUN_ARGS = ["--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
                    "--security-opt", "apparmor=unconfined", "--tmpfs", "/run",
                    "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro"]


@unittest.skipIf(SKIP, "skipped: %s" % SKIP)
class SystemdUnitsTest(unittest.TestCase):
    """deploy/systemd's units under a real systemd (process 1 of a container built by
    deploy/docker/systemd-check/Dockerfile), with PostgreSQL: both programs start as the
    unprivileged user with the hardening in force, the data plane connects to the control
    plane, reload keeps the process, a killed process is restarted, stop exits 0."""

    def setUp(self):
        self.name = "portico-systemd-" + uuid.uuid4().hex[:10]
        self.started = False

    def tearDown(self):
        if self.started:
            h.run_cmd(["docker", "rm", "-f", "-v", self.name], timeout=120)

    def sh(self, script, check=True, timeout=60):
        r = h.run_cmd(["docker", "exec", self.name, "bash", "-c", script], timeout=timeout)
        if check:
            self.assertEqual(r.returncode, 0, "%s\n%s%s" % (script, r.stdout, r.stderr))
        return r.stdout.strip()

    def prop(self, unit, name):
        return self.sh("systemctl show %s -p %s --value" % (unit, name))

    def http_get(self, port, path):
        """GET path from 127.0.0.1:port inside the container (bash only); returns
        (status, body), status 0 when nothing answered."""
        script = ('exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; '
                  'printf "GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" "$2" >&3; cat <&3')
        r = h.run_cmd(["docker", "exec", self.name, "timeout", "5", "bash", "-c", script, "_",
                       str(port), path], timeout=30)
        head, _, body = r.stdout.partition("\n\n")   # text mode turned CRLF into LF
        parts = head.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        return status, body

    def mount_options(self, pid, mountpoint):
        """Options of the mount at mountpoint as process pid sees it (the last one wins)."""
        opts = None
        for line in self.sh("cat /proc/%s/mountinfo" % pid).splitlines():
            f = line.split()
            if len(f) > 5 and f[4] == mountpoint:
                opts = f[5].split(",")
        return opts

    def test_units(self):
        with open(os.path.join("/tmp", "portico-compose-e2e.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            r = h.run_cmd([BASE_IMAGE_SCRIPT], timeout=1200)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            t0 = time.monotonic()
            for dockerfile, tag in (("deploy/Dockerfile", "portico:latest"),
                                    ("deploy/docker/postgres/Dockerfile", "portico-postgres:15"),
                                    ("deploy/docker/systemd-check/Dockerfile",
                                     "portico-systemd-check:latest")):
                r = h.run_cmd(["docker", "build", "-q", "--force-rm", "-t", tag, "-f",
                               os.path.join(h.SRC_DIR, dockerfile), h.SRC_DIR], timeout=3600)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-4000:])
            log("systemd check image %.1fs" % (time.monotonic() - t0))
            r = h.run_cmd(["docker", "run", "-d", "--name", self.name] + SYSTEMD_RUN_ARGS +
                          ["portico-systemd-check:latest"], timeout=120)
        if r.returncode != 0:
            self.skipTest("cannot run systemd in a container here: %s" % r.stderr.strip())
        self.started = True

        def booted():
            st = self.sh("systemctl is-system-running || true")
            return st if st in ("running", "degraded") else False
        try:
            h.wait_for(booted, timeout=60, interval=1, what="systemd up")
        except AssertionError:
            self.skipTest("systemd does not come up in a container here")

        def both_active():
            return self.sh("systemctl is-active portico-cp portico-dp || true") == \
                "active\nactive"
        h.wait_for(both_active, timeout=60, interval=1, what="portico-cp and portico-dp active")
        h.wait_for(lambda: self.http_get(8001, "/status")[0] == 200, timeout=60, interval=1,
                   what="cp /status")
        h.wait_for(lambda: self.http_get(8100, "/status")[0] == 200, timeout=60, interval=1,
                   what="dp /status")

        def dp_registered():
            status, body = self.http_get(8001, "/clustering/data-planes")
            rows = json.loads(body)["data"] if status == 200 else []
            return len(rows) == 1 and rows[0].get("config_hash")
        h.wait_for(dp_registered, timeout=60, interval=1, what="dp registered with the cp")

        # The hardening is in force on the running processes.
        for unit in ("portico-cp", "portico-dp"):
            pid = self.prop(unit, "MainPID")
            status = self.sh("cat /proc/%s/status" % pid)
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            uid = self.sh("id -u portico")
            self.assertEqual(fields["Uid"].split()[0], uid, unit)
            self.assertEqual(fields["NoNewPrivs"].strip(), "1", unit)
            self.assertEqual(int(fields["CapEff"].strip(), 16), 0, unit)
            self.assertEqual(int(fields["CapBnd"].strip(), 16), 0, unit)
            self.assertEqual(fields["Seccomp"].strip(), "2", unit)
            # ProtectSystem=strict: everything read-only but the state directory.
            self.assertIn("ro", self.mount_options(pid, "/"), unit)
            state = "/var/lib/portico/" + unit[len("portico-"):]
            self.assertIn("rw", self.mount_options(pid, state), unit)

        # systemctl reload: SIGUSR1 (reopen log_file); the process stays.
        for unit in ("portico-dp", "portico-cp"):
            pid = self.prop(unit, "MainPID")
            self.sh("systemctl reload %s" % unit)
            time.sleep(1)
            self.assertEqual(self.prop(unit, "ActiveState"), "active", unit)
            self.assertEqual(self.prop(unit, "MainPID"), pid, "%s did not survive reload" % unit)
            self.assertEqual(self.prop(unit, "NRestarts"), "0", unit)

        # Restart=on-failure: a data plane killed by SIGKILL comes back.
        pid = self.prop("portico-dp", "MainPID")
        self.sh("kill -KILL %s" % pid)
        h.wait_for(lambda: self.prop("portico-dp", "NRestarts") == "1" and
                   self.prop("portico-dp", "ActiveState") == "active" and
                   self.prop("portico-dp", "MainPID") not in ("0", pid),
                   timeout=30, interval=0.5, what="portico-dp restarted")

        # systemctl stop: SIGTERM, exit status 0.
        for unit in ("portico-dp", "portico-cp"):
            self.sh("systemctl stop %s" % unit, timeout=60)
            self.assertEqual(self.prop(unit, "ActiveState"), "inactive", unit)
            self.assertEqual(self.prop(unit, "Result"), "success", unit)
            self.assertEqual(self.prop(unit, "ExecMainStatus"), "0", unit)


if __name__ == "__main__":
    h.main()
