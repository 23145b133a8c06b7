"""The records to watch, taken from the records generator (issue #5), never recomputed here.

The generator already knows what the customer must set (merged SPF, DKIM key, DMARC, the MX
and its host's address, the TTLs of step 1); the check only turns each of its records into
an :class:`Expectation` with the value to show when it is wrong. Without a plan (no
authoritative server answered) the rows still exist, so they can be shown as "couldn't check".
"""

from __future__ import annotations

from mailmove.config import Server
from mailmove.lookup import absolute
from mailmove.propagation._model import Expectation
from mailmove.records import RecordPlan, host_label
from mailmove.records import _dmarc as dmarc_rules
from mailmove.records._dkim import DkimKey


def expectations(
    plan: RecordPlan | None, domain: str, server: Server, dkim_key: DkimKey | None
) -> tuple[Expectation, ...]:
    """One row per record to watch, in the order of the records page (steps 1, 2, 3)."""
    zone = absolute(domain)
    records = plan.records if plan is not None else ()
    rows: list[Expectation] = []

    def add(row: Expectation) -> None:
        if row.key not in {r.key for r in rows}:
            rows.append(row)

    for r in records:
        if r.purpose == "ttl":
            add(Expectation("ttl", absolute(r.name), r.type, r.host, r.value))

    spf = next((r.value for r in records if r.purpose == "spf"), "")
    add(Expectation("spf", zone, "TXT", "@", spf))
    if dkim_key is not None:
        name = absolute(f"{dkim_key.selector}._domainkey.{zone}")
        add(Expectation("dkim", name, "TXT", host_label(name, zone), dkim_key.txt))
    dmarc = next((r.value for r in records if r.purpose == "dmarc"), None)
    if dmarc is None:
        dmarc = dmarc_rules.new_record(f"postmaster@{zone.rstrip('.')}")
    add(Expectation("dmarc", absolute(f"_dmarc.{zone}"), "TXT", "_dmarc", dmarc))
    mx = ", ".join(r.value for r in records if r.purpose == "mx" and r.action != "delete")
    add(Expectation("mx", zone, "MX", "@", mx))

    for r in records:
        if r.purpose != "mx-host":
            continue
        name = absolute(r.name)
        for rdtype in ("A",) if r.type in ("A", "CNAME") else ("AAAA",):
            want = server.ipv4 if rdtype == "A" else (server.ipv6 or "")
            add(Expectation("mx-host", name, rdtype, r.host, want, absent=not want))
    return tuple(rows)
