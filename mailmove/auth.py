"""Sign-in: the customer's own PostfixAdmin account is the only credential.

mailmove keeps no password: it signs in to PostfixAdmin over HTTP, keeps that
PostfixAdmin session (in the user's own app session only) and the list of
domains PostfixAdmin says this admin holds. Every later action is scoped to
those domains, and PostfixAdmin enforces the same scope again on its side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import requests

from mailmove.config import Server
from mailmove.errors import MailmoveError
from mailmove.postfixadmin import (
    LoginFailed,
    PostfixAdminClient,
    PostfixAdminError,
    Unreachable,
)

IDLE_TIMEOUT_S = 30 * 60  # a shared screen left alone signs itself out


@dataclass(frozen=True)
class Identity:
    """Who is signed in, and what PostfixAdmin lets them touch."""

    username: str
    server: str
    is_staff: bool
    domains: tuple[str, ...]

    def may_act_on(self, domain: str) -> bool:
        """Staff act on every domain; a customer only on the domains PostfixAdmin lists."""
        return self.is_staff or domain.lower() in self.domains


class SignInError(MailmoveError):
    """Why sign-in failed, as a catalog key the page can show in either language."""

    def __init__(self, reason: Literal["failed", "unreachable"]) -> None:
        super().__init__(reason)
        self.reason = reason


_PBKDF2_ROUNDS = 600_000


def hash_password(password: str, *, rounds: int = _PBKDF2_ROUNDS) -> str:
    """A staff password hash for secrets.toml: ``pbkdf2_sha256$rounds$salt$digest``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${rounds}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        scheme, rounds, salt, digest = hashed.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def sign_in(
    server: Server,
    username: str,
    password: str,
    *,
    staff_accounts: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> tuple[Identity, PostfixAdminClient]:
    """Check the credentials and read the domains this user may act on.

    Customers and PostfixAdmin superadmins are checked by PostfixAdmin itself.
    Staff accounts from secrets.toml are checked here, then act through the
    server's configured staff PostfixAdmin account.
    """
    user = username.strip().lower()
    hashed = (staff_accounts or {}).get(user)
    if hashed is not None:
        if not verify_password(password, hashed):
            raise SignInError("failed")
        pfa = server.postfixadmin
        if not (pfa.username and pfa.password):
            raise SignInError("unreachable")
        identity, client = sign_in(server, pfa.username, pfa.password, session=session)
        return Identity(user, server.name, True, identity.domains), client
    client = PostfixAdminClient(server.postfixadmin.url, session=session)
    try:
        admin = client.login(user, password)
        domains = tuple(sorted(d.name for d in client.list_domains()))
    except LoginFailed:
        raise SignInError("failed") from None
    except Unreachable:
        raise SignInError("unreachable") from None
    except PostfixAdminError:
        raise SignInError("unreachable") from None
    identity = Identity(
        username=admin.username,
        server=server.name,
        is_staff=admin.superadmin,
        domains=domains,
    )
    return identity, client


def is_idle(last_seen: float, now: float, timeout_s: float = IDLE_TIMEOUT_S) -> bool:
    return now - last_seen > timeout_s
