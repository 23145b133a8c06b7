"""Exceptions of the PostfixAdmin client.

One class per thing the caller reacts to differently: retry later (Unreachable),
ask for other credentials (LoginFailed), ask for another account (Forbidden), report
a bug or an unsupported PFA version (ProtocolError). Messages are one line meant for
the user and never contain a password.
"""

from __future__ import annotations

from mailmove.errors import MailmoveError

__all__ = ["Forbidden", "LoginFailed", "PostfixAdminError", "ProtocolError", "Unreachable"]


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
