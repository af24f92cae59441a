#!/usr/bin/env bash
# bench/http: GET /healthz on toolconnect vs a bare libmicrohttpd handler
# returning the same bytes, same run, same wrk settings; plus idle RSS and
# start-to-ready time of `toolconnect serve` on SQLite.
#   bench/http/run.sh path/to/toolconnect [seconds] [connections]
# Use a RelWithDebInfo/Release build. Prints a Markdown table. The server runs
# with the default log level (info: one access-log line per request, to /dev/null).
# GET /api/me with a valid access token is measured too: the script signs up
# a user on the server under test (skipped with a note if signup fails), and
# the bare server answers /api/me with the same body bytes.
# bench/http/cost.sh gives instructions per request (callgrind), which the
# load of a shared machine does not move.
set -euo pipefail
bin=$(readlink -f "$1")
secs=${2:-5}
conns=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tc-bench-http-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cc -O2 -o "$work/bare" "$here/bare.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Start to ready: spawn -> first 200 from /readyz, polled every 1 ms from one
# python process (no curl spawns); fresh data dir each time (migrations run);
# 5 runs: best and median, and the server's own figure (ready_ms in its log).
read -r ready_best ready_median ready_self < <(python3 - "$bin" "$work" <<'PY'
import base64, http.client, os, re, socket, subprocess, sys, time
binp, work = sys.argv[1], sys.argv[2]
ext, own = [], []
for i in range(5):
    d = f"{work}/ready{i}"
    os.makedirs(d)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    env = dict(os.environ, TC_LISTEN=f"127.0.0.1:{port}", TC_DATA_DIR=d, TC_LOG_LEVEL="info",
               TC_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    log = open(f"{d}/log", "w")
    t0 = time.monotonic()
    p = subprocess.Popen([binp, "serve"], env=env, stderr=log)
    while time.monotonic() - t0 < 10:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.001)
    ext.append((time.monotonic() - t0) * 1000)
    p.terminate(); p.wait(); log.close()
    m = re.search(r"ready_ms=([0-9.]+)", open(f"{d}/log").read())
    own.append(float(m.group(1)) if m else -1)
ext.sort(); own.sort()
print(f"{ext[0]:.0f} {ext[2]:.0f} {own[2]:.0f}")
PY
)

# The servers under test. idle RSS is taken before anything else happens;
# then a user signs up, and the bare server is given the bytes of that
# user's GET /api/me to answer on /api/me.
port_tc=$(free_port); port_bare=$(free_port)
mkdir -p "$work/data"
TC_LISTEN=127.0.0.1:$port_tc TC_DATA_DIR=$work/data TC_LOG_LEVEL=info TC_HTTP_THREADS=2 \
  TC_MASTER_KEY=$(head -c32 /dev/urandom | base64) "$bin" serve 2>/dev/null & pids+=($!); tc_pid=$!
until curl -sf "http://127.0.0.1:$port_tc/readyz" >/dev/null 2>&1; do sleep 0.01; done
sleep 0.5
idle_rss=$(rss_kb $tc_pid)
token=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"correct horse battery staple"}' \
  "http://127.0.0.1:$port_tc/api/auth/signup" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))' 2>/dev/null || true)
[ -n "$token" ] && curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port_tc/api/me" >"$work/me.json"
"$work/bare" "$port_bare" 2 "$work/me.json" >"$work/bare.log" & pids+=($!)
until curl -sf "http://127.0.0.1:$port_bare/" >/dev/null 2>&1; do sleep 0.01; done

run_wrk() { # [wrk args] url -> "rps p99ms"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" | awk '
    /Requests\/sec/ {rps=$2}
    / 99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    END {printf "%s %s\n", rps, p99}'
}
# Interleaved: bare, toolconnect, bare, toolconnect; the better run of each.
best() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); if (x[1]+0 >= y[1]+0) print a; else print b}'; }
b1=$(run_wrk "http://127.0.0.1:$port_bare/healthz"); t1=$(run_wrk "http://127.0.0.1:$port_tc/healthz")
b2=$(run_wrk "http://127.0.0.1:$port_bare/healthz"); t2=$(run_wrk "http://127.0.0.1:$port_tc/healthz")
bare=$(best "$b1" "$b2"); tc=$(best "$t1" "$t2")
ratio=$(awk -v a="${tc%% *}" -v b="${bare%% *}" 'BEGIN{printf "%.0f", 100*a/b}')

echo "| measure | value |"
echo "|---|---|"
echo "| bare libmicrohttpd GET /healthz | ${bare%% *} req/s, p99 ${bare##* } ms |"
echo "| toolconnect GET /healthz | ${tc%% *} req/s, p99 ${tc##* } ms |"
echo "| ratio toolconnect / bare | ${ratio}% |"
if [ -n "$token" ]; then
  auth=(-H "Authorization: Bearer $token")
  b1=$(run_wrk "${auth[@]}" "http://127.0.0.1:$port_bare/api/me"); t1=$(run_wrk "${auth[@]}" "http://127.0.0.1:$port_tc/api/me")
  b2=$(run_wrk "${auth[@]}" "http://127.0.0.1:$port_bare/api/me"); t2=$(run_wrk "${auth[@]}" "http://127.0.0.1:$port_tc/api/me")
  bme=$(best "$b1" "$b2"); me=$(best "$t1" "$t2")
  rme=$(awk -v a="${me%% *}" -v b="${bme%% *}" 'BEGIN{printf "%.0f", 100*a/b}')
  echo "| bare libmicrohttpd GET /api/me (same body bytes) | ${bme%% *} req/s, p99 ${bme##* } ms |"
  echo "| toolconnect GET /api/me (valid access token) | ${me%% *} req/s, p99 ${me##* } ms |"
  echo "| ratio /api/me / bare | ${rme}% |"
else
  echo "| GET /api/me | not measured: signup failed |"
fi
loaded_rss=$(rss_kb $tc_pid)
echo "| idle RSS of serve (after start, before load) | $((idle_rss / 1024)) MB (${idle_rss} kB) |"
echo "| RSS after the load | $((loaded_rss / 1024)) MB |"
echo "| start to ready (spawn → /readyz 200, SQLite, fresh dir, 5 runs) | best ${ready_best} ms, median ${ready_median} ms (server-measured median ${ready_self} ms) |"
echo "| wrk | -t2 -c${conns} -d${secs}s, 2 runs each interleaved (bare, toolconnect, bare, toolconnect), better kept |"
