#!/bin/bash
# Realtime benchmark: 10,000 concurrent /api/stream clients against the real
# server on loopback, then published changes fanned out to all of them.
#
#   bench/realtime/run.sh [BUILD_DIR] [STREAMS] [PUBLISHES]
#
# Starts toolconnect (TC_TEST_ROUTES=1 for the publish route) in a temp
# directory, signs up one user, runs sse_bench, stops the server. Bounded:
# sse_bench gives up after 120 s; the server is always stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
streams=${2:-10000}
pubs=${3:-20}
bin=$build/bin/toolconnect
[ -x "$bin" ] || { echo "no $bin: build toolconnect first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tc-rtbench-XXXXXX)
trap 'kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; rm -rf "$tmp"' EXIT

cc -O2 -Wall -o "$tmp/sse_bench" "$here/sse_bench.c"
ulimit -n "$(ulimit -Hn)"
TC_LISTEN=127.0.0.1:0 TC_DATA_DIR="$tmp" TC_PORT_FILE="$tmp/port" TC_TEST_ROUTES=1 TC_LOG_LEVEL=warn \
  TC_HTTP_MAX_CONNECTIONS=$((streams + 100)) TC_HTTP_THREADS=2 TC_WEB_ROOT="$tmp/none" \
  "$bin" serve 2>"$tmp/server.log" &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/auth/signup" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "toolconnect $(basename "$build"), $(nproc) cores, HTTP threads 2, loopback"
"$tmp/sse_bench" "$port" "$token" "$srv" "$streams" "$pubs"
