"""One live propagation check of a domain: ask everywhere at once, compare, light up.

Order of work, and why:

1. ask the authoritative servers and the public resolvers concurrently (the scheduler in
   ``_fetch`` holds each public question back until the authoritatives have the name);
2. compute the records the customer must have with the records generator, from the
   authoritative answers just fetched (so expected values never come from a cache);
3. ask whatever those records add (a new MX host's address), then compare every record at
   every vantage point by meaning and turn the verdicts into lights.

The previous check's :class:`CheckState` makes green stable (two consecutive matches) and
lets a repeated check ask all its questions in one round.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from mailmove.config import Config, Server
from mailmove.lookup import AuthoritativeView, DnsUnavailable, absolute
from mailmove.propagation._fetch import ConsensusDns, Round, RoundDns
from mailmove.propagation._model import (
    CheckResult,
    CheckState,
    Expectation,
    Key,
    Note,
    RecordResult,
    Vantage,
    Verdict,
)
from mailmove.propagation.compare import Context, compare
from mailmove.propagation.expect import expectations
from mailmove.propagation.lights import judge, matched_keys, overall_eta, overall_light
from mailmove.propagation.vantages import authoritatives, vantage_points
from mailmove.records import (
    ConfiguredDkimKey,
    DkimKeySource,
    RecordPlan,
    check_domain,
    compute_records,
)
from mailmove.records._dkim import DkimKey
from mailmove.records._txt import full_name

T = TypeVar("T")

# A vantage point that did not answer is left out of the checks for this long (reference
# sheet §10, §11 #4), then asked again.
DEMOTE_S = 60.0
# The whole check may take this many per-query timeouts: an authoritative answer, then a
# public one, plus a margin (reference sheet §10: ~5 s per light with 2 s queries).
BUDGET_TIMEOUTS = 2.5


def static_keys(domain: str, server: Server, dkim_key: DkimKey | None) -> list[Key]:
    """Questions every check asks, known before any answer."""
    keys: list[Key] = [(domain, "MX"), (domain, "TXT"), (absolute(f"_dmarc.{domain}"), "TXT")]
    if dkim_key is not None:
        keys.append((absolute(f"{dkim_key.selector}._domainkey.{domain}"), "TXT"))
    if server.mx.strategy == "server-host" and server.mx.host:
        host = absolute(server.mx.host)
        keys += [(host, "A"), (host, "AAAA")]
    return keys


async def acheck(
    config: Config,
    server: Server,
    domain: str,
    *,
    previous: CheckState | None = None,
    now: datetime | None = None,
    budget_s: float | None = None,
    dkim_source: DkimKeySource | None = None,
    public: bool = True,
) -> CheckResult:
    """Check ``domain`` for ``server``. Never raises for DNS trouble (that is grey).

    ``public=False`` asks the authoritative servers only (the cutover gate's view).
    Raises ``RecordsInputError`` for a malformed domain name.
    """
    started = time.monotonic()
    zone = absolute(check_domain(domain))
    settings = config.dns
    dkim_key = (dkim_source or ConfiguredDkimKey(server)).key_for(zone.rstrip("."))
    notes: list[Note] = []
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="propagation")
    try:
        found_at = previous.authoritatives_found_at if previous is not None else 0.0
        try:
            auth = await loop.run_in_executor(executor, authoritatives, zone, settings, previous)
            if previous is None or auth is not previous.authoritatives:
                found_at = time.monotonic()
        except DnsUnavailable as exc:
            auth = ()
            notes.append(Note("no_authoritatives", {"detail": str(exc)}))
        resolvers = settings.resolvers if public else ()
        vantages = vantage_points(auth, replace(settings, resolvers=resolvers))
        view = AuthoritativeView(settings)
        # The budget starts once the servers are known (walking the delegation has its own).
        deadline = time.monotonic() + (budget_s or settings.timeout_s * BUDGET_TIMEOUTS)
        round_ = Round(
            vantages,
            zone,
            view,
            timeout=settings.timeout_s,
            deadline=deadline,
            executor=executor,
            # No IPv6 on the server: every AAAA is wanted absent, asking a cache poisons nothing.
            exempt_types=() if server.ipv6 else ("AAAA",),
            cleared_before=previous.cleared if previous is not None else (),
            demoted=_still_demoted(previous),
            address_types=("A", "AAAA") if server.ipv6 else ("A",),
        )
        round_.ask(static_keys(zone, server, dkim_key))
        if previous is not None:
            round_.ask(sorted(previous.names), prefetch=True)
        # The expected records need the authoritatives only: computed while caches answer.
        await round_.settle(kind="authoritative")
        moment = now or datetime.now(UTC)
        plan = await loop.run_in_executor(
            executor, _plan, round_, zone, server, dkim_key, moment, config.timezone, notes
        )
        rows = expectations(plan, zone, server, dkim_key)
        round_.ask([(r.name, r.rdtype) for r in rows])
        helo = full_name(server.mx.host or zone)

        async def judged_at(vantage: Vantage) -> list[Verdict]:
            """Each vantage point is judged as soon as its own answers are in."""
            await round_.settle(vantage=vantage)
            return await loop.run_in_executor(
                executor, _evaluate, round_, vantage, rows, zone, server, helo, dkim_key
            )

        judged = await asyncio.gather(*(judged_at(v) for v in vantages))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)

    per_row: list[RecordResult] = []
    for i, exp in enumerate(rows):
        verdicts = [(vantage, judged[j][i]) for j, vantage in enumerate(vantages)]
        per_row.append(judge(exp, verdicts, previous))
    overall = overall_light(per_row) if vantages else "grey"
    checked_at = datetime.now(UTC)
    state = CheckState(
        at=checked_at,
        matched=matched_keys(per_row),
        names=frozenset(round_.needed),
        cleared=round_.cleared_now(),
        demoted={
            **{n: u for n, u in (previous.demoted if previous else {}).items() if u > time.time()},
            **{n: time.time() + DEMOTE_S for n in round_.timed_out},
        },
        authoritatives=auth,
        authoritatives_found_at=found_at,
    )
    return CheckResult(
        domain=zone.rstrip("."),
        server=server.name,
        overall=overall,
        eta=overall_eta(per_row, overall, checked_at),
        records=tuple(per_row),
        checked_at=checked_at,
        elapsed_s=time.monotonic() - started,
        state=state,
        notes=tuple(notes),
        queries=round_.queries,
        slowest_s=round_.slowest_s,
    )


def check(
    config: Config,
    server: Server,
    domain: str,
    *,
    previous: CheckState | None = None,
    now: datetime | None = None,
    budget_s: float | None = None,
    dkim_source: DkimKeySource | None = None,
    public: bool = True,
) -> CheckResult:
    """:func:`acheck` for synchronous callers (the CLI, Streamlit's script thread)."""
    work = acheck(
        config,
        server,
        domain,
        previous=previous,
        now=now,
        budget_s=budget_s,
        dkim_source=dkim_source,
        public=public,
    )
    return run_sync(work)


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as pool:  # e.g. Playwright's loop in this thread
        return pool.submit(asyncio.run, work).result()


def _still_demoted(previous: CheckState | None) -> frozenset[str]:
    if previous is None:
        return frozenset()
    return frozenset(name for name, until in previous.demoted.items() if until > time.time())


def _plan(
    round_: Round,
    zone: str,
    server: Server,
    dkim_key: DkimKey | None,
    now: datetime,
    timezone: str,
    notes: list[Note],
) -> RecordPlan | None:
    """The records generator, fed with what the authoritative servers just said."""
    try:
        return compute_records(
            ConsensusDns(round_), zone, server, dkim_key=dkim_key, now=now, timezone=timezone
        )
    except DnsUnavailable as exc:
        notes.append(Note("no_answer", {"detail": str(exc)}))
        return None


def _evaluate(
    round_: Round,
    vantage: Vantage,
    rows: tuple[Expectation, ...],
    zone: str,
    server: Server,
    helo: str,
    dkim_key: DkimKey | None,
) -> list[Verdict]:
    data = RoundDns(round_, vantage)
    ctx = Context(
        domain=zone,
        server=server,
        helo=helo,
        dkim_key=dkim_key,
        kind=vantage.kind,
        reference=ConsensusDns(round_) if vantage.kind == "public" else None,
    )
    return [compare(exp, data, ctx) for exp in rows]
