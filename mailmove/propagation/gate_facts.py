"""The DNS half of the cutover gate, read from the authoritative servers only.

Why only the authoritatives: the gate asks "did the customer do it right?", which caches
cannot answer (they lag by design), and whose answers would differ by where we ask from. The
same comparison code as the live check decides, so the gate and the lights never disagree:

* ``dmarc_strict`` - the domain's DMARC says quarantine or reject (or could not be read:
  then we cannot rule it out, and the gate waits for SPF and DKIM to be visible anyway);
* ``auth_visible`` - every authoritative server has an SPF record that authorises the new
  server and (if a DKIM key is configured) its DKIM key; None when one could not be checked;
* ``mx_ttl_lowered`` - every authoritative serves the MX and MX-host records with TTL ≤ 300;
* ``published_ttl`` - the longest TTL they publish for those records now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from mailmove.config import Config, Server
from mailmove.errors import MailmoveError
from mailmove.projects import Project, Projects
from mailmove.propagation._model import WRONG, CheckResult, RecordResult
from mailmove.propagation.checker import acheck, run_sync

STRICT = ("quarantine", "reject")


class DnsGateFacts(NamedTuple):
    dmarc_strict: bool
    auth_visible: bool | None
    mx_ttl_lowered: bool | None
    published_ttl: int | None


def dns_gate_facts(config: Config, server: Server, domain: str) -> DnsGateFacts:
    """Ask every authoritative server of ``domain`` (no public resolver) for the gate's facts."""
    return run_sync(_facts(config, server, [domain]))[0]


async def _facts(config: Config, server: Server, domains: Sequence[str]) -> list[DnsGateFacts]:
    """Every domain at once (a project, or a staff console full of them, waits once)."""
    results = await asyncio.gather(
        *(acheck(config, server, d, public=False) for d in domains), return_exceptions=True
    )
    out = []
    for result in results:
        if isinstance(result, MailmoveError):  # a malformed domain name: nothing is known
            out.append(DnsGateFacts(True, None, None, None))
        elif isinstance(result, BaseException):
            raise result
        else:
            out.append(facts_from_result(result))
    return out


def _authoritative(rows: Sequence[RecordResult]) -> list[str]:
    return [v.verdict.status for r in rows for v in r.vantages if v.vantage.kind == "authoritative"]


def _all_right(statuses: list[str]) -> bool | None:
    if any(s in WRONG for s in statuses):
        return False
    if not statuses or any(s != "match" for s in statuses):
        return None
    return True


def facts_from_result(result: CheckResult) -> DnsGateFacts:
    """The gate's facts from a check (its authoritative verdicts only)."""
    rows = result.records
    dmarc = _authoritative([r for r in rows if r.purpose == "dmarc"])
    policies = {
        str(v.verdict.params.get("policy"))
        for r in rows
        if r.purpose == "dmarc"
        for v in r.vantages
        if v.vantage.kind == "authoritative" and v.verdict.status == "match"
    }
    unread = not dmarc or any(s in ("unknown", "guarded") for s in dmarc)
    strict = bool(policies & set(STRICT)) or unread
    auth_visible = _all_right(_authoritative([r for r in rows if r.purpose in ("spf", "dkim")]))
    ttl_rows = [r for r in rows if r.purpose == "ttl"]
    lowered = _all_right(_authoritative(ttl_rows)) if ttl_rows else True
    ttls = [
        v.verdict.ttl
        for r in ttl_rows
        for v in r.vantages
        if v.vantage.kind == "authoritative"
        and v.verdict.ttl is not None
        and v.verdict.status in ("match", "mismatch")
    ]
    return DnsGateFacts(strict, auth_visible, lowered, max(ttls) if ttls else None)


def observe_ttl(
    projects: Projects, project: Project, domain: str, facts: DnsGateFacts, at: datetime
) -> Project:
    """Store what the authoritatives serve, so the gate learns when the TTL was lowered."""
    if facts.mx_ttl_lowered is None:
        return project
    return projects.observe_ttl(
        project.id,
        domain,
        published_ttl=facts.published_ttl,
        lowered=facts.mx_ttl_lowered,
        at=at,
    )


def project_gate_dns(
    config: Config, projects: Projects, project: Project, *, now: datetime | None = None
) -> tuple[bool, bool | None]:
    """(dmarc_strict, auth_visible) over every domain of ``project``; TTLs observed on the way."""
    try:
        server = config.server(project.server)
    except MailmoveError:
        return True, None
    at = now or datetime.now(UTC)
    strict = False
    visible: list[bool | None] = []
    every = run_sync(_facts(config, server, project.domains))
    for domain, facts in zip(project.domains, every, strict=True):
        observe_ttl(projects, project, domain, facts, at)
        strict = strict or facts.dmarc_strict
        visible.append(facts.auth_visible)
    if any(v is False for v in visible):
        return strict, False
    if visible and all(v is True for v in visible):
        return strict, True
    return strict, None
