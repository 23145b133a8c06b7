#!/usr/bin/env bash
# All the tests: lint, unit, integration against real local PostfixAdmin and DNS servers,
# and browser tests in Debian's Chromium. Installs what is missing first. Non-zero on failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh --dev
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
