"""The demo behind ``scripts/demo.sh``: real local services and the app, on loopback.

A local PostfixAdmin 3.3.13 (``php -S``, SQLite), Knot DNS serving the demo zones
(the customer's DNS provider), Unbound in front of it (a public cache), and the
app configured against them by its embedded defaults. Everything lives in
``var/demo/`` (git-ignored) and is reused next time; Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import string
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from mailmove.config import (
    DEMO,
    DEMO_AUTH_DNS,
    DEMO_CACHE_DNS,
    DEMO_PFA_PORT,
    DEMO_STATE_DIR,
    REPO_ROOT,
)
from mailmove.errors import MailmoveError
from mailmove.testbed.dns import AuthoritativeServer, CachingResolver, packaged_zones
from mailmove.testbed.postfixadmin import PostfixAdminInstance
from mailmove.testbed.streamlit_app import StreamlitApp

SUPERADMIN = "admin@mailmove.test"
# The demo customers: one admin per domain, as a hosting company sets them up.
CUSTOMERS = {
    "yamada-shoji.test": "admin@yamada-shoji.test",
    "sato-design.test": "admin@sato-design.test",
}


@dataclass(frozen=True)
class DemoAccounts:
    """Random per-checkout passwords, kept in var/demo/ (0600), shown only in the banner."""

    superadmin_password: str
    customer_password: str


def _new_password() -> str:
    # Meets PostfixAdmin's default policy (3 letters, 2 digits) with room to spare.
    letters = "".join(secrets.choice(string.ascii_letters) for _ in range(8))
    digits = "".join(secrets.choice(string.digits) for _ in range(4))
    return f"{letters[:4]}-{digits}-{letters[4:]}"


def load_accounts(state_dir: Path) -> tuple[DemoAccounts, bool]:
    """Existing accounts, or new ones; the bool says whether they are new."""
    path = state_dir / "credentials.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return DemoAccounts(data["superadmin_password"], data["customer_password"]), False
    if (state_dir / "postfixadmin" / "postfixadmin.db").exists():
        raise MailmoveError(
            f"{path} is missing but a demo database exists: remove {state_dir} to start over"
        )
    accounts = DemoAccounts(_new_password(), _new_password())
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(accounts.__dict__, fh)
    return accounts, True


@contextlib.contextmanager
def running_services(state_dir: Path) -> Iterator[tuple[PostfixAdminInstance, DemoAccounts]]:
    """PostfixAdmin, Knot and Unbound up (seeded on first run), stopped on exit."""
    accounts, fresh = load_accounts(state_dir)
    pfa = PostfixAdminInstance(
        base_dir=state_dir / "postfixadmin",
        cache_dir=REPO_ROOT / ".cache",
        port=DEMO_PFA_PORT,
        superadmin=SUPERADMIN,
        superadmin_password=accounts.superadmin_password,
        admin_email="postmaster@mailmove.test",
    )
    zones = packaged_zones()
    auth = AuthoritativeServer(
        state_dir / "dns-auth", zones, address=DEMO_AUTH_DNS[0], port=DEMO_AUTH_DNS[1]
    )
    cache = CachingResolver(
        state_dir / "dns-cache",
        dict.fromkeys(zones, auth),
        address=DEMO_CACHE_DNS[0],
        port=DEMO_CACHE_DNS[1],
    )
    with contextlib.ExitStack() as stack:
        pfa.prepare()
        pfa.start()
        stack.callback(pfa.stop)
        if fresh:
            for domain, admin in CUSTOMERS.items():
                pfa.add_domain(domain, description="demo customer")
                pfa.add_admin(admin, accounts.customer_password, [domain])
        auth.start()
        stack.callback(auth.stop)
        cache.start()
        stack.callback(cache.stop)
        yield pfa, accounts


def banner(app_url: str, pfa_url: str, accounts: DemoAccounts, state_dir: Path) -> str:
    customers = "\n".join(
        f"    {admin:28} {accounts.customer_password}" for admin in CUSTOMERS.values()
    )
    return (
        f"\nmailmove demo is running: {app_url}\n\n"
        f"  Sign in as a customer:\n{customers}\n"
        f"  Sign in as support staff:\n    {SUPERADMIN:28} {accounts.superadmin_password}\n\n"
        f"  Demo PostfixAdmin: {pfa_url}  DNS: {DEMO_AUTH_DNS[0]}:{DEMO_AUTH_DNS[1]} "
        f"(authoritative), {DEMO_CACHE_DNS[0]}:{DEMO_CACHE_DNS[1]} (cache)\n"
        f"  State: {state_dir} (reused next time). Press Ctrl-C to stop everything.\n"
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501, help="the app's port (default 8501)")
    parser.add_argument(
        "--state-dir", type=Path, default=DEMO_STATE_DIR, help=f"default {DEMO_STATE_DIR}"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    state_dir = args.state_dir.resolve()
    try:
        with running_services(state_dir) as (pfa, accounts):
            app = StreamlitApp(
                state_dir / "app.log",
                port=args.port,
                # The app runs on the embedded defaults, whatever mailmove.yaml says.
                env={
                    "MAILMOVE_CONFIG": DEMO,
                    "MAILMOVE_DEMO_STATE_DIR": str(state_dir),
                    "MAILMOVE_DEMO_PFA_PASSWORD": accounts.superadmin_password,
                },
            )
            with app:
                print(banner(app.url, pfa.url, accounts, state_dir), flush=True)
                app.wait()
    except KeyboardInterrupt:
        print("\nmailmove demo: stopped.", file=sys.stderr)
        return 0
    except MailmoveError as exc:
        print(f"mailmove demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
