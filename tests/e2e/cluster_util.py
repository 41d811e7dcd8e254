# tests/e2e/cluster_util.py: helpers for the hybrid-mode end-to-end tests (test_cluster_*.py):
# certificates via `portico-cp gen-cert`, the database contract (created here only when
# `portico-cp migrations bootstrap` is not available yet), entity writes that bump the revision
# and NOTIFY like the Admin API store does, control plane / data plane processes, registry reads.
import json
import os
import uuid

import harness

# The database contract the Admin API store guarantees (see the cluster brief).
CONTRACT_SQL = """
CREATE TABLE IF NOT EXISTS certificates (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS ca_certificates (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS services (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS routes (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS upstreams (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS targets (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS consumers (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS plugins (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS keyauth_credentials (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS snis (id uuid PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS config_revision (revision bigint NOT NULL);
INSERT INTO config_revision (revision) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM config_revision);
CREATE TABLE IF NOT EXISTS clustering_data_planes (id uuid PRIMARY KEY, hostname text, ip text,
  version text, sync_status text, config_hash text, last_seen timestamptz,
  connected boolean, applied_revision bigint, last_error text, control_plane_id text,
  cert_expiry bigint, labels jsonb, created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(), heartbeat_interval integer);
"""


def setup_database():
    """Creates a fresh database with the store's tables; returns its name."""
    db = harness.create_database()
    r = harness.run_cmd([harness.CP_BIN, "migrations", "bootstrap"], env=harness.pg_env(db))
    if r.returncode != 0:
        harness.psql(CONTRACT_SQL, db=db)
    return db


def gen_cert(directory, *args):
    """Runs portico-cp gen-cert in directory; returns the CompletedProcess."""
    return harness.run_cmd([harness.CP_BIN, "gen-cert"] + list(args), cwd=directory)


def shared_certs(directory):
    r = gen_cert(directory, "cluster.crt", "cluster.key")
    assert r.returncode == 0, r.stderr
    return os.path.join(directory, "cluster.crt"), os.path.join(directory, "cluster.key")


def put_entity(db, table, doc):
    """Writes one entity and bumps the revision with NOTIFY in the same transaction, like the
    Admin API store. Returns the new revision."""
    doc = dict(doc)
    doc.setdefault("id", str(uuid.uuid4()))
    js = json.dumps(doc).replace("'", "''")
    out = harness.psql(
        "BEGIN; INSERT INTO %s (id, doc) VALUES ('%s', '%s'::jsonb) "
        "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc; "
        "UPDATE config_revision SET revision = revision + 1; "
        "SELECT pg_notify('portico_config', revision::text) FROM config_revision; "
        "SELECT revision FROM config_revision; COMMIT;" % (table, doc["id"], js), db=db)
    return int(out.split()[-1]), doc["id"]


def delete_entity(db, table, entity_id):
    harness.psql(
        "BEGIN; DELETE FROM %s WHERE id = '%s'; "
        "UPDATE config_revision SET revision = revision + 1; "
        "SELECT pg_notify('portico_config', revision::text) FROM config_revision; COMMIT;"
        % (table, entity_id), db=db)


def registry(db):
    """Rows of clustering_data_planes as dicts."""
    out = harness.psql("SELECT coalesce(json_agg(t), '[]') FROM (SELECT id, hostname, ip, "
                       "version, sync_status, config_hash, connected, applied_revision, "
                       "last_error, control_plane_id, cert_expiry FROM clustering_data_planes "
                       "ORDER BY id) t", db=db)
    return json.loads(out.strip() or "[]")


def start_cp(db, cert, key, port=None, extra=None, name="cp"):
    port = port or harness.free_port()
    env = harness.pg_env(db)
    env.update({
        "PORTICO_PREFIX": harness.make_tmpdir("cp-prefix-"),
        "PORTICO_ADMIN_LISTEN": "127.0.0.1:%d" % harness.free_port(),
        "PORTICO_CLUSTER_LISTEN": "127.0.0.1:%d" % port,
        "PORTICO_CLUSTER_CERT": cert,
        "PORTICO_CLUSTER_CERT_KEY": key,
        "PORTICO_LOG_LEVEL": "info",
    })
    env.update(extra or {})
    p = harness.Proc([harness.CP_BIN], env=env, name=name)
    p.cluster_port = port
    p.env = env
    harness.wait_for(lambda: "cluster listener started" in p.output() or not p.alive(),
                     what="cluster listener of " + name)
    assert p.alive(), p.output()
    return p


def start_dp(cps, cert, key, prefix=None, extra=None, name="dp"):
    """cps: list of control plane ports (or host:port strings)."""
    addrs = ",".join(c if isinstance(c, str) else "127.0.0.1:%d" % c for c in cps)
    proxy_port, status_port = harness.free_port(), harness.free_port()
    env = {
        "PORTICO_PREFIX": prefix or harness.make_tmpdir("dp-prefix-"),
        "PORTICO_PROXY_LISTEN": "127.0.0.1:%d" % proxy_port,
        "PORTICO_STATUS_LISTEN": "127.0.0.1:%d" % status_port,
        "PORTICO_WORKER_THREADS": "1",
        "PORTICO_CLUSTER_CONTROL_PLANE": addrs,
        "PORTICO_CLUSTER_CERT": cert,
        "PORTICO_CLUSTER_CERT_KEY": key,
        "PORTICO_CLUSTER_HEARTBEAT_INTERVAL": "1",
        "PORTICO_LOG_LEVEL": "info",
    }
    env.update(extra or {})
    p = harness.Proc([harness.DP_BIN], env=env, name=name)
    p.prefix = env["PORTICO_PREFIX"]
    p.env = env
    p.proxy_port, p.status_port = proxy_port, status_port
    return p


def node_id(dp):
    harness.wait_for(lambda: os.path.exists(os.path.join(dp.prefix, "node.id")), what="node.id")
    with open(os.path.join(dp.prefix, "node.id")) as f:
        return f.read().strip()


def row_of(db, nid):
    for r in registry(db):
        if r["id"] == nid:
            return r
    return None


def wait_applied(db, nid, revision, timeout=20, procs=()):
    """Waits until the registry shows data plane nid with applied_revision >= revision. On a
    timeout the registry row and the last log lines of procs are part of the error."""
    try:
        return harness.wait_for(
            lambda: (lambda r: r if r and r["applied_revision"] is not None and
                     r["applied_revision"] >= revision else None)(row_of(db, nid)),
            timeout=timeout, what="data plane %s at revision %d" % (nid, revision))
    except AssertionError as e:
        logs = "".join("\n--- %s ---\n%s" % (p.name, p.output()[-3000:]) for p in procs)
        raise AssertionError("%s\nregistry row: %r%s" % (e, row_of(db, nid), logs)) from None


def service(host="example.com", port=80, **kw):
    d = {"id": str(uuid.uuid4()), "name": "svc-" + uuid.uuid4().hex[:8], "protocol": "http",
         "host": host, "port": port, "path": None, "retries": 5, "connect_timeout": 60000,
         "write_timeout": 60000, "read_timeout": 60000, "tags": None,
         "client_certificate": None, "tls_verify": None, "tls_verify_depth": None,
         "ca_certificates": None, "enabled": True, "created_at": 1700000000,
         "updated_at": 1700000000}
    d.update(kw)
    return d
