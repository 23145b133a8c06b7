"""Does one vantage point's answer do the job? Compared by meaning, never as strings.

Reference sheet §1 rule 2 and §11 #1: an exact-string check turns a richer SPF, a DKIM record
with extra tags or a re-ordered DMARC into a false red. So: SPF passes if pyspf, fed with this
vantage point's own answers (includes and all), authorises every address of the new server;
DKIM matches on the decoded ``p=`` key; DMARC on its parsed tags; the MX on the addresses its
hosts resolve to. The rules themselves (what is SPF, how a key decodes, which DMARC policy)
are the records generator's, imported from :mod:`mailmove.records`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mailmove.config import Server
from mailmove.lookup import Answer, absolute
from mailmove.propagation._fetch import DEMOTED
from mailmove.propagation._model import Expectation, Kind, Verdict
from mailmove.records import RRset
from mailmove.records import _dmarc as dmarc_rules
from mailmove.records import _spf as spf_rules
from mailmove.records._dkim import DkimKey, decoded_key, same_key, tags
from mailmove.records._model import LOW_TTL, DnsData
from mailmove.records._mx import is_ip_literal, parse_mx
from mailmove.records._txt import full_name, mx_value

POLICIES = ("none", "quarantine", "reject")


class VantageData(DnsData, Protocol):
    """A vantage point's answers: as RRsets (for the rules) and raw (TTL, time asked)."""

    def answer(self, name: str, rdtype: str) -> Answer | None: ...

    def is_guarded(self, name: str, rdtype: str) -> bool: ...


@dataclass(frozen=True)
class Context:
    """What every comparison needs besides the answers."""

    domain: str  # absolute
    server: Server
    helo: str
    dkim_key: DkimKey | None
    kind: Kind
    reference: DnsData | None = None  # the authoritative view, for comparing caches with it


def compare(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    """The verdict of one vantage point for one expected record."""
    return _BY_PURPOSE[exp.purpose](exp, data, ctx)


# -- reading one answer -------------------------------------------------------------------


def _read(exp: Expectation, data: VantageData) -> tuple[RRset, Answer | None, Verdict | None]:
    """(RRset, answer, early verdict): the early verdict is set when nothing can be compared."""
    name, rdtype = exp.name, exp.rdtype
    rrset = data.get(name, rdtype)
    answer = data.answer(name, rdtype)
    if data.is_guarded(name, rdtype):
        return rrset, answer, Verdict("guarded", "guarded", {"name": full_name(name)})
    if rrset.status == "unknown":
        status = answer.status if answer is not None else "error"
        code = status if status in ("timeout", "servfail", "refused") else "error"
        if answer is not None and answer.detail == DEMOTED:
            code = "demoted"  # did not answer a moment ago: not asked again yet
        detail = (answer.detail or answer.rcode or status) if answer is not None else rrset.detail
        return rrset, answer, _verdict("unknown", code, answer, {"detail": detail or status})
    return rrset, answer, None


def _verdict(
    status: str,
    code: str,
    answer: Answer | None,
    params: Mapping[str, str | int] | None = None,
    values: tuple[str, ...] = (),
) -> Verdict:
    ttl: int | None = None
    if answer is not None:
        ttl = answer.ttl if answer.status == "ok" else answer.negative_ttl
    return Verdict(
        status,  # type: ignore[arg-type]
        code,
        dict(params or {}),
        values,
        ttl,
        answer.queried_at if answer is not None else 0.0,
    )


def _shown(rrset: RRset) -> tuple[str, ...]:
    if rrset.rdtype == "TXT":
        return rrset.texts
    if rrset.rdtype == "MX":
        return tuple(mx_value(p, t) for p, t in parse_mx(rrset.values))
    return tuple(v.rstrip(".") if rrset.rdtype == "CNAME" else v for v in rrset.values)


def _missing(
    exp: Expectation, answer: Answer | None, code: str, data: VantageData, ctx: Context
) -> Verdict:
    params = {"name": full_name(exp.name), "host": exp.host, "wanted": exp.wanted}
    if ctx.kind == "authoritative" and exp.name != ctx.domain:
        # Registrar screens append the domain to the host box: "_dmarc.example.jp" typed
        # there becomes _dmarc.example.jp.example.jp (reference sheet §8, §11 #7).
        doubled = absolute(exp.name + ctx.domain)
        if data.get(doubled, exp.rdtype).exists:
            shown = {**params, "doubled": full_name(doubled)}
            return _verdict("missing", "doubled_name", answer, shown)
    return _verdict("missing", code, answer, params)


# -- per purpose ---------------------------------------------------------------------------


def _ttl(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = _shown(rrset)
    if rrset.status != "ok" or rrset.ttl is None:
        return _verdict("match", "ttl_gone", answer, {"name": full_name(exp.name)})
    params = {"ttl": rrset.ttl, "wanted": LOW_TTL, "value": exp.wanted, "name": full_name(exp.name)}
    if rrset.ttl <= LOW_TTL:
        return _verdict("match", "ttl_ok", answer, params, values)
    code = "ttl_high" if ctx.kind == "authoritative" else "ttl_cached_long"
    return _verdict("mismatch", code, answer, params, values)


def _spf(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = tuple(t for t in rrset.texts if spf_rules.is_spf(t) or "spf1" in t.lower())
    wanted = {"wanted": exp.wanted or "-"}
    valid = [t for t in rrset.texts if spf_rules.is_spf(t)]
    broken = [fix for s in rrset.strings if (fix := spf_rules.repaired(s)) is not None]
    if len(valid) + len(broken) > 1:
        return _verdict(
            "invalid", "spf_multiple", answer, {"count": len(valid) + len(broken), **wanted}, values
        )
    if broken:
        return _verdict("invalid", broken[0][0], answer, wanted, values)
    if not valid:
        return _verdict("missing", "spf_missing", answer, wanted, values)
    record = valid[0]
    counted = spf_rules.count_lookups(record, data)
    if counted.count > spf_rules.MAX_LOOKUPS:
        params = {"count": counted.count, "limit": spf_rules.MAX_LOOKUPS, **wanted}
        return _verdict("invalid", "spf_too_many_lookups", answer, params, values)
    addresses = [ctx.server.ipv4] + ([ctx.server.ipv6] if ctx.server.ipv6 else [])
    for ip in addresses:
        result = spf_rules._safe_evaluate(record, ip, full_name(ctx.domain), ctx.helo, data)
        if result in ("temperror",) or result.startswith("error:"):
            return _verdict("unknown", "spf_unchecked", answer, {"detail": result}, values)
        if result != "pass":
            params = {"ip": ip, "result": result, **wanted}
            status = "invalid" if result == "permerror" else "mismatch"
            return _verdict(status, "spf_not_authorised", answer, params, values)
    return _verdict("match", "spf_ok", answer, {"ip": ", ".join(addresses)}, values)


def _dkim(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = rrset.texts
    params = {"name": full_name(exp.name), "host": exp.host, "wanted": exp.wanted}
    if not values:
        return _missing(exp, answer, "dkim_missing", data, ctx)
    if len(values) > 1:
        return _verdict(
            "invalid", "dkim_multiple", answer, {**params, "count": len(values)}, values
        )
    text = values[0]
    if tags(text).get("p", None) == "":
        return _verdict("invalid", "dkim_revoked", answer, params, values)
    if decoded_key(text) is None:
        return _verdict("invalid", "dkim_bad_key", answer, params, values)
    if ctx.dkim_key is None or not same_key(text, ctx.dkim_key):
        return _verdict("mismatch", "dkim_other_key", answer, params, values)
    return _verdict("match", "dkim_ok", answer, {"name": full_name(exp.name)}, values)


def _dmarc(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = rrset.texts
    params: dict[str, str | int] = {"wanted": exp.wanted}
    records = [t for t in values if dmarc_rules.is_dmarc(t)]
    if not records:
        if any("v=dmarc1" in t.lower().replace(" ", "") for t in values):
            return _verdict("invalid", "dmarc_not_first", answer, params, values)
        return _missing(exp, answer, "dmarc_missing", data, ctx)
    if len(records) > 1:
        return _verdict(
            "invalid", "dmarc_multiple", answer, {**params, "count": len(records)}, values
        )
    record = records[0]
    policy = dmarc_rules.policy(record)
    if policy not in POLICIES:
        return _verdict("invalid", "dmarc_no_policy", answer, params, values)
    if ctx.kind == "public" and ctx.reference is not None:
        published = [t for t in ctx.reference.get(exp.name, "TXT").texts if dmarc_rules.is_dmarc(t)]
        if len(published) == 1 and _dmarc_tags(published[0]) != _dmarc_tags(record):
            return _verdict("mismatch", "dmarc_old", answer, {"policy": policy}, values)
    return _verdict("match", "dmarc_ok", answer, {"policy": policy}, values)


def _dmarc_tags(text: str) -> dict[str, str]:
    return {k: v.lower() for k, v in tags(text).items()}


def _mx(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = _shown(rrset)
    wanted = {"wanted": exp.wanted or "-"}
    if rrset.status != "ok" or not rrset.values:
        return _verdict("missing", "mx_missing", answer, wanted, values)
    entries = parse_mx(rrset.values)
    for _preference, target in entries:
        if target == ".":
            return _verdict("invalid", "mx_null", answer, wanted, values)
        if is_ip_literal(target, ctx.domain):
            return _verdict(
                "invalid", "mx_ip_literal", answer, {"target": full_name(target), **wanted}, values
            )
    for _preference, target in entries:
        found = _host_addresses(target, data, ctx)
        if found is not None:
            # A cache refetches the host's address on its own clock: count down that one.
            host_answer = data.answer(target, "A") or answer
            params = {**found.params, **wanted}
            return _verdict(found.status, found.code, host_answer, params, values)
    return _verdict("match", "mx_ok", answer, {"ip": ctx.server.ipv4}, values)


def _host_addresses(target: str, data: VantageData, ctx: Context) -> Verdict | None:
    """None when ``target`` resolves to the new server only; otherwise why not."""
    target = absolute(target)
    shown = {"target": full_name(target), "ip": ctx.server.ipv4}
    a = data.get(target, "A")
    aaaa = data.get(target, "AAAA")
    for rdtype, rrset in (("A", a), ("AAAA", aaaa)):
        if data.is_guarded(target, rdtype) and rdtype == "A":
            return Verdict("guarded", "guarded", {"name": full_name(target)})
        if rrset.status == "unknown":
            return Verdict("unknown", "mx_target_unchecked", {**shown, "detail": rrset.detail})
    if a.cnames or aaaa.cnames:
        alias = full_name((a.cnames or aaaa.cnames)[0])
        return Verdict("invalid", "mx_alias", {**shown, "alias": alias})
    if not a.values and not aaaa.values:
        return Verdict("missing", "mx_target_unresolved", shown)
    allowed_v6 = {ctx.server.ipv6} if ctx.server.ipv6 else set()
    if set(a.values) != {ctx.server.ipv4} or not set(aaaa.values) <= allowed_v6:
        addresses = ", ".join([*a.values, *aaaa.values])
        return Verdict("mismatch", "mx_wrong_address", {**shown, "addresses": addresses})
    return None


def _mx_host(exp: Expectation, data: VantageData, ctx: Context) -> Verdict:
    rrset, answer, early = _read(exp, data)
    if early is not None:
        return early
    values = _shown(rrset)
    params = {"name": full_name(exp.name), "host": exp.host, "wanted": exp.wanted or "-"}
    if rrset.cnames:
        alias = {"alias": full_name(rrset.cnames[0])}
        return _verdict("invalid", "host_alias", answer, {**params, **alias}, values)
    if exp.absent:
        if rrset.values:
            return _verdict(
                "mismatch", "host_extra", answer, {**params, "current": ", ".join(values)}, values
            )
        return _verdict("match", "host_absent_ok", answer, params, values)
    if not rrset.values:
        return _missing(exp, answer, "host_missing", data, ctx)
    if set(rrset.values) != {exp.wanted}:
        return _verdict(
            "mismatch", "host_wrong", answer, {**params, "current": ", ".join(values)}, values
        )
    return _verdict("match", "host_ok", answer, params, values)


_BY_PURPOSE: dict[str, Callable[[Expectation, VantageData, Context], Verdict]] = {
    "ttl": _ttl,
    "spf": _spf,
    "dkim": _dkim,
    "dmarc": _dmarc,
    "mx": _mx,
    "mx-host": _mx_host,
}
