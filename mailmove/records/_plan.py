"""From the records a domain publishes today to the records the customer must set.

Pure given a :class:`DnsData` (live DNS or a fake) and the server's settings: the order of
the steps, which record to add, change, delete or keep, and why (as notice codes).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailmove.config import Server
from mailmove.errors import MailmoveError
from mailmove.lookup import DnsUnavailable, absolute
from mailmove.records import _dmarc, _spf
from mailmove.records._dkim import DkimKey, key_bits, same_key, tags
from mailmove.records._model import (
    NEW_TTL,
    DnsData,
    Notice,
    Record,
    RecordPlan,
    RRset,
)
from mailmove.records._mx import plan_mx
from mailmove.records._txt import full_name, host_label, split_txt

TWO_DAYS_FROM_S = 86_400  # a TTL of a day or more: give the customer two days' notice
_MAILBOX = re.compile(r"^[^@\s;,!]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z0-9-]+$")


class RecordsInputError(MailmoveError):
    """A parameter of the computation is unusable (e.g. a malformed report address)."""


class _Watch:
    """Wraps a :class:`DnsData` to remember every RRset the computation looked at."""

    def __init__(self, data: DnsData) -> None:
        self.data = data
        self.seen: dict[tuple[str, str], RRset] = {}

    def get(self, name: str, rdtype: str) -> RRset:
        rrset = self.data.get(name, rdtype)
        self.seen.setdefault((absolute(name), rdtype.upper()), rrset)
        return rrset


def compute_records(
    data: DnsData,
    domain: str,
    server: Server,
    *,
    dkim_key: DkimKey | None,
    now: datetime,
    timezone: str = "Asia/Tokyo",
    rua: str | None = None,
) -> RecordPlan:
    """The records for ``domain`` on ``server``, in FAQ order, with notices and timing.

    ``rua`` is where DMARC reports go when the domain has no DMARC record yet (default
    ``postmaster@<domain>``). ``now`` is injectable so tests pin the clock. Raises
    :class:`DnsUnavailable` when no authoritative server answered for the domain at all.
    """
    zone = absolute(domain)
    name = full_name(zone)
    rua = (rua or f"postmaster@{name}").strip()
    if not _MAILBOX.match(rua):
        raise RecordsInputError(f"not a mailbox address for DMARC reports: {rua!r}")
    tz = ZoneInfo(timezone)
    now = now.astimezone(tz)
    watch = _Watch(data)
    mx = watch.get(zone, "MX")
    txt = watch.get(zone, "TXT")
    if mx.status == "unknown" and txt.status == "unknown":
        raise DnsUnavailable(f"no authoritative server answered for {name} ({mx.detail})")
    if mx.status == "nxdomain":
        notice = Notice("domain_not_found", "block", None, {"domain": name})
        return RecordPlan(name, server.name, (), (notice,), now, now, 0)

    records: list[Record] = []
    notices: list[Notice] = []
    mx_plan = plan_mx(zone, server, watch)
    helo = full_name(server.mx.host or zone)

    spf_records, spf_notices, spf_unchecked = _spf_part(zone, server, txt, helo, watch)
    dkim_records, dkim_notices = _dkim_part(zone, dkim_key, watch)
    dmarc_records, dmarc_notices = _dmarc_part(zone, rua, watch)
    records += [r for r in mx_plan.records if r.step == 1]
    records += spf_records + dkim_records + dmarc_records
    records += [r for r in mx_plan.records if r.step == 3]

    wait = max(mx_plan.waits, default=0)
    switch = now + timedelta(seconds=wait)
    notices += _ttl_notices(wait, switch, records)
    notices += spf_notices + dkim_notices + dmarc_notices + mx_plan.notices
    notices += _dns_notices(watch, skip={(t, "TXT") for t in spf_unchecked})
    order = {"block": 0, "warning": 1, "info": 2}
    notices.sort(key=lambda n: order[n.severity])
    return RecordPlan(name, server.name, tuple(records), tuple(notices), switch, now, wait)


def _ttl_notices(wait: int, switch: datetime, records: list[Record]) -> list[Notice]:
    at = switch.strftime("%Y-%m-%d %H:%M %Z")
    params: dict[str, str | int] = {"ttl": wait, "hours": f"{wait / 3600:g}", "at": at}
    if wait >= TWO_DAYS_FROM_S:
        return [Notice("ttl_two_days", "warning", "ttl", params)]
    if not any(r.purpose == "ttl" and r.action == "change" for r in records):
        return [Notice("ttl_already_low", "info", "ttl", params)]
    return [Notice("ttl_wait", "info", "ttl", params)]


def _dns_notices(watch: _Watch, skip: set[tuple[str, str]]) -> list[Notice]:
    out: list[Notice] = []
    for key, rrset in watch.seen.items():
        params: dict[str, str | int] = {"name": full_name(key[0]), "type": key[1]}
        if rrset.status == "unknown" and key not in skip:
            out.append(Notice("dns_unchecked", "warning", None, {**params, "detail": rrset.detail}))
        if rrset.disagree:
            out.append(Notice("auth_disagree", "warning", None, params))
    return out


def _spf_part(
    zone: str, server: Server, txt: RRset, helo: str, data: DnsData
) -> tuple[list[Record], list[Notice], list[str]]:
    if txt.status == "unknown":
        return [], [], []
    proposal = _spf.propose(txt.strings, full_name(zone), server.ipv4, server.ipv6, helo, data)
    unchecked = [n.params["targets"] for n in proposal.notices if n.code == "spf_include_unchecked"]
    names = [absolute(t.strip()) for group in unchecked for t in str(group).split(",")]
    base = {"step": 2, "purpose": "spf", "host": "@", "name": full_name(zone), "type": "TXT"}
    if proposal.keep is not None:
        kept = next(s for s in txt.strings if "".join(s) == proposal.keep)
        rec = Record(
            **base,
            value=proposal.keep,
            strings=kept,
            ttl=txt.ttl or NEW_TTL,  # type: ignore[arg-type]
            action="keep",
            current=(proposal.keep,),
            current_ttl=txt.ttl,
        )
        return [rec], list(proposal.notices), names
    if proposal.record is None:
        return [], list(proposal.notices), names
    action = "change" if proposal.replaces else "add"
    rec = Record(
        **base,  # type: ignore[arg-type]
        value=proposal.record,
        strings=split_txt(proposal.record, at_spaces=True),
        ttl=(txt.ttl or NEW_TTL) if action == "change" else NEW_TTL,
        action=action,
        current=proposal.replaces,
        current_ttl=txt.ttl if action == "change" else None,
    )
    return [rec], list(proposal.notices), names


def _dkim_part(zone: str, key: DkimKey | None, data: DnsData) -> tuple[list[Record], list[Notice]]:
    if key is None:
        return [], [Notice("dkim_not_configured", "info", "dkim")]
    notes: list[Notice] = []
    bits = key_bits(key)
    if bits is None:
        return [], [Notice("dkim_invalid_key", "warning", "dkim", {"selector": key.selector})]
    if bits < 2048:
        notes.append(Notice("dkim_short_key", "warning", "dkim", {"bits": bits}))
    name = absolute(f"{key.selector}._domainkey.{zone}")
    current = data.get(name, "TXT")
    if current.status == "unknown":
        return [], notes
    base = {
        "step": 2,
        "purpose": "dkim",
        "host": host_label(name, zone),
        "name": full_name(name),
        "type": "TXT",
    }
    texts = current.texts
    if len(texts) == 1 and same_key(texts[0], key):
        rec = Record(
            **base,
            value=texts[0],
            strings=current.strings[0],
            ttl=current.ttl or NEW_TTL,  # type: ignore[arg-type]
            action="keep",
            current=texts,
            current_ttl=current.ttl,
        )
        return [rec], notes
    if len(texts) > 1:
        notes.append(
            Notice(
                "dkim_multiple", "warning", "dkim", {"count": len(texts), "name": full_name(name)}
            )
        )
    elif texts and tags(texts[0]).get("p", None) == "":
        notes.append(Notice("dkim_revoked", "warning", "dkim", {"selector": key.selector}))
    elif texts:
        notes.append(Notice("dkim_selector_in_use", "warning", "dkim", {"selector": key.selector}))
    if current.cnames:
        notes.append(
            Notice("dkim_cname", "warning", "dkim", {"target": full_name(current.cnames[0])})
        )
    action = "change" if texts else "add"
    rec = Record(
        **base,
        value=key.txt,
        strings=split_txt(key.txt),
        ttl=NEW_TTL,
        action=action,  # type: ignore[arg-type]
        current=texts,
        current_ttl=current.ttl,
    )
    return [rec], notes


def _dmarc_part(zone: str, rua: str, data: DnsData) -> tuple[list[Record], list[Notice]]:
    name = absolute(f"_dmarc.{zone}")
    current = data.get(name, "TXT")
    if current.status == "unknown":
        return [], []
    notes: list[Notice] = []
    domain = full_name(zone)
    records_ = [t for t in current.texts if _dmarc.is_dmarc(t)]
    unrelated = [t for t in current.texts if not _dmarc.is_dmarc(t)]
    if current.cnames:
        notes.append(
            Notice("dmarc_cname", "info", "dmarc", {"target": full_name(current.cnames[-1])})
        )
    for text in unrelated:
        notes.append(Notice("dmarc_unrelated_txt", "warning", "dmarc", {"record": text}))
    if len(records_) > 1:
        notes.append(Notice("dmarc_multiple", "block", "dmarc", {"count": len(records_)}))
        return [], notes
    base = {"step": 2, "purpose": "dmarc", "host": "_dmarc", "name": full_name(name), "type": "TXT"}
    if records_:
        text = records_[0]
        strings = next(s for s in current.strings if "".join(s) == text)
        rec = Record(
            **base,
            value=text,
            strings=strings,
            ttl=current.ttl or NEW_TTL,
            action="keep",  # type: ignore[arg-type]
            current=(text,),
            current_ttl=current.ttl,
        )
        p = _dmarc.policy(text)
        if p in ("quarantine", "reject"):
            notes.append(Notice("dmarc_enforcing", "warning", "dmarc", {"policy": p}))
        elif p is None:
            notes.append(Notice("dmarc_no_policy", "warning", "dmarc"))
        else:
            notes.append(Notice("dmarc_kept", "info", "dmarc", {"policy": p}))
        addresses = _dmarc.report_addresses(text)
    else:
        value = _dmarc.new_record(rua)
        rec = Record(**base, value=value, strings=split_txt(value), ttl=NEW_TTL, action="add")  # type: ignore[arg-type]
        notes.append(Notice("dmarc_new", "info", "dmarc", {"rua": rua}))
        addresses = [rua]
    notes += _report_authorisation(domain, addresses, data)
    return [rec], notes


def _report_authorisation(domain: str, addresses: list[str], data: DnsData) -> list[Notice]:
    """RFC 7489 §7.1: an external report address needs the destination's permission."""
    notes: list[Notice] = []
    for address in addresses:
        if not _dmarc.is_external(domain, address):
            continue
        name = _dmarc.authorisation_name(domain, address)
        answer = data.get(name, "TXT")
        params: dict[str, str | int] = {"address": address, "name": name}
        if answer.status == "unknown":
            continue  # reported as "couldn't check"
        if any(_dmarc.is_dmarc(t) for t in answer.texts):
            notes.append(Notice("dmarc_rua_authorised", "info", "dmarc", params))
        else:
            notes.append(Notice("dmarc_rua_unauthorised", "warning", "dmarc", params))
    return notes
