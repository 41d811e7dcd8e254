# tests/e2e/test_fault_dp.py: faults a data plane must survive on its own (no control plane
# needed, it is fed from its disk cache): a restart with no control plane reachable (serving
# from the cache within 1 s), a corrupted or truncated cache (detected, ignored with a clear log
# line, nothing served from it, recovery once a good snapshot arrives), and upstream targets
# killed, hung and slow under load (retries contain the damage; failed requests are counted
# and reported). Loopback only: these faults need no network namespace. Each test prints what
# it checked and what it counted.
import os
import socket
import threading
import time
import unittest

import harness as h

HAVE_DP = hasattr(h, "DataPlane") and hasattr(h, "write_dp_cache")


def simple_config(port):
    return {"services": [{"name": "s", "host": "127.0.0.1", "port": port}],
            "routes": [{"name": "r", "service": "s", "paths": ["/"]}]}


def lb_config(ports, **svc):
    s = {"name": "lb", "host": "pool.upstream", "port": 80, "retries": 5,
         "connect_timeout": 500, "read_timeout": 1000, "write_timeout": 1000}
    s.update(svc)
    return {"services": [s],
            "routes": [{"name": "r", "service": "lb", "paths": ["/"]}],
            "upstreams": [{"name": "pool.upstream"}],
            "targets": [{"upstream": "pool.upstream", "target": "127.0.0.1:%d" % p}
                        for p in ports]}


class Load:
    """Sends GET requests from `threads` threads until stopped; counts outcomes."""

    def __init__(self, url, threads=4):
        self.url = url
        self.ok = 0
        self.failed = []
        self.latencies = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                r = h.request("GET", self.url, timeout=10)
                st = r.status
            except OSError as e:
                st = repr(e)
            dt = time.monotonic() - t0
            with self.lock:
                self.latencies.append(dt)
                if st == 200:
                    self.ok += 1
                else:
                    self.failed.append(st)
            time.sleep(0.005)  # a steady, modest rate: the machine is shared

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)

    def summary(self):
        lat = sorted(self.latencies) or [0]
        return "%d ok, %d failed %s, p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (
            self.ok, len(self.failed), sorted(set(map(str, self.failed)))[:4],
            lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000, lat[-1] * 1000)


@unittest.skipUnless(HAVE_DP, "the proxy (portico-dp with DataPlane in harness) is not built")
class CacheFaultsTest(unittest.TestCase):
    def test_restart_without_control_plane_serves_from_cache_within_1s(self):
        up = h.Upstream("cached")
        prefix = h.make_tmpdir("dp-")
        h.write_dp_cache(prefix, simple_config(up.port))
        try:
            for attempt in range(2):  # a first start, then a restart on the same cache
                t0 = time.monotonic()
                dp = h.DataPlane(prefix=prefix)  # its control plane address answers nothing

                def serving():
                    try:
                        return dp.get("/x", timeout=1).status == 200
                    except OSError:
                        return False
                h.wait_for(serving, 10, interval=0.01, what="first proxied request")
                dt = time.monotonic() - t0
                out = dp.proc.output()
                dp.stop()
                print("\ncache restart %d: first request proxied %.0f ms after the start, with "
                      "no control plane reachable" % (attempt + 1, dt * 1000))
                self.assertIn("config loaded from cache", out)
                self.assertLess(dt, 1.0)
        finally:
            up.stop()

    def test_corrupted_or_truncated_cache_is_ignored(self):
        up = h.Upstream("garbage")
        good_prefix = h.make_tmpdir("dp-")
        h.write_dp_cache(good_prefix, simple_config(up.port))
        with open(os.path.join(good_prefix, "config.cache"), "rb") as f:
            good = f.read()
        snap = h.portico_pb2().Snapshot()
        snap.ParseFromString(good)
        cfg_flip = bytearray(snap.config)
        cfg_flip[len(cfg_flip) // 2] ^= 0x01
        bad_cfg = h.portico_pb2().Snapshot()
        bad_cfg.CopyFrom(snap)
        bad_cfg.config = bytes(cfg_flip)
        bad_hash = h.portico_pb2().Snapshot()
        bad_hash.CopyFrom(snap)
        bad_hash.hash = ("0" if snap.hash[0] != "0" else "1") + snap.hash[1:]
        huge = h.portico_pb2().Snapshot()
        huge.CopyFrom(snap)
        huge.uncompressed_size = 1 << 40
        raw_cfg = h.portico_pb2().Snapshot()
        raw_cfg.CopyFrom(snap)
        raw_cfg.compression = h.portico_pb2().COMPRESSION_NONE  # zlib bytes read as raw
        cases = {
            "truncated_half": good[:len(good) // 2],
            "truncated_last_byte": good[:-1],
            "empty": b"",
            "random_bytes": os.urandom(len(good)),
            "flipped_byte_in_config": bad_cfg.SerializeToString(),
            "wrong_hash": bad_hash.SerializeToString(),
            "absurd_uncompressed_size": huge.SerializeToString(),
            "wrong_compression": raw_cfg.SerializeToString(),
        }
        counted = 0
        try:
            for name, data in cases.items():
                with self.subTest(name=name):
                    up.reset()
                    prefix = h.make_tmpdir("dp-")
                    with open(os.path.join(prefix, "config.cache"), "wb") as f:
                        f.write(data)
                    dp = h.DataPlane(prefix=prefix)
                    try:
                        h.wait_for(lambda: "config cache ignored" in dp.proc.output(), 5,
                                   what="the log line for %s" % name)
                        r = dp.get("/x")
                        # nothing is served from the cache: the data plane waits for a control
                        # plane and answers as Kong does with no configuration
                        self.assertEqual(r.status, 404, r)
                        self.assertEqual(up.hits, 0)
                        out = dp.proc.output()
                        line = [ln for ln in out.splitlines()
                                if "config cache ignored" in ln][0]
                        if name in ("flipped_byte_in_config", "wrong_hash"):
                            # the checksum caught it, and the log says so
                            reason = [ln for ln in out.splitlines() if "snapshot rejected" in ln]
                            self.assertTrue(reason, out[-2000:])
                            self.assertRegex(reason[0], "hash mismatch|corrupt")
                            line = reason[0]
                        # recovery: a good snapshot (here via the cache and SIGHUP)
                        with open(os.path.join(prefix, "config.cache"), "wb") as f:
                            f.write(good)
                        dp.proc.signal(h.signal.SIGHUP)
                        h.wait_for(lambda: dp.get("/x").status == 200, 5, what="recovery")
                        counted += 1
                        print("\ncorrupt cache %-26s -> ignored: %s" % (name, line[line.find(
                            "level="):][:140]))
                    finally:
                        dp.stop()
        finally:
            up.stop()
        print("corrupt cache: %d/%d corruptions detected, logged, not served, recovered"
              % (counted, len(cases)))


@unittest.skipUnless(HAVE_DP, "the proxy (portico-dp with DataPlane in harness) is not built")
class UpstreamFaultsTest(unittest.TestCase):
    """Two or three targets behind one upstream, a steady load, one target misbehaving."""

    def test_target_killed_under_load(self):
        a, b = h.Upstream("a"), h.Upstream("b")
        dp = h.DataPlane(lb_config([a.port, b.port]))
        try:
            with Load(dp.url("/k")) as load:
                time.sleep(1.5)
                a.stop()  # connection refused from now on: retried on the other target
                time.sleep(3)
            print("\ntarget killed under load: %s; b served %d" % (load.summary(), b.hits))
            self.assertGreater(load.ok, 20)
            self.assertEqual(load.failed, [])
        finally:
            dp.stop()
            b.stop()

    def test_target_hung_under_load(self):
        b = h.Upstream("b")
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(128)  # accepts (in the kernel) and never answers
        hport = hung.getsockname()[1]
        dp = h.DataPlane(lb_config([hport, b.port], read_timeout=500))
        try:
            with Load(dp.url("/h")) as load:
                time.sleep(4)
            print("\ntarget hung under load (read_timeout 500 ms, retries 5): %s" % load.summary())
            self.assertGreater(load.ok, 10)
            # a GET that timed out on the hung target is retried on the healthy one
            self.assertEqual(load.failed, [])
        finally:
            dp.stop()
            b.stop()
            hung.close()

    def test_target_slow_under_load(self):
        a, b = h.Upstream("a"), h.Upstream("b")
        a.set_delay(0.3)
        dp = h.DataPlane(lb_config([a.port, b.port]))
        try:
            with Load(dp.url("/s")) as load:
                time.sleep(3)
            print("\ntarget slow (300 ms) under load: %s; a served %d, b served %d"
                  % (load.summary(), a.hits, b.hits))
            self.assertEqual(load.failed, [])
            self.assertGreater(b.hits, 0)
        finally:
            dp.stop()
            a.stop()
            b.stop()


if __name__ == "__main__":
    h.main()
