#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on 127.0.0.1 and a free port.
#
#   scripts/pg-test.sh start [STATE_DIR]        initdb + start; prints the URL
#   scripts/pg-test.sh url   [STATE_DIR]        prints the URL of the running server
#   scripts/pg-test.sh exec  STATE_DIR CMD...   runs CMD with TC_TEST_PG_URL set
#   scripts/pg-test.sh stop  [STATE_DIR]        stops that server, removes its data
#
# STATE_DIR (default $TC_PG_STATE_DIR or /tmp/tc-pg-test-$UID) holds the URL,
# the data directory path and the server's pid. Each build directory uses its
# own, so parallel test runs never share a server. Uses Debian's PostgreSQL 15
# binaries. As root (CI), the server runs as the postgres user, because
# PostgreSQL refuses to run as root. Trust authentication on loopback only;
# fsync is off: the data is thrown away.
set -euo pipefail

PG_BIN=${TC_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
state=${2:-${TC_PG_STATE_DIR:-/tmp/tc-pg-test-$(id -u)}}

die() { echo "pg-test: $*" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Is pid a postgres postmaster for data dir $2? (never signal anything else)
is_our_server() {
  local pid=$1 data=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "postgres.*-D $data" 
}

stop_server() {
  [ -f "$state/data_dir" ] || return 0
  local data pid
  data=$(cat "$state/data_dir")
  pid=$(cat "$state/pid" 2>/dev/null || true)
  if is_our_server "$pid" "$data"; then
    kill -INT "$pid" 2>/dev/null || true   # fast shutdown
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  case "$data" in
    /tmp/tc-pg-data.*) rm -rf "$data" ;;
  esac
  rm -f "$state/url" "$state/pid" "$state/data_dir" "$state/port"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

start_server() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 is not installed ($PG_BIN/initdb missing); run scripts/install-deps.sh --test"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (Debian's postgresql package creates it)"
  fi
  mkdir -p "$state"
  stop_server   # leftovers of an earlier run that never stopped
  local data
  data=$(mktemp -d /tmp/tc-pg-data.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
  chmod 700 "$data"
  echo "$data" >"$state/data_dir"
  as_owner "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N \
    >"$state/initdb.log" 2>&1 || { cat "$state/initdb.log" >&2; die "initdb failed"; }
  local port ok=0
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
         start >/dev/null 2>&1; then
      ok=1
      break
    fi
    tail -5 "$data/server.log" >&2 || true
  done
  [ "$ok" -eq 1 ] || die "server did not start; see $data/server.log"
  head -1 "$data/postmaster.pid" >"$state/pid"
  echo "$port" >"$state/port"
  echo "postgres://postgres@127.0.0.1:$port/postgres" >"$state/url"
  cat "$state/url"
}

case "$cmd" in
  start) start_server ;;
  stop) stop_server ;;
  url)
    [ -f "$state/url" ] || die "no server running for $state (run: $0 start $state)"
    cat "$state/url" ;;
  exec)
    [ -f "$state/url" ] || die "no server running for $state (run: $0 start $state)"
    shift 2
    [ $# -gt 0 ] || die "exec needs a command"
    TC_TEST_PG_URL=$(cat "$state/url")
    export TC_TEST_PG_URL
    exec "$@" ;;
  *) echo "usage: $0 start|stop|url [STATE_DIR] | exec STATE_DIR CMD..." >&2; exit 2 ;;
esac
