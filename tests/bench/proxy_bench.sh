#!/usr/bin/env bash
# tests/bench/proxy_bench.sh: portico-dp against nginx and HAProxy as reverse proxies in front of
# the same upstream (nginx, 1 worker, `return 200`, two ports = two targets, round-robin), one
# worker/thread each, upstream keep-alive on. For each proxy: wrk requests/s and p99, and the
# proxy's CPU time per request (utime + stime from /proc over the run). Runs alternate
# (A B C A B C ...) because this machine is shared and noisy; compare medians.
#
# usage: tests/bench/proxy_bench.sh [BUILD_DIR (Release, default build-rel)] [SECONDS] [ROUNDS]
# Needs nginx, haproxy, wrk, python3 (with python3-protobuf and protoc for the config cache).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-rel}
secs=${2:-5}
rounds=${3:-3}
dp_bin=$build/dp/portico-dp
[ -x "$dp_bin" ] || { echo "build $build first (cmake -DCMAKE_BUILD_TYPE=Release)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/portico-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fp() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
UP1=$(fp); UP2=$(fp); PNG=$(fp); PHA=$(fp); PDP=$(fp); PST=$(fp)

cat > "$tmp/up.conf" <<CONF
worker_processes 1; daemon off; error_log $tmp/up.err; pid $tmp/up.pid;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UP1; listen 127.0.0.1:$UP2;
  location / { return 200 "hello from upstream\n"; } } }
CONF
cat > "$tmp/px.conf" <<CONF
worker_processes 1; daemon off; error_log $tmp/px.err; pid $tmp/px.pid;
events { worker_connections 4096; }
http { access_log off;
  upstream u { server 127.0.0.1:$UP1; server 127.0.0.1:$UP2; keepalive 64; }
  server { listen 127.0.0.1:$PNG; location / { proxy_pass http://u; proxy_http_version 1.1;
    proxy_set_header Connection ""; } } }
CONF
cat > "$tmp/ha.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$PHA
  default_backend b
backend b
  balance roundrobin
  server s1 127.0.0.1:$UP1
  server s2 127.0.0.1:$UP2
CONF
PYTHONPATH=$top/tests/e2e PORTICO_SRC_DIR=$top PORTICO_TEST_TMP=$tmp python3 - "$tmp/dp" "$UP1" "$UP2" <<'PY'
import sys
import harness as h
prefix, up1, up2 = sys.argv[1], sys.argv[2], sys.argv[3]
h.write_dp_cache(prefix, {
    "services": [{"name": "bench", "host": "bench.upstream", "port": 80}],
    "routes": [{"name": "bench", "service": "bench", "paths": ["/"]}],
    "upstreams": [{"name": "bench.upstream"}],
    "targets": [{"upstream": "bench.upstream", "target": "127.0.0.1:" + up1},
                {"upstream": "bench.upstream", "target": "127.0.0.1:" + up2}]})
PY

nginx -c "$tmp/up.conf" -p "$tmp" >/dev/null 2>&1 & pids+=($!)
nginx -c "$tmp/px.conf" -p "$tmp" >/dev/null 2>&1 & pids+=($!)
haproxy -f "$tmp/ha.cfg" -db >"$tmp/ha.log" 2>&1 & pids+=($!)
ha_pid=$!
PORTICO_PREFIX=$tmp/dp PORTICO_PROXY_LISTEN=127.0.0.1:$PDP PORTICO_STATUS_LISTEN=127.0.0.1:$PST \
  PORTICO_WORKER_THREADS=1 PORTICO_LOG_LEVEL=warn "$dp_bin" >"$tmp/dp.log" 2>&1 & pids+=($!)
dp_pid=$!
sleep 1
ng_pid=$(pgrep -P "$(cat "$tmp/px.pid")")

run() { # name pid port
  local t0 t1 req
  t0=$(awk '{print $14+$15}' /proc/"$2"/stat)
  wrk -t1 -c32 -d"${secs}"s --latency "http://127.0.0.1:$3/" >"$tmp/wrk.out"
  t1=$(awk '{print $14+$15}' /proc/"$2"/stat)
  req=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
  printf "%-8s %10s req/s  p99 %-9s cpu %6s us/req\n" "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")" \
    "$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")" \
    "$(python3 -c "print(round(($t1-$t0)*1e6/$(getconf CLK_TCK)/$req,2))")"
}
for _ in $(seq "$rounds"); do
  run portico "$dp_pid" "$PDP"
  run nginx "$ng_pid" "$PNG"
  run haproxy "$ha_pid" "$PHA"
done
