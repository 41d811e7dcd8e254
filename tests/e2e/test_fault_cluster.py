# tests/e2e/test_fault_cluster.py: faults of the hybrid cluster with real processes (portico-cp
# with its Admin API on PostgreSQL, portico-dp fed over mutual-TLS websockets, real upstreams):
# the control plane SIGKILLed under load, the data plane <-> control plane link cut for 30 s
# (network namespace and veth pairs, so only that link goes down; loopback fallback when
# namespaces are not permitted, said in the output), PostgreSQL stopped, two control planes on one
# database with one killed, and a data plane whose prefix is full. Data planes must keep serving
# with zero failed requests and converge once the fault is gone. Each test prints what it
# checked and what it counted.
import os
import shutil
import subprocess
import threading
import time
import unittest
import uuid
from http.server import ThreadingHTTPServer

import harness as h

try:
    import cluster_util as cu
except ImportError:  # the cluster branch is not in the tree yet
    cu = None

HAVE_HYBRID = cu is not None and hasattr(h, "DataPlane") and hasattr(h, "ControlPlane")


class Load:
    """GET requests from `threads` threads against url until stopped; counts outcomes."""

    def __init__(self, url, threads=3):
        self.url = url
        self.ok = 0
        self.failed = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        while not self.stop_ev.is_set():
            try:
                st = h.request("GET", self.url, timeout=10).status
            except OSError as e:
                st = repr(e)
            with self.lock:
                if st == 200:
                    self.ok += 1
                else:
                    self.failed.append(st)
            time.sleep(0.02)  # a steady, modest rate: the machine is shared

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)

    def summary(self):
        return "%d requests ok, %d failed %s" % (self.ok, len(self.failed),
                                                 sorted(set(map(str, self.failed)))[:4])


class HostUpstream:
    """A harness upstream bound to a given address (harness.Upstream binds 127.0.0.1 only)."""

    def __init__(self, name, host):
        self.port = h.free_port()
        self.httpd = ThreadingHTTPServer((host, self.port), h._UpstreamHandler)
        self.httpd.daemon_threads = True
        self.httpd.name = name
        self.httpd.lock = threading.Lock()
        self.httpd.hits = 0
        self.httpd.requests = []
        self.httpd.status = 200
        self.httpd.delay = 0
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_dp(cp_ports, cp, prefix=None, argv_prefix=(), proxy_host="127.0.0.1",
             cp_host="127.0.0.1", name="dp"):
    """A data plane connected (shared mTLS) to the control planes on cp_ports."""
    prefix = prefix or h.make_tmpdir("dp-")
    proxy_port, status_port = h.free_port(), h.free_port()
    env = {"PORTICO_PREFIX": prefix,
           "PORTICO_PROXY_LISTEN": "%s:%d" % (proxy_host, proxy_port),
           "PORTICO_STATUS_LISTEN": "%s:%d" % (proxy_host, status_port),
           "PORTICO_WORKER_THREADS": "1",
           "PORTICO_CLUSTER_CONTROL_PLANE": ",".join("%s:%d" % (cp_host, p) for p in cp_ports),
           "PORTICO_CLUSTER_CERT": cp.cluster_cert,
           "PORTICO_CLUSTER_CERT_KEY": cp.cluster_key,
           "PORTICO_CLUSTER_HEARTBEAT_INTERVAL": "1",
           "PORTICO_LOG_LEVEL": "info"}
    p = h.Proc(list(argv_prefix) + [h.DP_BIN], env=env, name=name)
    p.prefix, p.proxy_port, p.status_port, p.host = prefix, proxy_port, status_port, proxy_host
    p.url = lambda path="/": "http://%s:%d%s" % (proxy_host, proxy_port, path)
    return p


def add_route(cp, up_host, up_port, path):
    """Creates a service and a route to it through the Admin API."""
    name = "s-" + uuid.uuid4().hex[:8]
    r = cp.admin("POST", "/services", json_body={"name": name, "host": up_host,
                                                 "port": up_port})
    assert r.status == 201, r
    r = cp.admin("POST", "/services/%s/routes" % name, json_body={"paths": [path]})
    assert r.status == 201, r


def wait_serving(dp, path, timeout=20):
    def ok():
        try:
            return h.request("GET", dp.url(path), timeout=2).status == 200
        except OSError:
            return False
    h.wait_for(ok, timeout, interval=0.1, what="data plane serving %s" % path)


@unittest.skipUnless(HAVE_HYBRID, "the hybrid cluster (cluster + dp branches) is not built")
class ControlPlaneFaultsTest(unittest.TestCase):
    def test_control_plane_sigkilled_under_load(self):
        up = h.Upstream("u")
        cp = h.ControlPlane()
        dp = start_dp([cp.cluster_port], cp)
        try:
            add_route(cp, "127.0.0.1", up.port, "/before")
            wait_serving(dp, "/before")
            with Load(dp.url("/before")) as load:
                time.sleep(1)
                cp.proc.kill()  # SIGKILL
                cp.proc = None
                time.sleep(3)
                t0 = time.monotonic()
                cp.start()
                add_route(cp, "127.0.0.1", up.port, "/after")
                wait_serving(dp, "/after", timeout=60)
                converged = time.monotonic() - t0
            print("\ncontrol plane SIGKILLed under load: %s; after its restart the data plane "
                  "converged to a change made then in %.1fs" % (load.summary(), converged))
            self.assertGreater(load.ok, 50)
            self.assertEqual(load.failed, [])
        finally:
            dp.stop()
            cp.stop()
            up.stop()

    def test_database_stopped(self):
        pg = h.TempPostgres()
        up = h.Upstream("u")
        db = pg.create_database()
        cp = h.ControlPlane(db=db, env=pg.env(db), start=False)
        cp.start()
        dp1 = start_dp([cp.cluster_port], cp, name="dp1")
        dp2 = None
        try:
            add_route(cp, "127.0.0.1", up.port, "/db")
            wait_serving(dp1, "/db")
            with Load(dp1.url("/db")) as load:
                pg.stop()
                t0 = time.monotonic()
                r = cp.admin("GET", "/services", timeout=10)
                t503 = time.monotonic() - t0
                self.assertEqual(r.status, 503, r)
                r = cp.admin("POST", "/services", json_body={"host": "x.test"}, timeout=10)
                self.assertEqual(r.status, 503, r)
                # a data plane that connects during the outage gets the last snapshot
                dp2 = start_dp([cp.cluster_port], cp, name="dp2")
                wait_serving(dp2, "/db")
                time.sleep(1)
                pg.start()
                h.wait_for(lambda: cp.admin("GET", "/services").status == 200, 30,
                           interval=0.2, what="Admin API back")
                add_route(cp, "127.0.0.1", up.port, "/db-after")
                wait_serving(dp1, "/db-after", 30)
                wait_serving(dp2, "/db-after", 30)
            print("\nPostgreSQL stopped: Admin API answered 503 in %.0f ms; data plane load "
                  "%s; a data plane started during the outage served the last snapshot; both "
                  "applied a change made after recovery" % (t503 * 1000, load.summary()))
            self.assertLess(t503, 2.0)
            self.assertEqual(load.failed, [])
        finally:
            for d in (dp1, dp2):
                if d:
                    d.stop()
            cp.stop()
            up.stop()
            pg.destroy()

    def test_two_control_planes_one_killed(self):
        up = h.Upstream("u")
        cp1 = h.ControlPlane(name="cp1")
        # the second shares the database and the one certificate of the first (shared mode)
        cp2 = h.ControlPlane(db=cp1.db, bootstrap=False, name="cp2", env={
            "PORTICO_CLUSTER_CERT": cp1.cluster_cert, "PORTICO_CLUSTER_CERT_KEY": cp1.cluster_key})
        dp = start_dp([cp1.cluster_port, cp2.cluster_port], cp1)
        try:
            add_route(cp1, "127.0.0.1", up.port, "/one")
            wait_serving(dp, "/one")
            with Load(dp.url("/one")) as load:
                cp1.proc.kill()
                cp1.proc = None
                t0 = time.monotonic()
                add_route(cp2, "127.0.0.1", up.port, "/two")
                wait_serving(dp, "/two", 60)
                moved = time.monotonic() - t0
            print("\ntwo control planes, the first SIGKILLed: the data plane moved to the "
                  "second and applied a change made there in %.1fs; load %s"
                  % (moved, load.summary()))
            self.assertEqual(load.failed, [])
        finally:
            dp.stop()
            cp2.stop()
            up.stop()


def netns_ok():
    if not shutil.which("ip") or os.geteuid() != 0:
        return False
    name = "prl" + uuid.uuid4().hex[:6]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return False
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@unittest.skipUnless(HAVE_HYBRID, "the hybrid cluster (cluster + dp branches) is not built")
class LinkCutTest(unittest.TestCase):
    """The data plane lives in its own network namespace with two veth pairs: one carries only
    the cluster link (cut here), the other client and upstream traffic."""

    CUT_SECONDS = 30

    def setUp(self):
        self.ns = None
        if not netns_ok():
            return
        tag = uuid.uuid4().hex[:5]
        self.ns = "prl" + tag
        # two /30 subnets derived from the tag so parallel runs do not collide
        n = int(tag[:2], 16)
        self.cl_host, self.cl_ns = "10.231.%d.1" % n, "10.231.%d.2" % n
        self.dt_host, self.dt_ns = "10.232.%d.1" % n, "10.232.%d.2" % n
        self.cl_if, self.dt_if = "pc" + tag, "pd" + tag
        sh("ip", "netns", "add", self.ns)
        for ifname, host, nsip in ((self.cl_if, self.cl_host, self.cl_ns),
                                   (self.dt_if, self.dt_host, self.dt_ns)):
            sh("ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname + "n")
            sh("ip", "link", "set", ifname + "n", "netns", self.ns)
            sh("ip", "addr", "add", host + "/30", "dev", ifname)
            sh("ip", "link", "set", ifname, "up")
            sh("ip", "netns", "exec", self.ns, "ip", "addr", "add", nsip + "/30", "dev",
               ifname + "n")
            sh("ip", "netns", "exec", self.ns, "ip", "link", "set", ifname + "n", "up")
        sh("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")

    def tearDown(self):
        if self.ns:
            for ifname in (self.cl_if, self.dt_if):
                subprocess.run(["ip", "link", "del", ifname], capture_output=True)
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def test_link_cut_for_30s(self):
        if self.ns:
            mode = "network namespace %s, veth pairs, cluster link %s down" % (self.ns,
                                                                                self.cl_if)
            up = HostUpstream("u", self.dt_host)
            up_host = self.dt_host
            cp = h.ControlPlane(start=False)
            cp.env["PORTICO_CLUSTER_LISTEN"] = "%s:%d" % (self.cl_host, cp.cluster_port)
            cp.start()
            dp = start_dp([cp.cluster_port], cp, argv_prefix=("ip", "netns", "exec", self.ns),
                          proxy_host=self.dt_ns, cp_host=self.cl_host)

            def cut():
                sh("ip", "link", "set", self.cl_if, "down")

            def restore():
                sh("ip", "link", "set", self.cl_if, "up")
        else:
            mode = "loopback fallback (network namespaces not permitted): the control plane " \
                   "is stopped instead of the link"
            up = h.Upstream("u")
            up_host = "127.0.0.1"
            cp = h.ControlPlane()
            dp = start_dp([cp.cluster_port], cp)

            def cut():
                cp.proc.signal(h.signal.SIGSTOP)

            def restore():
                cp.proc.signal(h.signal.SIGCONT)
        try:
            add_route(cp, up_host, up.port, "/before")
            wait_serving(dp, "/before")
            with Load(dp.url("/before")) as load:
                cut()
                time.sleep(2)
                # a change made while the link is down (the control plane answers its admins)
                if self.ns:
                    add_route(cp, up_host, up.port, "/during")
                time.sleep(self.CUT_SECONDS - 2)
                restore()
                t0 = time.monotonic()
                if not self.ns:
                    add_route(cp, up_host, up.port, "/during")
                wait_serving(dp, "/during", 90)
                applied = time.monotonic() - t0
            print("\nlink cut %ds (%s): load %s; after the link came back the data plane "
                  "reconnected and applied the change made meanwhile in %.1fs"
                  % (self.CUT_SECONDS, mode, load.summary(), applied))
            self.assertEqual(load.failed, [])
        finally:
            dp.stop()
            cp.stop()
            up.stop()


@unittest.skipUnless(HAVE_HYBRID, "the hybrid cluster (cluster + dp branches) is not built")
class FullPrefixTest(unittest.TestCase):
    def test_full_prefix_keeps_serving(self):
        up = h.Upstream("u")
        cp = h.ControlPlane()
        prefix = h.make_tmpdir("dp-full-")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", prefix],
                                 capture_output=True).returncode == 0
        dp = None
        try:
            dp = start_dp([cp.cluster_port], cp, prefix=prefix)
            add_route(cp, "127.0.0.1", up.port, "/a")
            wait_serving(dp, "/a")
            # fill the disk (a tmpfs when mounting is allowed, else the cache made unwritable
            # by a directory in the way of its temporary file)
            if mounted:
                try:
                    with open(os.path.join(prefix, "filler"), "wb") as f:
                        while True:
                            f.write(b"\0" * 4096)
                            f.flush()
                except OSError:  # ENOSPC: full
                    pass
                how = "a 256 kB tmpfs filled up"
            else:
                os.makedirs(os.path.join(prefix, "config.cache.tmp"), exist_ok=True)
                how = "a directory where the cache's temporary file goes"
            with Load(dp.url("/a")) as load:
                add_route(cp, "127.0.0.1", up.port, "/b")
                wait_serving(dp, "/b", 30)
            h.wait_for(lambda: "cannot write config cache" in dp.output() or
                       "cannot sync config cache" in dp.output(), 10,
                       what="the failed cache write in the log")
            print("\nfull prefix (%s): the data plane applied a new config, logged the failed "
                  "cache write and kept serving: %s" % (how, load.summary()))
            self.assertEqual(load.failed, [])
        finally:
            if dp:
                dp.stop()
            cp.stop()
            up.stop()
            if mounted:
                subprocess.run(["umount", prefix], capture_output=True)


if __name__ == "__main__":
    h.main()
