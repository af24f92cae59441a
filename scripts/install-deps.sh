#!/usr/bin/env bash
# Installs what toolconnect needs to build, test and run. Idempotent: only
# missing pieces are installed. Uses sudo when not root.
#   scripts/install-deps.sh          build packages + Node.js for the web app
#   scripts/install-deps.sh --test   also what the test suites use
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev
  libcurl4-openssl-dev libssl-dev libargon2-dev libpcre2-dev libsqlite3-dev
  libpq-dev tzdata zlib1g-dev)
TEST_PKGS=(postgresql sqlite3 curl wrk chromium json-schema-test-suite python3)
# The web app's toolchain (Vite 8) needs Node.js 20.19 or later; Debian 12
# ships 18. When the machine has no new enough node, the official Node.js
# build is installed from the npm registry's node-linux-<arch> package (the
# binary ships inside the package), using Debian's nodejs/npm to fetch it.
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19
NODE_VERSION=20.20.2

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

node_new_enough() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a, b] = process.versions.node.split('.').map(Number);
           process.exit(a > $NODE_MIN_MAJOR || (a === $NODE_MIN_MAJOR && b >= $NODE_MIN_MINOR) ? 0 : 1)"
}

ensure_node() {
  if node_new_enough && command -v npm >/dev/null 2>&1; then return 0; fi
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  node_new_enough && return 0
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "install-deps: Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR is needed; install it for $(uname -m)" >&2; return 1 ;;
  esac
  echo "installing: Node.js $NODE_VERSION (npm package node-linux-$arch)" >&2
  $SUDO npm install -g --no-audit --no-fund --loglevel=error "node-linux-$arch@$NODE_VERSION"
  hash -r
  node_new_enough || { echo "install-deps: node is still older than $NODE_MIN_MAJOR.$NODE_MIN_MINOR (check PATH)" >&2; return 1; }
}

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi
apt_install "${want[@]}"
ensure_node
