"""One check's questions, all in flight at once, under one deadline.

Why a scheduler and not a loop: a check asks ~7 questions at ~8 vantage points, and a loop
would take the sum of their answer times (a dead resolver alone costs a timeout per question).
Here every (vantage, question) is one asyncio task, so a check takes about as long as its
slowest answer. Questions found on the way (an MX target's address, an SPF include) are asked
everywhere as soon as any answer reveals them, and the previous check's questions are asked
from the start, so a repeated check needs a single round.

Two rules from the reference sheet are enforced here, not left to callers:

* negative-cache guard (§7): a public resolver is asked about a name inside the domain only
  once every authoritative server that answered returns the record; otherwise the resolver
  would cache "does not exist" for the SOA negative TTL;
* a vantage that timed out is not asked again in the same check (§11 #4: one dead server
  must not cost a timeout per question, nor a second timeout for a question found later).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor

from mailmove.config import Nameserver
from mailmove.lookup import (
    MAX_CNAME_CHAIN,
    Answer,
    AuthoritativeView,
    Consensus,
    aquery,
    is_subdomain,
    query,
)
from mailmove.propagation._model import Key, Vantage
from mailmove.records import RRset
from mailmove.records import _spf as spf_rules
from mailmove.records._data import to_rrset
from mailmove.records._mx import is_ip_literal, parse_mx

# A bound on the questions one check may discover (SPF allows 10 lookups, each may chain).
MAX_KEYS = 48
_OUTSIDE = Nameserver("authoritative", "")  # stands for "the name's own authoritative servers"
DEMOTED = "demoted"  # the detail of a question not sent to a server that recently timed out


def cleared(answers: Sequence[Answer]) -> bool:
    """May public resolvers be asked? Only if every authoritative answer has the record."""
    definitive = [a for a in answers if a.definitive]
    return bool(definitive) and all(a.status == "ok" for a in definitive)


class Round:
    """Everything one check asks, and every answer, per vantage point."""

    def __init__(
        self,
        vantages: Sequence[Vantage],
        domain: str,
        view: AuthoritativeView,
        *,
        timeout: float,
        deadline: float,
        executor: Executor,
        exempt_types: Iterable[str] = (),
        cleared_before: Iterable[Key] = (),
        demoted: Iterable[str] = (),
        address_types: Iterable[str] = ("A",),
    ) -> None:
        self.vantages = tuple(vantages)
        self.auth = tuple(v for v in self.vantages if v.kind == "authoritative")
        self.domain = domain
        self.view = view
        self.timeout = timeout
        self.deadline = deadline
        self.executor = executor
        self.exempt_types = frozenset(exempt_types)  # wanted absent: asking poisons nothing
        # The authoritatives had these last time: caches may be asked without waiting for them.
        self.cleared_before = frozenset(cleared_before)
        self.address_types = tuple(address_types)  # what SPF "a"/"mx" need for our addresses
        self.answers: dict[str, dict[Key, Answer]] = {v.name: {} for v in self.vantages}
        self.guarded: dict[str, set[Key]] = {v.name: set() for v in self.vantages}
        self.asked: set[Key] = set()  # questions for every vantage point
        self.needed: set[Key] = set()  # those this check's records really depend on
        self.auth_asked: set[Key] = set()  # questions for the authoritatives only
        self.spf_names: set[str] = {domain}  # names whose TXT is read as SPF
        self.queries = 0
        self.slowest_s = 0.0  # the slowest answer that arrived (a timeout is not an answer)
        self._tasks: dict[tuple[str, Key], asyncio.Task[None]] = {}
        self._outside: dict[Key, asyncio.Future[Answer]] = {}
        self._dead: set[str] = set()  # timed out in this check: not asked again
        self.demoted = frozenset(demoted)  # timed out in a recent check: not asked at all
        self._lock = threading.Lock()

    # -- asking ---------------------------------------------------------------------------

    def ask(self, keys: Iterable[Key], *, auth_only: bool = False, prefetch: bool = False) -> None:
        """Ask ``keys`` at every vantage (or only the authoritatives); each question once.

        ``prefetch``: asked because the previous check needed them; they are remembered for
        the next check only if this one needs them again (so stale names drop out).
        """
        for key in keys:
            if not prefetch and not auth_only and key not in self.needed:
                self.needed.add(key)
                for answers in self.answers.values():  # prefetched, already answered
                    if key in answers:
                        self.ask(self.derived(key, answers[key]))
            known = self.asked | self.auth_asked
            if key not in known and len(known) >= MAX_KEYS:
                continue
            (self.auth_asked if auth_only else self.asked).add(key)
            for vantage in self.auth if auth_only else self.vantages:
                self._ensure(vantage, key)

    def _ensure(self, vantage: Vantage, key: Key) -> asyncio.Task[None]:
        task = self._tasks.get((vantage.name, key))
        if task is None:
            task = self._tasks[(vantage.name, key)] = asyncio.ensure_future(self._run(vantage, key))
        return task

    async def settle(self, *, vantage: Vantage | None = None, kind: str | None = None) -> None:
        """Wait until every question (also those found meanwhile) is answered, or the deadline.

        ``vantage`` / ``kind``: only that vantage point's questions (or that kind's), so its
        answers can be judged while slower servers are still being waited for.
        """
        names = {
            v.name
            for v in self.vantages
            if (vantage is None or v is vantage) and (kind is None or v.kind == kind)
        }
        while True:
            pending = [t for (n, _k), t in self._tasks.items() if n in names and not t.done()]
            if not pending:
                return
            left = self.deadline - time.monotonic()
            if left <= 0:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                self._fill_budget_timeouts()
                return
            await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)

    def _fill_budget_timeouts(self) -> None:
        for (name, key), task in self._tasks.items():
            vantage = next(v for v in self.vantages if v.name == name)
            if task.cancelled() and key not in self.answers[name] and key not in self.guarded[name]:
                self.answers[name][key] = _synthetic(vantage.server, key, "timeout", "budget")

    async def _run(self, vantage: Vantage, key: Key) -> None:
        if vantage.kind == "authoritative":
            answer: Answer | None = await self._ask_authoritative(vantage, key)
        else:
            answer = await self._ask_public(vantage, key)
        if answer is None:
            self.guarded[vantage.name].add(key)
            return
        self.answers[vantage.name][key] = answer
        if key in self.needed:
            self.ask(self.derived(key, answer))

    async def _ask_authoritative(self, vantage: Vantage, key: Key) -> Answer:
        name, rdtype = key
        if not is_subdomain(name, self.domain):
            return _as_from(vantage, await self._outside_answer(key), name)
        answer = await self._query(vantage, name, rdtype, rd=False)
        for _ in range(MAX_CNAME_CHAIN):
            if answer.status == "referral":  # a zone delegated below the domain
                return _as_from(vantage, await self._outside_answer(key), name)
            if answer.status != "cname":
                return answer
            # The alias leaves this server's zone: the target's own servers answer for it.
            target = answer.target
            if is_subdomain(target, self.domain):
                follow = await self._query(vantage, target, rdtype, rd=False)
            else:
                follow = await self._outside_answer((target, rdtype))
            answer = dataclasses.replace(
                follow, server=vantage.server, qname=name, cnames=(*answer.cnames, *follow.cnames)
            )
        return answer

    async def _ask_public(self, vantage: Vantage, key: Key) -> Answer | None:
        name, rdtype = key
        if self._needs_guard(key) and key not in self.cleared_before:
            self.auth_asked.add(key)
            await asyncio.gather(*(self._ensure(v, key) for v in self.auth))
            if not cleared(self.authoritative_answers(key)):
                return None
        return await self._query(vantage, name, rdtype, rd=True)

    def _needs_guard(self, key: Key) -> bool:
        return key[1] not in self.exempt_types and is_subdomain(key[0], self.domain)

    async def _query(self, vantage: Vantage, name: str, rdtype: str, *, rd: bool) -> Answer:
        if vantage.name in self.demoted or vantage.name in self._dead:
            return self._skipped(vantage, (name, rdtype))
        self.queries += 1
        timeout = max(0.05, min(self.timeout, self.deadline - time.monotonic()))
        answer = await aquery(vantage.server, name, rdtype, timeout=timeout, rd=rd)
        if answer.status == "timeout":
            self._dead.add(vantage.name)
        elif answer.rcode is not None:
            self.slowest_s = max(self.slowest_s, answer.elapsed_s)
        return answer

    def _skipped(self, vantage: Vantage, key: Key) -> Answer:
        detail = DEMOTED if vantage.name in self.demoted else "earlier timeout"
        return _synthetic(vantage.server, key, "timeout", detail)

    @property
    def timed_out(self) -> frozenset[str]:
        """Vantage points that did not answer in this check (asked, not demoted)."""
        return frozenset(self._dead)

    async def _outside_answer(self, key: Key) -> Answer:
        """A name outside the domain, from its own authoritative servers (one walk per check)."""
        if key not in self._outside:
            loop = asyncio.get_running_loop()
            self._outside[key] = loop.run_in_executor(self.executor, self.outside_sync, key)
        return await asyncio.shield(self._outside[key])

    def outside_sync(self, key: Key) -> Answer:
        name, rdtype = key
        consensus = self.view.ask(name, rdtype)
        self.queries += max(1, len(consensus.answers))
        return _representative(consensus, key)

    # -- what the answers reveal ----------------------------------------------------------

    def derived(self, key: Key, answer: Answer) -> list[Key]:
        """Questions an answer makes necessary: MX targets' addresses, SPF lookup terms."""
        if answer.status != "ok":
            return []
        name, rdtype = key
        found: list[Key] = []
        if rdtype == "MX":
            for _preference, target in parse_mx(answer.values):
                if target != "." and not is_ip_literal(target, self.domain):
                    found += [(target, "A"), (target, "AAAA")]
        elif rdtype == "TXT" and name in self.spf_names:
            for text in answer.texts():
                if spf_rules.is_spf(text):
                    found += self._spf_terms(text, name)
        return found

    def _spf_terms(self, record: str, owner: str) -> list[Key]:
        found: list[Key] = []
        for term in spf_rules.terms(record):
            body = term.lstrip("+-~?").lower()
            mechanism, _sep, argument = body.replace("=", ":", 1).partition(":")
            mechanism = mechanism.split("/", 1)[0]
            target = argument.split("/", 1)[0] if argument else ""
            if "%" in target:
                continue  # a macro is expanded per sender: asked at evaluation time
            where = _absolute(target) if target else owner
            if mechanism in ("include", "redirect") and target:
                self.spf_names.add(where)
                found.append((where, "TXT"))
            elif mechanism == "a":
                found += [(where, t) for t in self.address_types]
            elif mechanism == "mx":
                found.append((where, "MX"))
            elif mechanism == "exists" and target:
                found.append((where, "A"))
        return found

    # -- reading, for the evaluation (runs in worker threads after settle) ----------------

    def cleared_now(self) -> frozenset[Key]:
        """Questions every authoritative that answered in this check answered with data."""
        return frozenset(k for k in self.asked if cleared(self.authoritative_answers(k)))

    def authoritative_answers(self, key: Key) -> tuple[Answer, ...]:
        return tuple(self.answers[v.name][key] for v in self.auth if key in self.answers[v.name])

    def consensus(self, key: Key) -> Consensus:
        """All authoritative answers to ``key`` (asked now, synchronously, if still missing)."""
        missing = [v for v in self.auth if key not in self.answers[v.name]]
        if missing:
            with self._lock:
                self.auth_asked.add(key)
            for vantage in missing:
                self.fetch_sync(vantage, key)
        answers = self.authoritative_answers(key)
        first = next((a for a in answers if a.definitive), None)
        return Consensus(key[0], key[1], answers, first.cnames if first else ())

    def fetch_sync(self, vantage: Vantage, key: Key) -> Answer | None:
        """A question nobody foresaw (an SPF macro, say), asked now; None when guarded."""
        if key in self.answers[vantage.name]:
            return self.answers[vantage.name][key]
        if key in self.guarded[vantage.name]:
            return None
        name, rdtype = key
        if time.monotonic() > self.deadline:
            answer = _synthetic(vantage.server, key, "timeout", "budget")
        elif vantage.kind == "authoritative":
            answer = self._authoritative_sync(vantage, key)
        else:
            if self._needs_guard(key) and not cleared(self.consensus(key).answers):
                with self._lock:
                    self.guarded[vantage.name].add(key)
                return None
            answer = self._query_sync(vantage, name, rdtype, rd=True)
        with self._lock:
            self.answers[vantage.name][key] = answer
            if vantage.kind == "public":
                self.asked.add(key)
                self.needed.add(key)
        return answer

    def _authoritative_sync(self, vantage: Vantage, key: Key) -> Answer:
        name, rdtype = key
        if not is_subdomain(name, self.domain):
            return _as_from(vantage, self.outside_sync(key), name)
        answer = self._query_sync(vantage, name, rdtype, rd=False)
        if answer.status in ("referral", "cname"):
            consensus = self.view.ask(name, rdtype)
            return _as_from(vantage, _representative(consensus, key), name)
        return answer

    def _query_sync(self, vantage: Vantage, name: str, rdtype: str, *, rd: bool) -> Answer:
        if vantage.name in self.demoted or vantage.name in self._dead:
            return self._skipped(vantage, (name, rdtype))
        with self._lock:
            self.queries += 1
        timeout = max(0.05, min(self.timeout, self.deadline - time.monotonic()))
        answer = query(vantage.server, name, rdtype, timeout=timeout, rd=rd)
        if answer.status == "timeout":
            self._dead.add(vantage.name)
        return answer


class RoundDns:
    """One vantage point's answers as the records code reads DNS (a ``DnsData``).

    pyspf and the comparisons read through this, so an SPF include is evaluated with the
    vantage's own answers (a cache may still hold an old include). A question nobody foresaw
    is asked on the spot; a guarded one reads as the authoritative servers' negative answer.
    """

    def __init__(self, round_: Round, vantage: Vantage) -> None:
        self.round = round_
        self.vantage = vantage

    def answer(self, name: str, rdtype: str) -> Answer | None:
        return self.round.fetch_sync(self.vantage, (_absolute(name), rdtype.upper()))

    def is_guarded(self, name: str, rdtype: str) -> bool:
        key = (_absolute(name), rdtype.upper())
        return key in self.round.guarded[self.vantage.name]

    def get(self, name: str, rdtype: str) -> RRset:
        key = (_absolute(name), rdtype.upper())
        answer = self.round.fetch_sync(self.vantage, key)
        if answer is None:  # guarded: what the authoritatives say (not there yet)
            return to_rrset(self.round.consensus(key))
        return answer_rrset(answer)


class ConsensusDns:
    """What the authoritative servers agree on: the data the records generator reads."""

    def __init__(self, round_: Round) -> None:
        self.round = round_

    def get(self, name: str, rdtype: str) -> RRset:
        return to_rrset(self.round.consensus((_absolute(name), rdtype.upper())))


def answer_rrset(answer: Answer) -> RRset:
    """One server's answer in the records generator's terms."""
    return to_rrset(Consensus(answer.qname, answer.rdtype, (answer,), answer.cnames))


def _absolute(name: str) -> str:
    text = name.strip().rstrip(".").lower()
    return text + "." if text else "."


def _as_from(vantage: Vantage, answer: Answer, qname: str) -> Answer:
    return dataclasses.replace(answer, server=vantage.server, qname=_absolute(qname))


def _representative(consensus: Consensus, key: Key) -> Answer:
    answer = consensus.answer
    if answer is not None:
        return dataclasses.replace(answer, cnames=consensus.cnames or answer.cnames)
    if consensus.answers:
        return consensus.answers[0]
    return _synthetic(_OUTSIDE, key, "error", "no authoritative server found")


def _synthetic(server: Nameserver, key: Key, status: str, detail: str) -> Answer:
    return Answer(
        server=server,
        qname=key[0],
        rdtype=key[1],
        status=status,  # type: ignore[arg-type]
        detail=detail,
        queried_at=time.time(),
    )
