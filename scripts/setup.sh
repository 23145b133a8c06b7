#!/usr/bin/env bash
# Install what is missing on a fresh Debian machine, and nothing else; safe to re-run.
#   bash scripts/setup.sh          what the app and its demo services need
#   bash scripts/setup.sh --dev    plus the test tools and Debian's Chromium for browser tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-run}"

# Debian packages: PHP for the demo PostfixAdmin (served by php -S), Knot DNS and Unbound
# for the local DNS test bed. Tests also need Chromium (never a browser Playwright downloads)
# and CJK fonts so Japanese pages render in screenshots.
DEBS=(python3 python3-venv php-cli php-sqlite3 php-mbstring php-imap knot knot-dnsutils unbound sqlite3 fetchmail)
if [[ "$MODE" == "--dev" ]]; then
  DEBS+=(chromium fonts-noto-cjk postgresql dovecot-pop3d)
fi

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  # Keep the package scripts from starting system-wide knot/unbound/apache on port 53/80:
  # mailmove starts its own instances on loopback.
  guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ -n "$guard" ]]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  # On a systemd host, keep the packaged system services off at boot too.
  if [[ -d /run/systemd/system ]]; then
    as_root systemctl disable --now knot unbound dovecot postgresql 2>/dev/null || true
  fi
fi

# Python packages, pinned, in a project venv. Reinstalled only when the pins change.
PY="${PYTHON:-python3}"
REQ="requirements.txt"
[[ "$MODE" == "--dev" ]] && REQ="requirements-dev.txt"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.txt "$REQ" pyproject.toml | sha256sum | cut -c1-16)-${REQ%.txt}"
if [[ ! -e "$stamp" ]]; then
  echo "setup: installing Python packages from $REQ"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi

# The PostfixAdmin 3.3.13 PHP tree, from Debian's package, unpacked into .cache/ (no /etc changes).
# apt-get download needs fresh package lists: refresh them once if it fails.
.venv/bin/python -m mailmove.testbed.postfixadmin --ensure-tree "$ROOT/.cache" \
  || { as_root apt-get update -q && .venv/bin/python -m mailmove.testbed.postfixadmin --ensure-tree "$ROOT/.cache"; }
