"""Plain values the client hands out; no I/O, so every other module can import them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AdminIdentity", "DomainInfo"]


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    """Who we are logged in as; ``superadmin`` decides which operations make sense."""

    username: str
    superadmin: bool


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """One row of PFA's domain list, as PFA reports it to the logged-in admin.

    Limits use PFA's encoding: 0 = unlimited, -1 = disabled, n = at most n. Counts
    are PFA's own (``alias_count`` excludes each mailbox's own alias row).
    ``description`` is None when PFA does not show it (it hides it from domain admins);
    the quota fields are None unless the server runs with ``$CONF['quota'] = 'YES'``
    (``domain_quota_*`` also needs ``domain_quota``): then every mailbox needs a quota
    of 1..``max_quota_mb`` MB (0 = unlimited is refused as "too high").
    """

    name: str
    description: str | None
    alias_count: int
    alias_limit: int
    mailbox_count: int
    mailbox_limit: int
    backup_mx: bool
    active: bool
    max_quota_mb: int | None = None
    domain_quota_used_mb: float | None = None
    domain_quota_mb: int | None = None

    @property
    def mailboxes_left(self) -> int | None:
        """How many more mailboxes PFA will accept; None = no limit."""
        return _left(self.mailbox_count, self.mailbox_limit)

    @property
    def aliases_left(self) -> int | None:
        """How many more aliases PFA will accept; None = no limit."""
        return _left(self.alias_count, self.alias_limit)


def _left(count: int, limit: int) -> int | None:
    if limit == 0:
        return None
    if limit < 0:
        return 0
    return max(limit - count, 0)
