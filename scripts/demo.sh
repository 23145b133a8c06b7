#!/usr/bin/env bash
# Run the app on its embedded defaults: a local demo PostfixAdmin (php -S, SQLite), a local
# authoritative DNS server with the demo zones, an Unbound cache, and the app on
# http://127.0.0.1:8501. State lives in var/demo/ and is reused next time. Ctrl-C stops all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python -m mailmove.testbed.demo "$@"
