"""Sign-in: the customer's own PostfixAdmin account is the only credential.

mailmove keeps no password: it signs in to PostfixAdmin over HTTP, keeps that
PostfixAdmin session (in the user's own app session only) and the list of
domains PostfixAdmin says this admin holds. Every later action is scoped to
those domains, and PostfixAdmin enforces the same scope again on its side.
"""

from __future__ import annotations

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


def sign_in(
    server: Server,
    username: str,
    password: str,
    *,
    session: requests.Session | None = None,
) -> tuple[Identity, PostfixAdminClient]:
    """Check the credentials against PostfixAdmin and read the admin's domains."""
    client = PostfixAdminClient(server.postfixadmin.url, session=session)
    try:
        admin = client.login(username.strip().lower(), password)
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
