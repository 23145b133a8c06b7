"""The data the generator works on and hands out: current RRsets in, records and notices out.

Plain frozen dataclasses, so the computation is testable with hand-written fakes and the
JSON form (the CLI contract) is one function away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Purpose = Literal["ttl", "spf", "dkim", "dmarc", "mx", "mx-host"]
Action = Literal["add", "change", "delete", "keep"]
Severity = Literal["block", "warning", "info"]
RRStatus = Literal["ok", "nxdomain", "nodata", "unknown"]

PURPOSES: tuple[Purpose, ...] = ("ttl", "spf", "dkim", "dmarc", "mx", "mx-host")
ACTIONS: tuple[Action, ...] = ("add", "change", "delete", "keep")
# Step 1: lower the TTLs now; 2: SPF, DKIM, DMARC; 3: the MX change (after the addresses exist).
STEP_OF: Mapping[Purpose, int] = {
    "ttl": 1,
    "spf": 2,
    "dkim": 2,
    "dmarc": 2,
    "mx": 3,
    "mx-host": 3,
}
STEPS = (1, 2, 3)
LOW_TTL = 300  # what step 1 lowers to, and the TTL of records changed at the switch
NEW_TTL = 3600  # a record added in step 2 (not time-critical)


@dataclass(frozen=True)
class RRset:
    """One (name, type) as the authoritative servers publish it.

    ``status`` ``unknown`` means no authoritative server gave a usable answer (timeout,
    SERVFAIL, REFUSED): "couldn't check", never "missing". ``values`` are presentation texts
    (MX ``10 mail.example.jp.``); for TXT, ``strings`` keeps each record's character-strings.
    """

    name: str  # absolute, lower case (``example.jp.``)
    rdtype: str
    status: RRStatus
    values: tuple[str, ...] = ()
    ttl: int | None = None
    strings: tuple[tuple[str, ...], ...] = ()  # TXT only
    cnames: tuple[str, ...] = ()  # alias chain followed to reach the data
    negative_ttl: int | None = None  # nxdomain/nodata: how long caches may remember "none"
    disagree: bool = False  # the authoritative servers gave different answers
    detail: str = ""  # why unknown (e.g. "timeout at ns1, refused at ns2")

    @property
    def texts(self) -> tuple[str, ...]:
        """TXT records, each record's strings joined without spaces (RFC 7208 §3.3)."""
        return tuple("".join(s) for s in self.strings)

    @property
    def exists(self) -> bool:
        return self.status == "ok" and bool(self.values)


class DnsData(Protocol):
    """Where the generator reads current records: live authoritative DNS or a fake."""

    def get(self, name: str, rdtype: str) -> RRset: ...


@dataclass(frozen=True)
class Record:
    """One line of the customer's to-do list: set this record, in this step.

    ``value`` is what a registrar screen wants (no quotes, TXT strings joined, MX target
    without the trailing dot); ``strings`` the ≤255-octet pieces of a TXT value.
    ``current`` are the values published today that this line replaces, keeps or deletes.
    """

    step: int
    purpose: Purpose
    host: str  # registrar label: "@", "mail", "_dmarc", "<selector>._domainkey"
    name: str  # full name, no trailing dot
    type: str
    value: str
    strings: tuple[str, ...]
    ttl: int
    action: Action
    current: tuple[str, ...] = ()
    current_ttl: int | None = None
    note: str = ""  # a catalog key suffix for a record-specific explanation, "" for none


@dataclass(frozen=True)
class Notice:
    """A warning or remark, as a catalog code plus parameters (rendered in ja or en)."""

    code: str
    severity: Severity
    purpose: Purpose | None = None
    params: Mapping[str, str | int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"records.notice.{self.code}"


@dataclass(frozen=True)
class RecordPlan:
    """Everything a customer needs for one domain: the records per step, notices, timing."""

    domain: str
    server: str
    records: tuple[Record, ...]
    notices: tuple[Notice, ...]
    switch_not_before: datetime  # aware, in the configured time zone
    computed_at: datetime
    wait_s: int  # the TTL that decides switch_not_before

    @property
    def blocked(self) -> bool:
        """The current records must be fixed first (e.g. two SPF records)."""
        return any(n.severity == "block" for n in self.notices)

    def step(self, number: int) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.step == number)

    def notices_for(self, purpose: Purpose | None) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if n.purpose == purpose)
