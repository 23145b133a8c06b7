"""The data of a propagation check: vantage points, verdicts, lights, results, carried state.

Plain frozen dataclasses, so the light logic is testable with hand-made verdicts and the JSON
of the CLI contract is one function away (:mod:`mailmove.propagation.report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mailmove.config import Nameserver
from mailmove.records import Purpose

Light = Literal["green", "amber", "red", "grey"]
Kind = Literal["authoritative", "public"]
LIGHTS: tuple[Light, ...] = ("green", "amber", "red", "grey")

# What one vantage point's answer means for one record:
#   match    - what the new server needs (by meaning, not by string)
#   mismatch - a value, but the wrong one (old address, old key, SPF without our address...)
#   missing  - NXDOMAIN or NODATA
#   invalid  - there, but broken whatever the value (two SPF records, null MX, MX to an alias)
#   unknown  - timeout, SERVFAIL, REFUSED, an error: "couldn't check", never "missing"
#   guarded  - deliberately not asked (negative-cache guard, reference sheet §7)
Status = Literal["match", "mismatch", "missing", "invalid", "unknown", "guarded"]
WRONG: frozenset[Status] = frozenset({"mismatch", "missing", "invalid"})

Key = tuple[str, str]  # (absolute name, record type): one DNS question
RowKey = tuple[str, str, str]  # (purpose, absolute name, record type): one line of the result


@dataclass(frozen=True)
class Vantage:
    """Where a question is asked: an authoritative server (RD off) or a public cache (RD on)."""

    server: Nameserver
    kind: Kind

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def address(self) -> str:
        return self.server.address


@dataclass(frozen=True)
class Expectation:
    """One record the customer must get right, as the records generator computed it.

    ``wanted`` is the value to show ("set this"); the comparison itself is by meaning.
    ``absent``: the right state is "no such record" (an AAAA when the server has no IPv6).
    """

    purpose: Purpose
    name: str  # absolute, lower case
    rdtype: str
    host: str  # the registrar's host label ("@", "mail", "_dmarc")
    wanted: str
    absent: bool = False

    @property
    def key(self) -> RowKey:
        return (self.purpose, self.name, self.rdtype)


@dataclass(frozen=True)
class Verdict:
    """What one vantage point's answer means for one expectation.

    ``code`` is a catalog key suffix (``propagation.detail.<code>``) with its ``params``;
    ``ttl`` is the configured TTL at an authoritative and the remaining one at a cache (for
    a negative answer: the remaining negative TTL).
    """

    status: Status
    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    values: tuple[str, ...] = ()
    ttl: int | None = None
    queried_at: float = 0.0


@dataclass(frozen=True)
class VantageResult:
    vantage: Vantage
    verdict: Verdict
    light: Light
    confirming: bool = False  # matches now, but not yet on two consecutive checks
    refresh_at: datetime | None = None  # a cache with an old answer: when it must refetch

    @property
    def ttl_remaining(self) -> int | None:
        """Seconds a cache may keep what it returned (None at authoritative servers)."""
        if self.vantage.kind != "public":
            return None
        return self.verdict.ttl


@dataclass(frozen=True)
class RecordResult:
    expectation: Expectation
    light: Light
    vantages: tuple[VantageResult, ...]
    eta: datetime | None  # when the last cache with an old answer must refetch

    @property
    def purpose(self) -> Purpose:
        return self.expectation.purpose

    @property
    def fix(self) -> VantageResult | None:
        """The first authoritative verdict that says what to change (red rows)."""
        for v in self.vantages:
            if v.vantage.kind == "authoritative" and v.light == "red":
                return v
        return None


@dataclass(frozen=True)
class Note:
    """A remark about the whole check (e.g. the authoritative servers could not be found)."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckState:
    """What one check hands to the next.

    ``matched``: (purpose, name, type, vantage) that matched, because green needs two
    consecutive matching checks. ``names``: every question asked, so the next check asks them
    all at once instead of discovering them answer by answer (MX target, SPF includes).
    ``cleared``: questions every authoritative answered with data, so public resolvers may
    be asked at once next time instead of after the authoritatives (negative-cache guard).
    ``demoted``: vantage point -> time.time() until which it is not asked, because it did
    not answer (reference sheet §10: a dead server must not cost a timeout every 30 s).
    ``authoritatives``: the servers found from the delegation, reused for a while.
    """

    at: datetime
    matched: frozenset[tuple[str, str, str, str]] = frozenset()
    names: frozenset[Key] = frozenset()
    cleared: frozenset[Key] = frozenset()
    demoted: Mapping[str, float] = field(default_factory=dict)
    authoritatives: tuple[Nameserver, ...] = ()
    authoritatives_found_at: float = 0.0


@dataclass(frozen=True)
class CheckResult:
    domain: str
    server: str
    overall: Light
    eta: datetime | None
    records: tuple[RecordResult, ...]
    checked_at: datetime
    elapsed_s: float
    state: CheckState
    notes: tuple[Note, ...] = ()
    queries: int = 0  # questions sent over the network in this check
    slowest_s: float = 0.0  # the slowest answer that arrived (what the check waited for)

    def record(self, purpose: str, name: str | None = None) -> RecordResult:
        """The first row for ``purpose`` (and full ``name``, if given)."""
        for r in self.records:
            if r.purpose == purpose and (name is None or r.expectation.name.rstrip(".") == name):
                return r
        raise KeyError((purpose, name))
