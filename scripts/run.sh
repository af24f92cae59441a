#!/usr/bin/env bash
# make run: migrate, then serve on TC_LISTEN (default 127.0.0.1:8080) with
# SQLite under ./data unless TC_DATABASE_URL says otherwise.
set -euo pipefail
bin="$1"
mkdir -p "${TC_DATA_DIR:-./data}"
"$bin" migrate
echo "Tool Connect Craft: http://${TC_LISTEN:-127.0.0.1:8080}/"
exec "$bin" serve
