#!/usr/bin/env bash
# Installs the Debian packages toolconnect needs to build, test and run.
# Idempotent: only missing packages are installed. Uses sudo when not root.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev
  libcurl4-openssl-dev libssl-dev libargon2-dev libpcre2-dev libsqlite3-dev
  libpq-dev tzdata zlib1g-dev)
TEST_PKGS=(postgresql sqlite3 nodejs curl wrk chromium json-schema-test-suite python3)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm may come from Debian or from an upgrade of it; only require the command.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
