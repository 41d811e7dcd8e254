#!/usr/bin/env python3
# tests/bench/bench_cluster.py: hybrid-mode benchmarks (issue 4), against real processes and a
# real PostgreSQL (same environment as the e2e tests: PORTICO_TEST_PG_*, PORTICO_BIN_DIR; use a
# Release build for figures):
#   1. control plane snapshot build (read + convert + serialise + hash + compress) for 10,000
#      services, 10,000 routes, 1,000 upstreams and 10,000 targets, and the snapshot size;
#   2. change -> applied on 2 data planes (median and p90 over N changes);
#   3. change -> received by 100 simulated data planes (hand-written protocol clients).
# Prints one line per figure. Not registered with ctest (it takes a while).
import os
import re
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_util as cu  # noqa: E402
import harness  # noqa: E402
import simdp  # noqa: E402 - next to this file

BIG_SQL = """
INSERT INTO services (id, doc) SELECT id, jsonb_build_object('id', id, 'name', 'svc-' || i,
  'protocol', 'http', 'host', 'up-' || (i % 1000) || '.internal', 'port', 80, 'path', '/',
  'retries', 5, 'connect_timeout', 60000, 'write_timeout', 60000, 'read_timeout', 60000,
  'tags', null, 'enabled', true, 'created_at', 1700000000, 'updated_at', 1700000000)
  FROM (SELECT i, md5('s' || i)::uuid AS id FROM generate_series(1, 10000) i) s;
INSERT INTO routes (id, doc) SELECT id, jsonb_build_object('id', id, 'name', 'route-' || i,
  'protocols', jsonb_build_array('http', 'https'), 'methods', null,
  'hosts', jsonb_build_array('h' || i || '.example.com'), 'paths', jsonb_build_array('/r' || i),
  'strip_path', true, 'preserve_host', false, 'regex_priority', 0, 'path_handling', 'v0',
  'https_redirect_status_code', 426, 'request_buffering', true, 'response_buffering', true,
  'service', jsonb_build_object('id', md5('s' || i)::uuid), 'created_at', 1700000000,
  'updated_at', 1700000000)
  FROM (SELECT i, md5('r' || i)::uuid AS id FROM generate_series(1, 10000) i) s;
INSERT INTO upstreams (id, doc) SELECT id, jsonb_build_object('id', id, 'name', 'up-' || i ||
  '.internal', 'algorithm', 'round-robin', 'hash_on', 'none', 'hash_fallback', 'none',
  'slots', 10000, 'created_at', 1700000000, 'updated_at', 1700000000)
  FROM (SELECT i, md5('u' || i)::uuid AS id FROM generate_series(0, 999) i) s;
INSERT INTO targets (id, doc) SELECT id, jsonb_build_object('id', id,
  'target', '10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256 || ':8080',
  'weight', 100, 'upstream', jsonb_build_object('id', md5('u' || (i % 1000))::uuid),
  'created_at', 1700000000.123, 'updated_at', 1700000000.123)
  FROM (SELECT i, md5('t' || i)::uuid AS id FROM generate_series(1, 10000) i) s;
UPDATE config_revision SET revision = revision + 1;
"""


def bench_build(crt, key):
    db = cu.setup_database()
    harness.psql(BIG_SQL, db=db)
    cp = cu.start_cp(db, crt, key)
    try:
        m = harness.wait_for(lambda: re.search(
            r"snapshot built .* config_bytes=(\d+) wire_bytes=(\d+) read_ms=([\d.]+) "
            r"encode_ms=([\d.]+)", cp.output()), timeout=120, what="big snapshot")
        # rebuild a few times (a no-op change each) for a steadier figure
        times = []
        for _ in range(5):
            before = len(re.findall("snapshot built", cp.output()))
            cu.put_entity(db, "consumers", {"username": "u-" + uuid.uuid4().hex})
            harness.wait_for(lambda: len(re.findall("snapshot built", cp.output())) > before,
                             timeout=60, what="rebuild")
            last = re.findall(r"read_ms=([\d.]+) encode_ms=([\d.]+)", cp.output())[-1]
            times.append(float(last[0]) + float(last[1]))
        print("cp snapshot, 10k services + 10k routes + 1k upstreams + 10k targets: first full "
              "build %.1f ms (read+convert %.1f, encode %.1f); rebuild after one change: median "
              "%.1f ms; config %.2f MB, on the wire %.2f MB" % (
                  float(m.group(3)) + float(m.group(4)), float(m.group(3)), float(m.group(4)),
                  statistics.median(times), int(m.group(1)) / 1e6, int(m.group(2)) / 1e6))
    finally:
        cp.stop()


def applied_ts(dp, rev):
    m = re.search(r"ts=(\S+) level=\w+ comp=dp applied snapshot revision=%d " % rev, dp.output())
    if not m:
        return None
    t = time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) - time.timezone + int(m.group(1)[20:23]) / 1000.0


def put_timed(db):
    """Writes a service like the store does; returns (revision, commit time as unix seconds
    from the database clock, taken right before COMMIT)."""
    d = cu.service()
    js = __import__("json").dumps(d).replace("'", "''")
    out = harness.psql(
        "BEGIN; INSERT INTO services (id, doc) VALUES ('%s', '%s'::jsonb); "
        "UPDATE config_revision SET revision = revision + 1; "
        "SELECT pg_notify('portico_config', revision::text) FROM config_revision; "
        "SELECT revision, extract(epoch from clock_timestamp()) FROM config_revision; COMMIT;"
        % (d["id"], js), db=db)
    rev, ts = out.split()[-1].split("|")
    return int(rev), float(ts)


def bench_latency(crt, key, n=30):
    db = cu.setup_database()
    cu.put_entity(db, "services", cu.service())
    cp = cu.start_cp(db, crt, key)
    dps = [cu.start_dp([cp.cluster_port], crt, key, name="dp%d" % i) for i in range(2)]
    try:
        for d in dps:
            harness.wait_for(lambda: "applied snapshot" in d.output(), what="first apply")
        lat = []
        for _ in range(n):
            rev, t0 = put_timed(db)
            ts = [harness.wait_for(lambda: applied_ts(d, rev), what="apply") for d in dps]
            lat.append((max(ts) - t0) * 1000)
            time.sleep(0.05)
        lat.sort()
        print("change (commit) -> applied on 2 data planes: median %.1f ms, "
              "p90 %.1f ms, n=%d" % (statistics.median(lat), lat[int(len(lat) * 0.9)], n))
    finally:
        for d in dps:
            d.stop()
        cp.stop()


def bench_fanout(crt, key, n=100, writes=5):
    db = cu.setup_database()
    cu.put_entity(db, "services", cu.service())
    cp = cu.start_cp(db, crt, key)
    fleet = None
    try:
        fleet = simdp.Fleet(cp.cluster_port, crt, key, n)
        fleet.wait_all(0)
        lat = []
        for _ in range(writes):
            t0 = time.monotonic()
            rev, _ = cu.put_entity(db, "services", cu.service())
            lat.append((max(fleet.wait_all(rev, timeout=30)) - t0) * 1000)
            time.sleep(0.2)
        print("change -> received (decoded, hash-checked) by %d simulated data planes: last one "
              "after median %.1f ms, max %.1f ms, n=%d" % (n, statistics.median(lat), max(lat),
                                                          writes))
    finally:
        if fleet:
            fleet.close()
        cp.stop()


def main():
    d = harness.make_tmpdir()
    crt, key = cu.shared_certs(d)
    bench_build(crt, key)
    bench_latency(crt, key)
    bench_fanout(crt, key)


if __name__ == "__main__":
    main()
