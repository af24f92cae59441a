#!/usr/bin/env bash
# Builds the web app into web/dist; npm ci runs only when the lock changed,
# the build only when a source file is newer than the last build.
#   scripts/build-web.sh          install if needed, then build if needed
#   scripts/build-web.sh --deps   install if needed, no build (for the unit tests)
set -euo pipefail
cd "$(dirname "$0")/../web"
stamp=node_modules/.lock-stamp
if ! { [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; }; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
[ "${1:-}" = "--deps" ] && exit 0
if [ -f dist/index.html ] && [ -z "$(find src public index.html package.json package-lock.json tsconfig.json vite.config.* -newer dist/index.html 2>/dev/null | head -1)" ]; then
  exit 0
fi
npm run build --silent
