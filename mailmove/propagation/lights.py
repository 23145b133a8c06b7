"""From verdicts to traffic lights: per vantage point, per record, overall. Pure.

Reference sheet §10. Red is only ever earned at an authoritative server (the customer must
act); a cache that still has the old answer while the authoritatives are right is amber, with
the time it must refetch; timeouts, SERVFAIL and REFUSED are grey ("couldn't check"), never
red. Green needs the same good answer on two consecutive checks (flapping, §11 #3): a match
seen for the first time is amber "confirming" until the next check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from mailmove.propagation._model import (
    WRONG,
    CheckState,
    Expectation,
    Kind,
    Light,
    RecordResult,
    Vantage,
    VantageResult,
    Verdict,
)

_OVERALL_ORDER: tuple[Light, ...] = ("red", "amber", "grey", "green")


def authoritatives_right(verdicts: Iterable[tuple[Vantage, Verdict]]) -> bool | None:
    """True: every authoritative that answered is right; False: one is wrong; None: no answer."""
    auth = [v for vantage, v in verdicts if vantage.kind == "authoritative"]
    if any(v.status in WRONG for v in auth):
        return False
    if any(v.status == "match" for v in auth):
        return True
    return None


def vantage_light(
    verdict: Verdict, kind: Kind, *, matched_before: bool, authoritatives_ok: bool | None
) -> tuple[Light, bool]:
    """(light, confirming) of one vantage point for one record."""
    if verdict.status in ("unknown", "guarded"):
        return "grey", False
    if verdict.status == "match":
        return ("green", False) if matched_before else ("amber", True)
    if kind == "authoritative" or authoritatives_ok is False:
        return "red", False  # at a cache: the same wrong answer; fix the authoritatives first
    if authoritatives_ok:
        return "amber", False  # the cache still has the old answer: wait for its TTL
    return "grey", False  # nothing to compare with: the authoritatives did not answer


def refresh_at(verdict: Verdict, kind: Kind, light: Light, confirming: bool) -> datetime | None:
    """When a cache holding an old (or negative) answer must fetch it again."""
    if kind != "public" or light != "amber" or confirming or verdict.ttl is None:
        return None
    if not verdict.queried_at:
        return None
    return datetime.fromtimestamp(verdict.queried_at + verdict.ttl, UTC)


def row_light(results: Sequence[VantageResult]) -> Light:
    auth = [r.light for r in results if r.vantage.kind == "authoritative"]
    public = [r.light for r in results if r.vantage.kind == "public"]
    every = auth + public
    if "red" in every:
        return "red"
    if not auth or all(light == "grey" for light in auth):
        return "grey"
    if "amber" in every:
        return "amber"
    if "grey" in auth:
        return "grey"  # one authoritative could not be checked: the change is not confirmed
    if public and all(light == "grey" for light in public):
        return "grey"
    return "green"


def overall_light(rows: Iterable[RecordResult]) -> Light:
    lights = {r.light for r in rows}
    for light in _OVERALL_ORDER:
        if light in lights:
            return light
    return "grey"


def judge(
    exp: Expectation,
    verdicts: Sequence[tuple[Vantage, Verdict]],
    previous: CheckState | None,
) -> RecordResult:
    """One record's result from every vantage point's verdict."""
    ok = authoritatives_right(verdicts)
    before = previous.matched if previous is not None else frozenset()
    results = []
    for vantage, verdict in verdicts:
        light, confirming = vantage_light(
            verdict,
            vantage.kind,
            matched_before=(*exp.key, vantage.name) in before,
            authoritatives_ok=ok,
        )
        refresh = refresh_at(verdict, vantage.kind, light, confirming)
        results.append(VantageResult(vantage, verdict, light, confirming, refresh))
    stale = [r.refresh_at for r in results if r.refresh_at is not None]
    return RecordResult(exp, row_light(results), tuple(results), max(stale) if stale else None)


def overall_eta(rows: Sequence[RecordResult], overall: Light, now: datetime) -> datetime | None:
    """When the last cache will have the new answers (None while the customer must act)."""
    if overall in ("red", "grey"):
        return None
    etas = [r.eta for r in rows if r.eta is not None]
    return max(etas) if etas else now


def matched_keys(rows: Iterable[RecordResult]) -> frozenset[tuple[str, str, str, str]]:
    """What matched in this check: the next check may turn these green."""
    return frozenset(
        (*r.expectation.key, v.vantage.name)
        for r in rows
        for v in r.vantages
        if v.verdict.status == "match"
    )
