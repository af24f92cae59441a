#!/usr/bin/env bash
# bench/http/cost.sh: deterministic cost per request (instructions, callgrind)
# of GET /healthz and GET /api/me on toolconnect, and of the bare
# libmicrohttpd handler (bare.c) answering the same bytes. Load on the
# machine does not change these counts, unlike wrk's req/s.
#   bench/http/cost.sh path/to/toolconnect [requests]
# Each server runs under `valgrind --tool=callgrind`; one keep-alive client
# sends 200 warm-up requests, the counters are zeroed (callgrind_control -z),
# then [requests] (default 2000) requests are sent and the counters dumped.
# The bare server answers /api/me with the bytes toolconnect's /api/me sent.
# Prints instructions per request for every server/path (user space:
# libmicrohttpd, libc, SQLite, toolconnect; the kernel is not counted). TC_COST_KEEP=dir keeps
# the callgrind files there (for callgrind_annotate).
set -euo pipefail
bin=$(readlink -f "$1")
n=${2:-2000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tc-bench-cost-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cc -O2 -g -o "$work/bare" "$here/bare.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# client PORT PATH COUNT [TOKEN]: COUNT keep-alive GETs, every answer must be 200.
client() {
  python3 - "$@" <<'PY'
import http.client, sys
port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
hdrs = {"Authorization": "Bearer " + sys.argv[4]} if len(sys.argv) > 4 and sys.argv[4] else {}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(count):
    c.request("GET", path, headers=hdrs)
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"{path}: status {r.status}")
PY
}

# measure NAME PID PORT PATH [TOKEN] -> prints "NAME PATH instr/request"
measure() {
  local name=$1 port=$3 path=$4 token=${5:-} pid
  pid=$(ls "$work/$name".out.* | grep -v '\.out\.[0-9]*\.' | head -1 | sed 's/.*\.out\.//') # valgrind's own pid
  client "$port" "$path" 200 "$token"
  callgrind_control -z "$pid" >/dev/null 2>&1
  client "$port" "$path" "$n" "$token"
  rm -f "$work/$name".out.*.*
  callgrind_control --dump="$path" "$pid" >/dev/null 2>&1
  local total="" f
  for _ in $(seq 100); do
    f=$(ls "$work/$name".out.*.* 2>/dev/null | head -1 || true)
    [ -n "$f" ] && total=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    [ -n "$total" ] && break
    sleep 0.1
  done
  [ -n "${TC_COST_KEEP:-}" ] && cp "$f" "$TC_COST_KEEP/$name${path//\//_}.callgrind"
  # HTTP threads only (inclusive cost of libmicrohttpd's thread function, the
  # outermost libmicrohttpd frame), so other modules' background threads do
  # not add noise; and that without memset: libmicrohttpd zeroes the
  # connection's memory pool between requests with `rep stosb`, which
  # callgrind counts one instruction per byte.
  local http mset
  callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null > "$work/ann.txt" || true
  http=$(awk '/libmicrohttpd/ {gsub(",","",$1); print $1; exit}' "$work/ann.txt")
  mset=$(awk '/__memset_[a-z0-9_]*unaligned_erms/ {gsub(",","",$1); print $1; exit}' "$work/ann.txt")
  printf '| %s %s | %d | %d | %d |\n' "$name" "$path" $((total / n)) $((${http:-0} / n)) \
    $(((${http:-0} - ${mset:-0}) / n))
}

vg() { exec valgrind --tool=callgrind --callgrind-out-file="$work/$1.out.%p" "${@:2}"; }

echo "| server path | instructions/request, all threads | HTTP threads | HTTP threads without memset |"
echo "|---|---|---|---|"
port=$(free_port)
mkdir -p "$work/data"
TC_LISTEN=127.0.0.1:$port TC_DATA_DIR=$work/data TC_LOG_LEVEL=info TC_HTTP_THREADS=2 \
  TC_MASTER_KEY=$(head -c32 /dev/urandom | base64) vg tc "$bin" serve 2>"$work/tc.log" >/dev/null &
pids+=($!); tc_pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
token=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery staple"}' \
  "http://127.0.0.1:$port/api/auth/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me" >"$work/me.json"
measure tc $tc_pid $port /healthz
measure tc $tc_pid $port /api/me "$token"

bport=$(free_port)
vg bare "$work/bare" "$bport" 2 "$work/me.json" >/dev/null 2>"$work/bare.log" & pids+=($!); bare_pid=$!
until curl -sf "http://127.0.0.1:$bport/" >/dev/null 2>&1; do sleep 0.1; done
measure bare $bare_pid $bport /healthz
measure bare $bare_pid $bport /api/me
