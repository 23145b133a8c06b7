"""Which clicks each mail program needs, as catalog keys (the text is in oldmail.yaml).

Why data, not prose in code: the same steps appear in Japanese and English, the tests
check each program's page in both languages, and a menu label that changes with a
new version is fixed in one YAML line. Menu paths come from the reference sheet
(migration-and-clients.md §8-9); most are marked unverified there, so the pages say
that labels can differ between versions and name options by what they do.

Every step text may use these placeholders: ``{address} {old_host} {old_port}
{old_security} {protocol} {in_host} {in_port} {in_security} {smtp_host} {smtp_port}
{smtp_security}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Only = Literal["tls", "plain"]


@dataclass(frozen=True)
class Step:
    """One numbered instruction; ``only`` limits it to TLS (995) or plain (110) setups."""

    key: str
    only: Only | None = None


@dataclass(frozen=True)
class ClientGuide:
    """Everything a page says about one mail program."""

    id: str
    edit: tuple[Step, ...]  # point the existing account at the old server (before the switch)
    add: tuple[Step, ...]  # add the account for the new server (after the switch)
    copy: str | None  # where "leave a copy on the server" lives
    cert: str  # what the program shows on a certificate name mismatch
    warning: str | None = None  # shown first, highlighted
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"oldmail.client.{self.id}.name"

    def keys(self) -> set[str]:
        """Every catalog key this guide uses (for the catalog test)."""
        keys = {self.name, self.cert, *(s.key for s in self.edit + self.add), *self.notes}
        keys.update(k for k in (self.copy, self.warning) if k)
        return keys


def _guide(
    client_id: str,
    edit: tuple[str | tuple[str, Only], ...],
    add: int,
    *,
    copy: bool = True,
    warning: bool = False,
    notes: int = 0,
) -> ClientGuide:
    prefix = f"oldmail.client.{client_id}"
    edit_steps = tuple(
        Step(f"{prefix}.edit.{s}")
        if isinstance(s, str)
        else Step(f"{prefix}.edit.{s[0]}_{s[1]}", s[1])
        for s in edit
    )
    return ClientGuide(
        id=client_id,
        edit=edit_steps,
        add=tuple(Step(f"{prefix}.add.{n}") for n in range(1, add + 1)),
        copy=f"{prefix}.copy" if copy else None,
        cert=f"{prefix}.cert",
        warning=f"{prefix}.warning" if warning else None,
        notes=tuple(f"{prefix}.note.{n}" for n in range(1, notes + 1)),
    )


CLIENTS: tuple[ClientGuide, ...] = (
    _guide(
        "outlook_classic",
        ("1", "2", "3", "4", ("5", "tls"), ("5", "plain"), "6"),
        5,
        notes=2,
    ),
    _guide("outlook_new", ("1", "2", "3", "4"), 4, copy=False, warning=True),
    _guide("thunderbird", ("1", "2", "3", "4", "5"), 4),
    _guide("apple_mail", ("1", "2", "3", ("4", "tls"), ("4", "plain"), "5"), 4, notes=1),
    _guide("ios", ("1", "2", "3", ("4", "tls"), ("4", "plain"), "5"), 4, notes=2),
    _guide("android_gmail", ("1", "2", "3", "4"), 4, notes=1),
    _guide("becky", ("1", "2", "3", "4"), 3),
    _guide("generic", ("1", "2", "3"), 3),
)

CLIENT_IDS: tuple[str, ...] = tuple(c.id for c in CLIENTS)
_BY_ID = {c.id: c for c in CLIENTS}


def client(client_id: str) -> ClientGuide:
    try:
        return _BY_ID[client_id]
    except KeyError:
        known = ", ".join(CLIENT_IDS)
        raise ValueError(f"unknown mail program {client_id!r} (known: {known})") from None


def all_keys() -> set[str]:
    keys: set[str] = set()
    for guide in CLIENTS:
        keys |= guide.keys()
    return keys
