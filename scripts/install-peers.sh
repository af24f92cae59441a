#!/usr/bin/env bash
# Installs the npm packages the tests use as real protocol peers, pinned by
# tests/peers/package-lock.json. Re-runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"
stamp=node_modules/.lock-stamp
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
