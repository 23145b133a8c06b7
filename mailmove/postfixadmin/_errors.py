"""Exceptions of the PostfixAdmin client.

One class per thing the caller reacts to differently: retry later (Unreachable),
ask for other credentials (LoginFailed), ask for another account (Forbidden), report
a bug or an unsupported PFA version (ProtocolError), fix or skip one object (Rejected).
Messages are one line meant for
the user and never contain a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailmove.errors import MailmoveError

__all__ = [
    "Forbidden",
    "FormError",
    "LoginFailed",
    "PostfixAdminError",
    "ProtocolError",
    "Rejected",
    "Unreachable",
]


class PostfixAdminError(MailmoveError):
    """Base class: anything that went wrong talking to PostfixAdmin."""


class Unreachable(PostfixAdminError):
    """No usable answer: connection refused, timeout, or an HTTP 5xx. Worth retrying later."""


class LoginFailed(PostfixAdminError):
    """PostfixAdmin rejected the admin's username or password."""


class Forbidden(PostfixAdminError):
    """Logged in, but the admin lacks the role (PFA answers with a second 302 to login.php)."""


class ProtocolError(PostfixAdminError):
    """PostfixAdmin answered with a page we do not understand (wrong URL, other version)."""


@dataclass(frozen=True, slots=True)
class FormError:
    """One message PostfixAdmin attached to a form: to a field (``field``) or to the form."""

    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class Rejected(PostfixAdminError):
    """PostfixAdmin refused one object (validation, limits, permissions); nothing was stored.

    ``errors`` holds PFA's own messages, structured per field, so callers can react to
    a specific rule (``already_exists``) without re-parsing the one-line ``str()``.
    """

    def __init__(self, what: str, errors: Sequence[FormError]) -> None:
        self.what = what
        self.errors: tuple[FormError, ...] = tuple(errors) or (FormError(None, "refused"),)
        super().__init__(f"PostfixAdmin refused {what}: " + "; ".join(map(str, self.errors)))

    @property
    def already_exists(self) -> bool:
        """Mailboxes and aliases share one address space: either may be what exists."""
        return any("already exists" in e.message for e in self.errors)

    @property
    def limit_reached(self) -> bool:
        return any("reached your limit" in e.message for e in self.errors)

    @property
    def does_not_exist(self) -> bool:
        return any(
            "does not exist" in e.message or "EMAIL is not valid" in e.message for e in self.errors
        )
