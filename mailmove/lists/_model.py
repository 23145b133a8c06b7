"""The validated model that provisioning and the per-user instructions build on.

Addresses are stored lower case with domains in punycode, exactly as PostfixAdmin
stores them, so later steps never normalise again. Passwords stay out of every
``repr`` so a stray log line or traceback cannot leak one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mailmove.config import PasswordPolicy
from mailmove.errors import MailmoveError
from mailmove.i18n import DEFAULT_LANG, Lang, t

Field = Literal["ignore", "address", "password", "name", "quota", "targets", "keep_copy"]
FIELDS: tuple[Field, ...] = (
    "ignore",
    "address",
    "password",
    "name",
    "quota",
    "targets",
    "keep_copy",
)
# A separate forwarding list only has a source, its targets and the keep-a-copy switch.
FORWARD_FIELDS: tuple[Field, ...] = ("ignore", "address", "targets", "keep_copy")

Kind = Literal["addresses", "forwards"]
Severity = Literal["error", "warning"]

PASTED = "<pasted>"  # Issue.file for pasted text; the UI shows a translated label instead


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding on one cell: where it is as the spreadsheet shows it, and why.

    ``row`` is the row number the customer sees in Excel (0 for the whole file),
    ``column`` the spreadsheet letter ("" when no single column is at fault).
    ``params`` never hold a password; the text comes from the catalog per language.
    """

    file: str
    row: int
    column: str
    code: str
    severity: Severity
    params: Mapping[str, str] = field(default_factory=dict)

    def message(self, lang: Lang = DEFAULT_LANG) -> str:
        return t(f"lists.issue.{self.code}", lang, **self.params)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox to create. ``quota_mb`` None = the domain's default, 0 = unlimited."""

    address: str
    name: str
    password: str = field(repr=False)
    quota_mb: int | None
    row: int
    generated_password: bool = False
    file: str = ""


@dataclass(frozen=True, slots=True)
class Forward:
    """Forwarding for one address: a mailbox's own alias or a forward-only alias.

    A catch-all is stored as PostfixAdmin stores it, ``@domain``. ``keep_copy`` is
    PostfixAdmin's ``goto_mailbox`` and is only ever true for a mailbox's own alias.
    """

    address: str
    targets: tuple[str, ...]
    keep_copy: bool
    catch_all: bool
    row: int
    file: str = ""


@dataclass(frozen=True)
class ListResult:
    """Only rows without errors become mailboxes and forwards: bad rows never block good ones."""

    mailboxes: tuple[Mailbox, ...]
    forwards: tuple[Forward, ...]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_rows(self, file: str) -> frozenset[int]:
        """Row numbers of ``file`` that have at least one error."""
        return frozenset(i.row for i in self.errors if i.file == file)


@dataclass(slots=True)
class Record:
    """One data row after column mapping, cells still as the customer typed them.

    ``targets`` joins several forward-target columns with a newline. This is the
    unit the review table edits: an edit makes a new Record (``dataclasses.replace``)
    and the list is validated again. Not frozen only because 50,000 frozen inits
    cost a tenth of the time budget; treat it as immutable.
    """

    row: int
    address: str = ""
    password: str = field(default="", repr=False)
    name: str = ""
    quota: str = ""
    targets: str = ""
    keep_copy: str = ""
    password_was_number: bool = False  # Excel stored the password cell as a number
    extra_cells: int = 0  # non-empty cells right of the header (often an unquoted comma)

    def is_blank(self) -> bool:
        return not (
            self.address.strip()
            or self.password.strip()
            or self.name.strip()
            or self.quota.strip()
            or self.targets.strip()
            or self.keep_copy.strip()
        )


@dataclass(frozen=True)
class ListInput:
    """A list ready to validate: its mapped records and, per field, the column letter."""

    file: str
    kind: Kind
    records: tuple[Record, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[Issue, ...] = ()  # file-level warnings from reading (e.g. other sheets)


@dataclass(frozen=True)
class Table:
    """A decoded sheet: non-blank rows with their spreadsheet row numbers, cells as text."""

    file: str
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    numeric: frozenset[tuple[int, int]] = frozenset()  # (row, column index) stored as numbers
    notes: tuple[Issue, ...] = ()
    encoding: str = ""

    @property
    def width(self) -> int:
        return max((len(cells) for _, cells in self.rows), default=0)


@dataclass(frozen=True)
class Layout:
    """How to read a table: which row is the header (None: no header) and each column's field."""

    header_row: int | None
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Options:
    """What the validation needs to know about this migration and its server.

    ``domains`` None means every domain in the lists belongs to the migration.
    ``default_aliases``: the server creates abuse@, hostmaster@, postmaster@ and
    webmaster@ for each domain (PostfixAdmin's default), so those names collide.
    """

    domains: frozenset[str] | None = None
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    generate_passwords: bool = False
    default_aliases: bool = True


class ListReadError(MailmoveError):
    """A file that cannot be used at all; ``code`` names the catalog text ``lists.read.<code>``."""

    def __init__(self, code: str, file: str = "", **params: object) -> None:
        self.code = code
        self.file = file
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(f"{file}: {code}" if file else code)

    def message(self, lang: Lang = DEFAULT_LANG) -> str:
        return t(f"lists.read.{self.code}", lang, **self.params)
