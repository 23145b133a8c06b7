"""MX: where mail for the domain goes, the MX host's address, and the TTL plan around them.

Two ways, per server (``servers[].mx.strategy``): ``keep-host`` keeps the customer's MX host
name (``mail.example.jp``) and moves its A/AAAA record to the new server (the FAQ's way);
``server-host`` points the MX at the server's own host name. Either way, after the switch no
other MX may remain (a leftover backup MX keeps delivering to the old host), a null MX
(``0 .``) must go, and the MX target must be a host name with an address record, never an IP
literal or an alias (RFC 5321 §5.1, RFC 2181 §10.3, RFC 7505; reference §2).

Timing (reference §6): lowering a TTL only helps if done at least one old TTL before the
change, so step 1 lowers the MX and MX-host TTLs to 300 s now and the switch is not before
now + the TTL published today (for a name that does not exist yet: its negative TTL).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from mailmove.config import Server
from mailmove.lookup import absolute, is_subdomain
from mailmove.records._model import LOW_TTL, DnsData, Notice, Record, RRset
from mailmove.records._txt import full_name, host_label, mx_value

Kind = Literal["null", "ip", "cname", "host"]


@dataclass(frozen=True)
class MxEntry:
    """One MX record as published, classified."""

    preference: int
    target: str  # absolute, lower case; "." for a null MX
    kind: Kind
    addresses: tuple[str, ...] = ()  # A and AAAA of the target (through an alias)
    alias: str = ""  # the CNAME target, for kind "cname"

    @property
    def value(self) -> str:
        return mx_value(self.preference, self.target)


def parse_mx(values: tuple[str, ...]) -> list[tuple[int, str]]:
    """``("10 mail.example.jp.",)`` -> ``[(10, "mail.example.jp.")]``."""
    out = []
    for value in values:
        preference, _, target = value.partition(" ")
        out.append((int(preference), target.strip().lower() or "."))
    return out


def is_ip_literal(target: str, domain: str) -> bool:
    """An IP typed into an MX box: ``192.0.2.25.`` or, made relative by the screen,
    ``192.0.2.25.example.jp.`` (RFC 1035 §3.3.9: the target is a name)."""
    text = target.rstrip(".")
    zone = domain.rstrip(".").lower()
    if text.endswith("." + zone):
        text = text[: -len(zone) - 1]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        labels = text.split(".")
        return len(labels) >= 4 and all(p.isdigit() and int(p) < 256 for p in labels[:4])
    return True


def classify(preference: int, target: str, domain: str, data: DnsData) -> MxEntry:
    if target == ".":
        return MxEntry(preference, ".", "null")
    if is_ip_literal(target, domain):
        return MxEntry(preference, target, "ip")
    a, aaaa = data.get(target, "A"), data.get(target, "AAAA")
    addresses = a.values + aaaa.values
    alias = a.cnames[0] if a.cnames else (aaaa.cnames[0] if aaaa.cnames else "")
    return MxEntry(preference, target, "cname" if alias else "host", addresses, alias)


@dataclass
class MxPlan:
    records: list[Record] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)  # TTLs that decide the earliest switch


def plan_mx(domain: str, server: Server, data: DnsData) -> MxPlan:
    """The TTL step (1) and the MX step (3) for ``domain``."""
    plan = MxPlan()
    zone = absolute(domain)
    mx = data.get(zone, "MX")
    if mx.status == "unknown":
        return plan  # reported as "couldn't check" by the caller
    entries = [classify(p, t, zone, data) for p, t in parse_mx(mx.values)]
    for e in entries:
        if e.kind == "null":
            plan.notices.append(Notice("mx_null", "warning", "mx"))
        elif e.kind == "ip":
            plan.notices.append(
                Notice("mx_ip_literal", "warning", "mx", {"target": full_name(e.target)})
            )
        elif e.kind == "cname":
            plan.notices.append(
                Notice(
                    "mx_cname",
                    "warning",
                    "mx",
                    {"target": full_name(e.target), "alias": full_name(e.alias)},
                )
            )
    if not entries:
        plan.notices.append(Notice("mx_none", "info", "mx"))
    usable = sorted(
        (e for e in entries if e.kind in ("host", "cname")), key=lambda e: (e.preference, e.target)
    )
    primary = usable[0] if usable else None
    old_addresses = set(primary.addresses) if primary else set()

    new_host, keep = _choose_host(zone, server, usable, plan)
    kept = next((e for e in entries if e.target == new_host), None)
    replaced = None
    if kept is None:
        replaced = primary or next((e for e in entries if e.kind != "null"), None)
    basis = kept or replaced
    preference = basis.preference if basis is not None else 10
    new_value = mx_value(preference, new_host)

    # Step 1: lower the TTLs of what the switch changes.
    if mx.exists:
        plan.records += _ttl_records(zone, "MX", tuple(e.value for e in entries), mx)
        plan.waits.append(mx.ttl or 0)
    else:
        plan.waits.append(mx.negative_ttl or 0)

    # Step 3: the MX records.
    if kept is not None:
        plan.records.append(_mx_record(zone, kept.value, "keep", (kept.value,), mx.ttl))
    elif replaced is not None:
        plan.records.append(_mx_record(zone, new_value, "change", (replaced.value,), mx.ttl))
    else:
        plan.records.append(_mx_record(zone, new_value, "add", (), None))
    for e in entries:
        if e is kept or e is replaced:
            continue
        plan.records.append(_mx_record(zone, e.value, "delete", (e.value,), mx.ttl))
        if e.kind in ("host", "cname"):
            old = e.target == (primary.target if primary else None) or bool(
                old_addresses & set(e.addresses)
            )
            code = "mx_other_old_host" if old else "mx_other"
            plan.notices.append(Notice(code, "warning", "mx", {"target": full_name(e.target)}))

    if keep:
        _host_records(zone, new_host, server, data, plan)
    plan.notices.append(Notice("mx_after_addresses", "warning", "mx"))
    return plan


def _choose_host(
    zone: str, server: Server, usable: list[MxEntry], plan: MxPlan
) -> tuple[str, bool]:
    """The MX target after the switch, and whether its A record is ours to set (keep-host)."""
    if server.mx.strategy == "server-host":
        return absolute(server.mx.host), False
    inside = [e for e in usable if is_subdomain(e.target, zone) and e.target != zone]
    if inside:
        return inside[0].target, True
    if usable:
        host = usable[0].target
        code = "mx_host_apex" if host == zone else "mx_host_outside"
        plan.notices.append(Notice(code, "info", "mx", {"host": full_name(host)}))
    if server.mx.host:
        host = absolute(server.mx.host)
        plan.notices.append(
            Notice("mx_fallback_server_host", "info", "mx", {"host": full_name(host)})
        )
        return host, False
    host = absolute("mail." + zone)
    plan.notices.append(Notice("mx_fallback_new_host", "info", "mx", {"host": full_name(host)}))
    return host, True


def _host_records(zone: str, host: str, server: Server, data: DnsData, plan: MxPlan) -> None:
    """keep-host: the MX host's own A (and AAAA) move to the new server."""
    label = host_label(host, zone)
    a, aaaa = data.get(host, "A"), data.get(host, "AAAA")
    if a.cnames or aaaa.cnames:
        cname = data.get(host, "CNAME")
        target = cname.values[0] if cname.values else (a.cnames or aaaa.cnames)[0]
        ttl = cname.ttl if cname.ttl is not None else a.ttl
        plan.records.append(_ttl_record(zone, label, host, "CNAME", target, ttl))
        plan.waits.append(ttl or 0)
        plan.records.append(_host_record(zone, host, "CNAME", target, "delete", (target,), ttl))
        a = RRset(host, "A", "nxdomain")
        aaaa = RRset(host, "AAAA", "nxdomain")
    wanted = {"A": server.ipv4, "AAAA": server.ipv6}
    for rrset in (a, aaaa):
        want = wanted[rrset.rdtype]
        if rrset.status == "unknown":
            continue  # reported as "couldn't check" by the caller
        if rrset.exists:
            plan.records += _ttl_records(zone, rrset.rdtype, rrset.values, rrset, name=host)
            plan.waits.append(rrset.ttl or 0)
        elif want:
            plan.waits.append(rrset.negative_ttl or 0)
        if want is None:
            for value in rrset.values:
                plan.records.append(
                    _host_record(zone, host, rrset.rdtype, value, "delete", (value,), rrset.ttl)
                )
                plan.notices.append(
                    Notice(
                        "mx_aaaa_delete",
                        "warning",
                        "mx-host",
                        {"host": full_name(host), "address": value},
                    )
                )
            continue
        if rrset.values == (want,):
            action = "keep"
        elif rrset.values:
            action = "change"
        else:
            action = "add"
        plan.records.append(
            _host_record(zone, host, rrset.rdtype, want, action, rrset.values, rrset.ttl)
        )


def _ttl_records(
    zone: str, rdtype: str, values: tuple[str, ...], rrset: RRset, *, name: str | None = None
) -> list[Record]:
    owner = name or zone
    label = host_label(owner, zone)
    return [_ttl_record(zone, label, owner, rdtype, v, rrset.ttl) for v in values]


def _ttl_record(
    zone: str, label: str, owner: str, rdtype: str, value: str, ttl: int | None
) -> Record:
    current_ttl = ttl if ttl is not None else LOW_TTL
    shown = _shown(rdtype, value)
    return Record(
        step=1,
        purpose="ttl",
        host=label,
        name=full_name(owner),
        type=rdtype,
        value=shown,
        strings=(),
        ttl=min(current_ttl, LOW_TTL),
        action="change" if current_ttl > LOW_TTL else "keep",
        current=(shown,),
        current_ttl=current_ttl,
    )


def _shown(rdtype: str, value: str) -> str:
    if rdtype == "MX":
        preference, _, target = value.partition(" ")
        return mx_value(int(preference), target)
    if rdtype == "CNAME":
        return full_name(value)
    return value


def _mx_record(
    zone: str, value: str, action: str, current: tuple[str, ...], current_ttl: int | None
) -> Record:
    return Record(
        step=3,
        purpose="mx",
        host="@",
        name=full_name(zone),
        type="MX",
        value=value,
        strings=(),
        ttl=LOW_TTL if action != "keep" or current_ttl is None else min(current_ttl, LOW_TTL),
        action=action,  # type: ignore[arg-type]
        current=current,
        current_ttl=current_ttl,
    )


def _host_record(
    zone: str,
    host: str,
    rdtype: str,
    value: str,
    action: str,
    current: tuple[str, ...],
    current_ttl: int | None,
) -> Record:
    return Record(
        step=3,
        purpose="mx-host",
        host=host_label(host, zone),
        name=full_name(host),
        type=rdtype,
        value=_shown(rdtype, value),
        strings=(),
        ttl=LOW_TTL,
        action=action,  # type: ignore[arg-type]
        current=tuple(_shown(rdtype, v) for v in current),
        current_ttl=current_ttl,
    )
