"""What provisioning reads from and writes to PostfixAdmin, independent of the transport.

Two backends speak it: :class:`~mailmove.postfixadmin.PostfixAdminClient` (web forms
over HTTP, the primary one) and :class:`~mailmove.postfixadmin.PostfixAdminCli`
(``postfixadmin-cli`` on the PFA host). The planner and the job only see
:class:`Backend`, so either can be swapped in, and tests can use a fake.

Identifiers follow PFA: addresses and domains lower case, domains as punycode, a
catch-all is ``@domain``. No type here ever holds a password except the arguments of
``create_mailbox``/``update_mailbox``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mailmove.postfixadmin._types import AdminIdentity, DomainInfo

__all__ = ["Backend", "LiveAlias", "LiveMailbox", "LiveState", "Outcome"]


@dataclass(frozen=True, slots=True)
class LiveMailbox:
    address: str
    name: str
    quota_mb: int | None  # None when PFA did not report a usable number
    active: bool


@dataclass(frozen=True, slots=True)
class LiveAlias:
    """An alias row as PFA reports it.

    For a mailbox's own alias (``is_mailbox``) PFA strips the mailbox address from
    ``targets`` and reports it as ``keep_copy`` ("Deliver to the local mailbox.").
    """

    address: str
    targets: tuple[str, ...]
    active: bool
    is_mailbox: bool = False
    keep_copy: bool = False

    @property
    def is_orphan_self_alias(self) -> bool:
        """A mailbox create that died between its two INSERTs leaves exactly this."""
        return not self.is_mailbox and [t.lower() for t in self.targets] == [self.address]


@dataclass(slots=True)
class LiveState:
    """A snapshot of what the admin can see.

    ``aliases`` holds the aliases that are not a mailbox's own alias (PFA's alias list
    leaves those out); ``mailbox_aliases`` holds mailbox aliases read one by one, only
    for the addresses that were asked for. ``unreadable`` maps an address to the
    reason PFA would not show it (e.g. ``alias_control_admin = NO``).
    """

    identity: AdminIdentity
    domains: dict[str, DomainInfo] = field(default_factory=dict)
    mailboxes: dict[str, LiveMailbox] = field(default_factory=dict)
    aliases: dict[str, LiveAlias] = field(default_factory=dict)
    mailbox_aliases: dict[str, LiveAlias] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A successful write; ``warnings`` are side effects that failed afterwards."""

    warnings: tuple[str, ...] = ()


class Backend(Protocol):
    """One provisioning session as one PFA admin (or the CLI's implicit superadmin)."""

    @property
    def identity(self) -> AdminIdentity | None: ...

    def read_state(
        self,
        domains: Collection[str],
        addresses: Collection[str],
        mailbox_aliases: Collection[str],
    ) -> LiveState:
        """Read domains, mailboxes and aliases relevant to the listed ``addresses``.

        A backend that can list in bulk returns everything the admin sees; one that
        cannot (the CLI) returns at least the listed domains and addresses.
        ``mailbox_aliases``: addresses whose own alias must be read if they turn out to be
        mailboxes (PFA's alias list never includes those).
        """
        ...

    def create_domain(self, domain: str, *, mailboxes: int, aliases: int) -> Outcome: ...

    def create_mailbox(
        self, address: str, password: str, *, name: str, quota_mb: int | None
    ) -> Outcome: ...

    def update_mailbox(
        self,
        address: str,
        *,
        name: str | None = None,
        quota_mb: int | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Outcome:
        """Change only the given fields; everything else keeps its current value."""
        ...

    def create_alias(self, address: str, targets: Sequence[str]) -> Outcome: ...

    def update_alias(
        self,
        address: str,
        targets: Sequence[str],
        *,
        keep_copy: bool | None = None,
        active: bool | None = None,
        current: LiveAlias | None = None,
    ) -> Outcome:
        """Replace the targets (and, for a mailbox alias, the keep-a-copy flag).

        ``current``: the alias as the caller knows it right now (e.g. just created),
        which lets a backend skip reading it back before sending the whole form.
        """
        ...

    def delete_alias(self, address: str) -> Outcome: ...

    def drain_warnings(self) -> list[str]:
        """Side-effect warnings reported since the last call and not yet handed out."""
        ...

    def close(self) -> None: ...
