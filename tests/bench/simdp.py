# tests/bench/simdp.py: simulated data planes for the fan-out figure of issue 4 ("100 data
# planes connected to one control plane (simulated clients are fine): a change reaches all of
# them in under 1 s"). Each is the hand-written protocol client of tests/e2e/cluster_wire.py on
# its own mutual-TLS websocket to the control plane: Hello, then every Snapshot is decompressed
# and hash-checked as a data plane does it (cluster_wire.open_snapshot), timed, and acknowledged.
# No config build: what is measured is the control plane's fan-out, not a data plane's apply.
# Used by tests/bench/run (fan-out row) and tests/bench/bench_cluster.py.
import os
import socket
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import cluster_wire as w  # noqa: E402


class Fleet:
    """n simulated data planes, one reader thread each. got[i] maps each snapshot revision
    client i received to the time.monotonic() at which it had been decoded and hash-checked."""

    def __init__(self, port, cert, key, n, ca=None, host="127.0.0.1",
                 server_name="portico_clustering", heartbeat_interval=600):
        self.cond = threading.Condition()
        self.got = [{} for _ in range(n)]
        self.errors = []
        self.closing = False
        self.clients = []
        self.threads = []
        try:
            for i in range(n):
                c = w.Client(port, cert, key, ca or cert, server_name=server_name, host=host,
                             timeout=30)
                # a long heartbeat interval: the control plane drops a data plane silent for
                # 3 intervals + 5 s, and these never send a Heartbeat
                c.send(w.hello(str(uuid.uuid4()), hostname="sim-dp-%d" % i,
                               heartbeat_interval=heartbeat_interval))
                self.clients.append(c)
                t = threading.Thread(target=self._read, args=(i, c), daemon=True)
                t.start()
                self.threads.append(t)
        except Exception:
            self.close()
            raise

    def _read(self, i, c):
        c.sock.settimeout(None)
        try:
            while True:
                op, payload = c.recv()
                if op == 8:
                    raise ConnectionError("closed by the control plane")
                if op != 2:
                    continue
                top = w.parse(payload)
                if w.HELLO_REPLY in top:
                    if w.parse(top[w.HELLO_REPLY][0]).get(1, [0])[0] != 1:
                        raise ConnectionError("Hello refused")
                elif w.SNAPSHOT in top:
                    rev, h, _ = w.open_snapshot(payload)
                    t = time.monotonic()
                    c.send(w.ack(rev, h))
                    with self.cond:
                        self.got[i].setdefault(rev, t)
                        self.cond.notify_all()
        except (OSError, ValueError) as e:
            with self.cond:
                if not self.closing:
                    self.errors.append("simulated data plane %d: %s" % (i, e))
                self.cond.notify_all()

    def wait_all(self, revision, timeout=60):
        """Waits until every client has received a snapshot with a revision >= revision; returns
        the per-client receive times (monotonic) of the first such snapshot."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                times = [min((t for r, t in g.items() if r >= revision), default=None)
                         for g in self.got]
                missing = sum(t is None for t in times)
                if not missing:
                    return times
                if self.errors:
                    raise RuntimeError("; ".join(self.errors[:3]))
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%d of %d simulated data planes did not get revision %d "
                                       "within %d s" % (missing, len(self.got), revision,
                                                        timeout))
                self.cond.wait(left)

    def close(self):
        with self.cond:
            self.closing = True
        for c in self.clients:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
            except OSError:
                pass
            c.close()
        for t in self.threads:
            t.join(5)
