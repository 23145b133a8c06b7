"""The DNS records a customer must set to move their mail, computed from what they publish now.

Issue #5. Layout: ``_model`` (data), ``_spf``, ``_dkim``, ``_dmarc``, ``_mx`` (one rule set
each, reference sheet §2-§6), ``_txt`` (how values are written), ``_plan`` (the pure
computation), ``_data`` (live authoritative DNS, or a zone as text for tests), ``_render``
(JSON, zone snippet, table) and ``cli`` (``mailmove records``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dns.exception
import dns.name

from mailmove.config import Config, Server
from mailmove.lookup import AuthoritativeView, DnsUnavailable
from mailmove.records._data import LiveDns, StaticDns
from mailmove.records._dkim import ConfiguredDkimKey, DkimKey, DkimKeySource
from mailmove.records._model import (
    ACTIONS,
    PURPOSES,
    STEP_OF,
    STEPS,
    Action,
    DnsData,
    Notice,
    Purpose,
    Record,
    RecordPlan,
    RRset,
    Severity,
)
from mailmove.records._plan import RecordsInputError, compute_records
from mailmove.records._render import (
    notice_text,
    plan_json,
    record_json,
    text_table,
    zone_line,
    zone_snippet,
)
from mailmove.records._txt import host_label, quote_txt, split_txt, zone_value

__all__ = [
    "ACTIONS",
    "PURPOSES",
    "STEPS",
    "STEP_OF",
    "Action",
    "ConfiguredDkimKey",
    "DkimKey",
    "DkimKeySource",
    "DnsData",
    "DnsUnavailable",
    "LiveDns",
    "Notice",
    "Purpose",
    "RRset",
    "Record",
    "RecordPlan",
    "RecordsInputError",
    "Severity",
    "StaticDns",
    "check_domain",
    "compute_records",
    "host_label",
    "notice_text",
    "plan_json",
    "quote_txt",
    "record_json",
    "records_for",
    "split_txt",
    "text_table",
    "zone_line",
    "zone_snippet",
    "zone_value",
]

# A mail domain's labels in ASCII (IDNs arrive here as xn--...): letters, digits, hyphens.
_LDH = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_domain(domain: str) -> str:
    """A mail domain as typed -> its normal form (lower case, no trailing dot), or an error."""
    text = domain.strip().rstrip(".")
    try:
        name = dns.name.from_text(text + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError):
        raise RecordsInputError(f"not a domain name: {domain!r}") from None
    text = name.to_text().rstrip(".").lower()
    labels = text.split(".")
    if len(labels) < 2 or not all(_LDH.match(label) for label in labels):
        raise RecordsInputError(f"not a domain name: {domain!r}")
    return text


def records_for(
    config: Config,
    domain: str,
    server: Server,
    *,
    rua: str | None = None,
    now: datetime | None = None,
    dkim_source: DkimKeySource | None = None,
    data: DnsData | None = None,
) -> RecordPlan:
    """Ask the domain's authoritative servers and compute its records for ``server``.

    ``data`` replaces live DNS (tests, previews); ``dkim_source`` replaces the configured key
    (the seam for PostfixAdmin's DKIM table, which 3.3.13 does not have).
    """
    name = check_domain(domain)
    source = dkim_source or ConfiguredDkimKey(server)
    return compute_records(
        data if data is not None else LiveDns(AuthoritativeView(config.dns)),
        name,
        server,
        dkim_key=source.key_for(name),
        now=now or datetime.now(UTC),
        timezone=config.timezone,
        rua=rua,
    )
