# tests/e2e/harness.py: shared machinery for the end-to-end tests. Real processes only: a real
# PostgreSQL (started by tests/run), real portico-cp / portico-dp binaries, real upstream HTTP
# servers, HTTP from outside like curl.
#
# Environment (set by tests/run and ctest): PORTICO_BIN_DIR, PORTICO_SRC_DIR,
# PORTICO_TEST_PG_HOST/PORT/USER/BIN, PORTICO_TEST_TMP.
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN_DIR = os.environ.get("PORTICO_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SRC_DIR = os.environ.get("PORTICO_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))
CP_BIN = os.path.join(BIN_DIR, "cp", "portico-cp")
DP_BIN = os.path.join(BIN_DIR, "dp", "portico-dp")
TMP_ROOT = os.environ.get("PORTICO_TEST_TMP", tempfile.gettempdir())

PG_HOST = os.environ.get("PORTICO_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PORTICO_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PORTICO_TEST_PG_USER", "postgres")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


def free_port():
    """Returns a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; returns it. Raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last_exc))


def wait_port(port, host="127.0.0.1", timeout=10.0):
    def ok():
        with socket.create_connection((host, port), timeout=0.5):
            return True
    wait_for(ok, timeout, what="port %s:%d" % (host, port))


def make_tmpdir(prefix="e2e-"):
    d = tempfile.mkdtemp(prefix=prefix, dir=TMP_ROOT)
    os.chmod(d, 0o755)
    return d


# ---------------------------------------------------------------------------------------------
# PostgreSQL

def psql(sql, db="postgres"):
    """Runs sql with psql as the superuser; returns stdout. Raises on error."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", db, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql failed: %s" % out.stderr)
    return out.stdout


def create_database():
    """Creates a fresh database for one test; returns its name."""
    name = "t_" + uuid.uuid4().hex[:16]
    psql("CREATE DATABASE %s" % name)
    return name


def pg_env(db):
    """PORTICO_PG_* settings that point a control plane at database db."""
    return {"PORTICO_PG_HOST": PG_HOST, "PORTICO_PG_PORT": str(PG_PORT),
            "PORTICO_PG_USER": PG_USER, "PORTICO_PG_DATABASE": db}


# ---------------------------------------------------------------------------------------------
# Processes

class Proc:
    """A portico process with its stderr in a log file. stop() sends SIGTERM, waits, and fails the
    test if the process crashed or a sanitizer reported anything."""

    def __init__(self, argv, env=None, name="proc", cwd=None):
        self.name = name
        self.argv = argv
        self.logdir = make_tmpdir("log-")
        self.log_path = os.path.join(self.logdir, name + ".log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        # Tests never use default ports: a control plane gets Portico Manager (default
        # 127.0.0.1:8002) only when the test asks for it with PORTICO_ADMIN_GUI_LISTEN.
        if argv and argv[0] == CP_BIN:
            full_env.setdefault("PORTICO_ADMIN_GUI_LISTEN", "off")
        self.p = subprocess.Popen(argv, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
                                  cwd=cwd, stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait(10)
        self.log.close()

    def stop(self, timeout=20, expect_codes=(0,)):
        """Stops gracefully; returns the exit code. Raises AssertionError on a crash, a sanitizer
        report or an unexpected exit code."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
                raise AssertionError("%s did not stop within %ss\n%s" % (self.name, timeout,
                                                                        self.output()[-4000:]))
        self.log.close()
        out = self.output()
        for m in SANITIZER_MARKERS:
            if m in out:
                raise AssertionError("%s: sanitizer report:\n%s" % (self.name, out[-8000:]))
        if self.p.returncode not in expect_codes:
            raise AssertionError("%s exited with %s\n%s" % (self.name, self.p.returncode,
                                                          out[-4000:]))
        return self.p.returncode


def run_cmd(argv, env=None, timeout=60, cwd=None):
    """Runs a command to completion; returns CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# HTTP client (what curl does)

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body                # bytes

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


def request(method, url, body=None, headers=None, json_body=None, form=None, timeout=10):
    """Sends one HTTP/1.1 request on a new connection. json_body is JSON-encoded; form is a dict
    or list of pairs sent as application/x-www-form-urlencoded (like curl --data)."""
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif form is not None:
        body = urllib.parse.urlencode(form, doseq=True).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if isinstance(body, str):
        body = body.encode()
    if u.scheme == "https":
        import ssl
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.getheaders(), data)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Upstream servers

class _UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _read_chunked(self, sink):
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return
            left = size
            while left:
                data = self.rfile.read(min(left, 65536))
                if not data:
                    return
                sink(data)
                left -= len(data)
            self.rfile.readline(16)

    def _read_body(self, sink):
        """Streams the request body (Content-Length or chunked) into sink(bytes)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._read_chunked(sink)
            return
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            data = self.rfile.read(min(left, 65536))
            if not data:
                return
            sink(data)
            left -= len(data)

    def _special(self):
        """/_sink: consumes the body, answers its length and SHA-256. /_bytes/N: answers N
        bytes (a repeating pattern) with a Content-Length, streamed."""
        import hashlib
        srv = self.server
        path = self.path.split("?")[0]
        if path.endswith("/_sink"):
            h = hashlib.sha256()
            n = [0]

            def sink(d):
                h.update(d)
                n[0] += len(d)
            self._read_body(sink)
            with srv.lock:
                srv.hits += 1
            payload = json.dumps({"server": srv.name, "length": n[0],
                                  "sha256": h.hexdigest()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return True
        idx = path.find("/_bytes/")
        if idx >= 0:
            self._read_body(lambda d: None)
            with srv.lock:
                srv.hits += 1
            total = int(path[idx + 8:])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            block = bytes(range(256)) * 256
            left = total
            while left:
                n = min(left, len(block))
                self.wfile.write(block[:n])
                left -= n
            return True
        return False

    def _handle(self):
        srv = self.server
        if self._special():
            return
        parts = []
        self._read_body(parts.append)
        body = b"".join(parts)
        with srv.lock:
            srv.hits += 1
            srv.requests.append({"method": self.command, "path": self.path,
                                 "headers": dict(self.headers.items()), "body": body})
            status = srv.status
        if srv.delay:
            time.sleep(srv.delay)
        payload = json.dumps({"server": srv.name, "method": self.command, "path": self.path,
                              "headers": dict(self.headers.items()),
                              "body": body.decode("utf-8", "replace")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Upstream-Name", srv.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Upstream:
    """A real HTTP/1.1 upstream on 127.0.0.1 answering JSON that names it ({"server": name, ...}).
    status and delay can be changed while it runs; hits counts requests."""

    def __init__(self, name, port=None, host="127.0.0.1"):
        self.name = name
        self.port = port or free_port()
        self.httpd = ThreadingHTTPServer((host, self.port), _UpstreamHandler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # peers that hang up
        self.httpd.name = name
        self.httpd.lock = threading.Lock()
        self.httpd.hits = 0
        self.httpd.requests = []
        self.httpd.status = 200
        self.httpd.delay = 0
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self):
        return self.httpd.hits

    @property
    def requests(self):
        return self.httpd.requests

    def set_status(self, status):
        self.httpd.status = status

    def set_delay(self, seconds):
        self.httpd.delay = seconds

    def reset(self):
        with self.httpd.lock:
            self.httpd.hits = 0
            self.httpd.requests = []

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main():
    """Entry point for a test file: runs unittest with verbose output; exit code 0 only if every
    test passed."""
    unittest.main(verbosity=2)


# ---------------------------------------------------------------------------------------------
# Control plane (Admin API) helpers

class ControlPlane:
    """A portico-cp with its own database (bootstrapped with `migrations bootstrap`), its own
    prefix directory, a self-signed cluster certificate (cluster_cert/cluster_key, usable as
    the shared-mode certificate of data planes), no admin GUI listener, and free ports. start() waits until the Admin API answers GET /status.
    env entries (PORTICO_*) override the defaults; admin(...) sends one request to the Admin API."""

    def __init__(self, db=None, env=None, bootstrap=True, start=True, name="portico-cp"):
        self.db = db or create_database()
        self.prefix = make_tmpdir("cp-")
        self.admin_port = free_port()
        self.cluster_port = free_port()
        self.name = name
        self.cluster_cert = os.path.join(self.prefix, "cluster.crt")
        self.cluster_key = os.path.join(self.prefix, "cluster.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3", "-subj",
                        "/CN=portico-cluster", "-keyout", self.cluster_key, "-out",
                        self.cluster_cert], check=True, capture_output=True, timeout=60)
        self.env = pg_env(self.db)
        self.env.update({"PORTICO_PREFIX": self.prefix,
                         "PORTICO_ADMIN_LISTEN": "127.0.0.1:%d" % self.admin_port,
                         "PORTICO_ADMIN_GUI_LISTEN": "off",
                         "PORTICO_CLUSTER_LISTEN": "127.0.0.1:%d" % self.cluster_port,
                         "PORTICO_CLUSTER_CERT": self.cluster_cert,
                         "PORTICO_CLUSTER_CERT_KEY": self.cluster_key,
                         "PORTICO_LOG_LEVEL": "info"})
        self.env.update(env or {})
        self.proc = None
        self.scheme = "http"
        if bootstrap:
            r = self.migrations("bootstrap")
            if r.returncode != 0:
                raise AssertionError("migrations bootstrap failed: %s%s" % (r.stdout, r.stderr))
        if start:
            self.start()

    @property
    def admin_url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.admin_port)

    def migrations(self, *args):
        """Runs `portico-cp migrations ARGS...`; returns the CompletedProcess."""
        return run_cmd([CP_BIN, "migrations"] + list(args), env=self.env)

    def start(self, timeout=20):
        self.proc = Proc([CP_BIN], env=self.env, name=self.name)

        def ready():
            if not self.proc.alive():
                raise AssertionError("%s exited early:\n%s" % (self.name, self.proc.output()[-4000:]))
            try:
                headers = {}
                token = self.env.get("PORTICO_ADMIN_TOKEN")
                if token:
                    headers["Authorization"] = "Bearer " + token
                return request("GET", self.admin_url + "/status", headers=headers,
                               timeout=2).status == 200
            except OSError:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return self
            time.sleep(0.05)
        raise AssertionError("%s did not answer on %s:\n%s" % (self.name, self.admin_url,
                                                              self.proc.output()[-4000:]))

    def stop(self, **kw):
        if self.proc:
            rc = self.proc.stop(**kw)
            self.proc = None
            return rc
        return 0

    def admin(self, method, path, **kw):
        """One Admin API request (see request() for json_body=, form=, body=, headers=)."""
        return request(method, self.admin_url + path, **kw)


class TempPostgres:
    """A second, private PostgreSQL cluster (initdb + pg_ctl as the postgres user) that a test
    may stop and start without disturbing the shared one. Needs root (like tests/run)."""

    def __init__(self):
        self.bin = os.environ.get("PORTICO_TEST_PG_BIN") or sorted(
            d for d in (os.path.join("/usr/lib/postgresql", v, "bin")
                        for v in os.listdir("/usr/lib/postgresql")) if os.path.isdir(d))[-1]
        self.dir = make_tmpdir("pg-")
        self.port = free_port()
        subprocess.run(["chown", "postgres:", self.dir], check=True)
        os.chmod(self.dir, 0o700)
        self._pg(["initdb", "-D", self.dir + "/data", "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        self.start()

    def _pg(self, args):
        out = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, args[0])]
                             + args[1:], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (args[0], out.stdout, out.stderr))

    def start(self):
        self._pg(["pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/server.log", "-w",
                  "-t", "30", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off"
                  % (self.port, self.dir), "start"])

    def stop(self):
        self._pg(["pg_ctl", "-D", self.dir + "/data", "-m", "fast", "-w", "stop"])

    def destroy(self):
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self):
        name = "t_" + uuid.uuid4().hex[:16]
        out = subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                              "postgres", "-d", "postgres", "-c", "CREATE DATABASE %s" % name],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql failed: %s" % out.stderr)
        return name

    def env(self, db):
        return {"PORTICO_PG_HOST": "127.0.0.1", "PORTICO_PG_PORT": str(self.port),
                "PORTICO_PG_USER": "postgres", "PORTICO_PG_DATABASE": db}
# Data plane config cache (feeds a portico-dp without a control plane)

_PB2 = None


def portico_pb2():
    """Compiles proto/portico.proto with protoc (once per process) and returns the module."""
    global _PB2
    if _PB2 is not None:
        return _PB2
    import importlib.util
    os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    try:
        import google.protobuf  # noqa: F401
    except ImportError:  # a non-Debian python3 first on PATH: use Debian's python3-protobuf
        sys.path.append("/usr/lib/python3/dist-packages")
    out = tempfile.mkdtemp(prefix="pb2-", dir=TMP_ROOT)
    proto_dir = os.path.join(SRC_DIR, "proto")
    subprocess.run(["protoc", "--python_out=" + out, "-I", proto_dir,
                    os.path.join(proto_dir, "portico.proto")], check=True)
    spec = importlib.util.spec_from_file_location("portico_pb2",
                                                  os.path.join(out, "portico_pb2.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _PB2 = mod
    return mod


def _fill_config(cfg):
    """Gives entities ids when missing and resolves {"name": ...} references, so tests can write
    configs by hand. Route headers may be given as a Kong-style map {"x-a": ["v"]}."""
    cfg = json.loads(json.dumps(cfg))
    by_name = {}
    for table in ("services", "upstreams", "routes", "targets", "consumers", "plugins"):
        for e in cfg.get(table, []):
            e.setdefault("id", str(uuid.uuid4()))
            if e.get("name"):
                by_name[(table, e["name"])] = e["id"]
    refs = (("routes", "service", "services"), ("targets", "upstream", "upstreams"))
    for table, field, target in refs:
        for e in cfg.get(table, []):
            ref = e.get(field)
            if isinstance(ref, str):
                ref = {"name": ref}
            if isinstance(ref, dict) and "name" in ref:
                ref = {"id": by_name[(target, ref["name"])]}
            if ref is not None:
                e[field] = ref
    for i, r in enumerate(cfg.get("routes", [])):
        r.setdefault("created_at", 1700000000 + i)
        if isinstance(r.get("headers"), dict):
            r["headers"] = [{"name": k, "values": v} for k, v in r["headers"].items()]
    return cfg


def write_dp_cache(prefix, config_dict, revision=1, compression="ZLIB"):
    """Writes <prefix>/config.cache as a portico.v1.Snapshot of config_dict (Kong's JSON field
    names; see _fill_config). Returns the config hash (hex SHA-256 of the serialised Config)."""
    import hashlib
    import zlib
    pb2 = portico_pb2()
    from google.protobuf import json_format
    cfg = json_format.ParseDict(_fill_config(config_dict), pb2.Config())
    raw = cfg.SerializeToString(deterministic=True)
    digest = hashlib.sha256(raw).hexdigest()
    snap = pb2.Snapshot(revision=revision, hash=digest, uncompressed_size=len(raw))
    if compression == "ZLIB":
        snap.compression = pb2.COMPRESSION_ZLIB
        snap.config = zlib.compress(raw)
    else:
        snap.compression = pb2.COMPRESSION_NONE
        snap.config = raw
    os.makedirs(prefix, exist_ok=True)
    path = os.path.join(prefix, "config.cache")
    with open(path + ".tmp", "wb") as f:
        f.write(snap.SerializeToString())
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)
    return digest


class DataPlane:
    """A portico-dp fed from a config cache written with write_dp_cache. proxy_port and
    status_port are free ports; extra_env adds PORTICO_* settings."""

    def __init__(self, config_dict=None, extra_env=None, workers=1, prefix=None,
                 proxy_port=None):
        self.prefix = prefix or make_tmpdir("dp-")
        self.proxy_port = proxy_port or free_port()
        self.status_port = free_port()
        if config_dict is not None:
            self.hash = write_dp_cache(self.prefix, config_dict)
        env = {"PORTICO_PREFIX": self.prefix,
               "PORTICO_PROXY_LISTEN": "127.0.0.1:%d" % self.proxy_port,
               "PORTICO_STATUS_LISTEN": "127.0.0.1:%d" % self.status_port,
               "PORTICO_WORKER_THREADS": str(workers),
               "PORTICO_CLUSTER_CONTROL_PLANE": "off"}
        env.update(extra_env or {})
        self.proc = Proc([DP_BIN], env=env, name="dp")
        wait_port(self.proxy_port)
        wait_port(self.status_port)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.proxy_port, path)

    def status(self):
        return request("GET", "http://127.0.0.1:%d/status" % self.status_port).json()

    def reload(self, config_dict, revision):
        """Rewrites the config cache and sends SIGHUP; waits until revision is in use."""
        self.hash = write_dp_cache(self.prefix, config_dict, revision=revision)
        self.proc.signal(signal.SIGHUP)
        wait_for(lambda: self.status()["configuration"]["revision"] == revision, 10,
                 what="config revision %d" % revision)

    def get(self, path="/", **kw):
        return request("GET", self.url(path), **kw)

    def stop(self, **kw):
        return self.proc.stop(**kw)
