"""SPF: merge the new server into the domain's one SPF record, never replace it.

Reference sheet §3.2: exactly one ``v=spf1`` record; keep every term and the ``all``
qualifier; put ``ip4:``/``ip6:`` right after ``v=spf1`` (zero DNS lookups, evaluated before
``all`` and ``redirect``); count the lookups; split into ≤255-octet strings; and prove with a
real evaluator (pyspf) that the result passes for the new server before anyone sees it.

pyspf resolves ``include:`` through the module function ``spf.DNSLookup`` (the system
resolver, with its search list). It is replaced once, at import, by a dispatcher that sends
each evaluation's lookups to the :class:`DnsData` bound for that evaluation (a context
variable, so concurrent Streamlit sessions never see each other's data).
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import spf

from mailmove.records._model import DnsData, Notice
from mailmove.records._txt import has_literal_quotes

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
NEAR_LIMIT = 8  # say how many lookups are left when this many are used already
LONG_RECORD = 450  # octets: beyond this, some receivers truncate (checkdmarc warns >450)
LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists"})
SPF_TIMEOUT_S = 10.0  # the whole evaluation; each lookup has the configured DNS timeout

_bound: contextvars.ContextVar[DnsData | None] = contextvars.ContextVar("spf_dns", default=None)
_system_lookup = spf.DNSLookup


def _dns_lookup(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> list[Any]:
    """pyspf's DNS hook: answer from the bound :class:`DnsData`, in pyspf's own format."""
    data = _bound.get()
    if data is None:  # someone else in the process uses pyspf: leave them their default
        return _system_lookup(name, qtype, strict, timeout)  # type: ignore[no-any-return]
    rrset = data.get(name, qtype)
    if rrset.status == "unknown":
        raise spf.TempError(f"DNS {name} {qtype}: no authoritative answer")
    key = (name, qtype)
    if qtype in ("A", "AAAA"):
        return [(key, v) for v in rrset.values]
    if qtype == "MX":
        out = []
        for v in rrset.values:
            preference, _, target = v.partition(" ")
            out.append((key, (int(preference), target)))
        return out
    if qtype in ("TXT", "SPF"):
        return [(key, tuple(s.encode("utf-8") for s in strings)) for strings in rrset.strings]
    if qtype == "PTR":
        return [(key, v.rstrip(".")) for v in rrset.values]
    return []


spf.DNSLookup = _dns_lookup


@contextmanager
def bound_dns(data: DnsData) -> Iterator[None]:
    """Make pyspf resolve through ``data`` inside the ``with`` block."""
    token = _bound.set(data)
    try:
        yield
    finally:
        _bound.reset(token)


def is_spf(text: str) -> bool:
    """``v=spf1`` followed by a space or the end (RFC 7208 §4.5; ``v=spf10`` is not SPF)."""
    head = text[:7].lower()
    return head == "v=spf1" or head == "v=spf1 "


def repaired(strings: tuple[str, ...]) -> tuple[str, str] | None:
    """An SPF record broken by a registrar screen, as (problem code, fixed text), else None.

    Quotes pasted into the value, or a value split at its spaces into several strings that
    receivers join without spaces (``"v=spf1" "mx"`` reads ``v=spf1mx``), reference §8.
    """
    joined = "".join(strings)
    if is_spf(joined):
        return None
    if has_literal_quotes(joined):
        unquoted = joined.strip().replace('"', "").strip()
        if is_spf(unquoted):
            return "spf_literal_quotes", " ".join(unquoted.split())
    if len(strings) > 1 and is_spf(" ".join(strings)):
        return "spf_split_at_spaces", " ".join(" ".join(strings).split())
    return None


def terms(record: str) -> list[str]:
    """The terms after ``v=spf1`` (whitespace-separated, as RFC 7208 §4.6.1 defines them)."""
    return record.split()[1:]


def _name_of(term: str) -> str:
    body = term.lstrip("+-~?")
    return body.split(":", 1)[0].split("/", 1)[0].split("=", 1)[0].lower()


def all_term(record: str) -> str | None:
    """The ``all`` term with its qualifier (``~all``), if any."""
    for term in terms(record):
        if _name_of(term) == "all" and "=" not in term and ":" not in term:
            return term
    return None


@dataclass
class LookupCount:
    """DNS-lookup terms an evaluation may need, includes and redirects followed."""

    count: int = 0
    void: list[str] = field(default_factory=list)  # include/redirect targets without SPF
    unchecked: list[str] = field(default_factory=list)  # targets we could not resolve
    ptr: bool = False


def count_lookups(
    record: str, data: DnsData, *, _seen: frozenset[str] = frozenset()
) -> LookupCount:
    """Count like RFC 7208 §4.6.4: include/a/mx/ptr/exists/redirect, recursively.

    Terms after ``all`` are never evaluated, and ``redirect`` is ignored next to ``all``.
    Macros (``%{d}``) cannot be expanded here: they count as one lookup, not followed.
    """
    result = LookupCount()
    has_all = all_term(record) is not None
    redirect: str | None = None
    for term in terms(record):
        name = _name_of(term)
        if name == "all":
            break
        if name == "redirect" and "=" in term:
            redirect = term.split("=", 1)[1]
            continue
        if name not in LOOKUP_TERMS:
            continue
        result.count += 1
        result.ptr = result.ptr or name == "ptr"
        if name == "include" and ":" in term:
            _follow(term.split(":", 1)[1], data, result, _seen)
    if redirect and not has_all:
        result.count += 1
        _follow(redirect, data, result, _seen)
    return result


def _follow(target: str, data: DnsData, result: LookupCount, seen: frozenset[str]) -> None:
    if "%" in target:
        return
    target = target.rstrip(".").lower()
    if target in seen:
        return
    rrset = data.get(target, "TXT")
    if rrset.status == "unknown":
        result.unchecked.append(target)
        return
    records = [t for t in rrset.texts if is_spf(t)]
    if len(records) != 1:
        result.void.append(target)
        return
    inner = count_lookups(records[0], data, _seen=seen | {target})
    result.count += inner.count
    result.void += inner.void
    result.unchecked += inner.unchecked
    result.ptr = result.ptr or inner.ptr


def evaluate(record: str, ip: str, domain: str, helo: str, data: DnsData) -> str:
    """pyspf's verdict for ``record`` and a sender at ``ip`` (``pass``, ``softfail``, ...)."""
    with bound_dns(data):
        q = spf.query(
            i=ip, s=f"postmaster@{domain}", h=helo, timeout=SPF_TIMEOUT_S, querytime=SPF_TIMEOUT_S
        )
        result, _code, _text = q.check(spf=record)
    return str(result)


@dataclass(frozen=True)
class SpfProposal:
    """What to publish at the apex: ``record`` None means keep, or blocked (see notices)."""

    record: str | None
    replaces: tuple[str, ...]  # the published texts the new record replaces
    notices: tuple[Notice, ...]
    keep: str | None = None  # the published record that already does the job


def propose(
    txt_strings: tuple[tuple[str, ...], ...],
    domain: str,
    ipv4: str,
    ipv6: str | None,
    helo: str,
    data: DnsData,
) -> SpfProposal:
    """The merged SPF record for the apex TXT set ``txt_strings`` (reference §3.2)."""
    notes: list[Notice] = []
    valid = ["".join(s) for s in txt_strings if is_spf("".join(s))]
    broken = [(s, fix) for s in txt_strings if (fix := repaired(s)) is not None]
    if len(valid) + len(broken) > 1:
        notes.append(
            Notice(
                "spf_multiple",
                "block",
                "spf",
                {"count": len(valid) + len(broken), "records": " | ".join(valid)},
            )
        )
        return SpfProposal(None, (), tuple(notes))
    addresses = [ipv4] + ([ipv6] if ipv6 else [])
    if not valid and not broken:
        new = "v=spf1 " + " ".join(_ip_term(ip) for ip in addresses) + " ~all"
        notes.append(Notice("spf_new_softfail", "info", "spf"))
        return _proven(new, (), domain, addresses, helo, data, notes)

    if broken:
        strings, (problem, base) = broken[0]
        current = "".join(strings)
        notes.append(Notice(problem, "warning", "spf", {"record": current}))
    else:
        current = base = valid[0]

    qualifier = all_term(base)
    if qualifier and qualifier.lstrip("+").lower() in ("all", "?all"):
        notes.append(Notice("spf_permissive_all", "warning", "spf", {"term": qualifier}))
    missing = []
    for ip in addresses:
        verdict = _safe_evaluate(base, ip, domain, helo, data)
        if verdict != "pass":
            missing.append(ip)
    counted = count_lookups(base, data)
    notes += _lookup_notices(counted)
    if not missing and not broken:
        notes.append(Notice("spf_already_authorised", "info", "spf", {"ip": ", ".join(addresses)}))
        return SpfProposal(None, (current,), tuple(notes), keep=current)
    body = terms(base)
    new = " ".join(["v=spf1", *(_ip_term(ip) for ip in missing), *body])
    if len(new.encode()) > LONG_RECORD:
        notes.append(Notice("spf_long", "warning", "spf", {"length": len(new.encode())}))
    return _proven(new, (current,), domain, addresses, helo, data, notes)


def _ip_term(ip: str) -> str:
    return f"ip{ipaddress.ip_address(ip).version}:{ip}"


def _safe_evaluate(record: str, ip: str, domain: str, helo: str, data: DnsData) -> str:
    try:
        return evaluate(record, ip, domain, helo, data)
    except (spf.TempError, spf.PermError) as exc:
        return f"error: {exc}"


def _lookup_notices(counted: LookupCount) -> list[Notice]:
    notes: list[Notice] = []
    if counted.count > MAX_LOOKUPS:
        notes.append(
            Notice(
                "spf_too_many_lookups",
                "warning",
                "spf",
                {"count": counted.count, "limit": MAX_LOOKUPS},
            )
        )
    elif counted.count >= NEAR_LIMIT:
        notes.append(
            Notice(
                "spf_lookups_near_limit",
                "info",
                "spf",
                {"count": counted.count, "limit": MAX_LOOKUPS},
            )
        )
    for target in counted.void:
        notes.append(Notice("spf_include_void", "warning", "spf", {"target": target}))
    if counted.unchecked:
        notes.append(
            Notice(
                "spf_include_unchecked", "warning", "spf", {"targets": ", ".join(counted.unchecked)}
            )
        )
    if counted.ptr:
        notes.append(Notice("spf_ptr", "info", "spf"))
    return notes


def _proven(
    record: str,
    replaces: tuple[str, ...],
    domain: str,
    addresses: list[str],
    helo: str,
    data: DnsData,
    notes: list[Notice],
) -> SpfProposal:
    """Show ``record`` only if pyspf says it passes for every address of the new server."""
    for ip in addresses:
        verdict = _safe_evaluate(record, ip, domain, helo, data)
        if verdict != "pass":
            notes.append(Notice("spf_unproven", "block", "spf", {"ip": ip, "result": verdict}))
            return SpfProposal(None, replaces, tuple(notes))
    return SpfProposal(record, replaces, tuple(notes))
