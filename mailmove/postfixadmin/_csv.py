"""PostfixAdmin's ``list.php?output=csv`` read into typed rows.

The CSV starts with a UTF-8 BOM and an empty line; its header labels are localized
and its columns depend on the admin's role and on ``$CONF`` (quota, ...), so rows are
read by (English, lang=en) header name and optional columns stay optional.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Final

from mailmove.postfixadmin._errors import ProtocolError
from mailmove.postfixadmin._model import LiveAlias, LiveMailbox
from mailmove.postfixadmin._types import DomainInfo

__all__ = ["parse_aliases", "parse_domains", "parse_mailboxes", "read_rows"]

_QUOTA_RE: Final = re.compile(r"^\s*(-?[\d.]+)\s*/\s*(\S+)\s*$")
_LEADING_INT_RE: Final = re.compile(r"^\s*(-?\d+)")
KEEP_COPY_COLUMN: Final = "Deliver to the local mailbox."

Row = Mapping[str, str | None]


def read_rows(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8-sig", errors="replace").lstrip("\r\n")
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def parse_domains(rows: list[dict[str, str]]) -> list[DomainInfo]:
    domains: list[DomainInfo] = []
    for row in rows:
        name = column(row, "Domain").strip().lower()
        if not name or name == "all":  # 'ALL' is the superadmin pseudo-domain
            continue
        alias_count, alias_limit = parse_count_limit(column(row, "Aliases"))
        mailbox_count, mailbox_limit = parse_count_limit(column(row, "Mailboxes"))
        max_quota = row.get("Mailbox Quota (MB)")
        used_mb, domain_quota = _parse_used_limit(row.get("Domain Quota"))
        domains.append(
            DomainInfo(
                name=name,
                description=row.get("Description"),
                alias_count=alias_count,
                alias_limit=alias_limit,
                mailbox_count=mailbox_count,
                mailbox_limit=mailbox_limit,
                backup_mx=parse_bool(row.get("Mail server is backup MX", "0")),
                active=parse_bool(column(row, "Active")),
                max_quota_mb=parse_int(max_quota) if max_quota is not None else None,
                domain_quota_used_mb=used_mb,
                domain_quota_mb=domain_quota,
            )
        )
    return domains


def parse_mailboxes(rows: list[dict[str, str]]) -> list[LiveMailbox]:
    return [
        LiveMailbox(
            address=column(row, "Username").strip().lower(),
            name=row.get("Name") or "",
            quota_mb=_leading_int(row.get("Quota")),
            active=parse_bool(column(row, "Active")),
        )
        for row in rows
        if (row.get("Username") or "").strip()
    ]


def parse_aliases(rows: list[dict[str, str]]) -> list[LiveAlias]:
    """Aliases that are not a mailbox's own alias (PFA leaves all of those out)."""
    return [
        LiveAlias(
            address=column(row, "Alias").strip().lower(),
            targets=split_targets(column(row, "To")),
            active=parse_bool(column(row, "Active")),
            is_mailbox=False,
            keep_copy=parse_bool(row.get(KEEP_COPY_COLUMN, "0")),
        )
        for row in rows
        if (row.get("Alias") or "").strip()
    ]


def split_targets(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in re.split(r"[,\r\n]+", text) if t.strip())


def column(row: Row, name: str) -> str:
    value = row.get(name)
    if value is None:
        raise ProtocolError(f"PostfixAdmin's CSV has no column {name!r} (was lang=en ignored?)")
    return value


def parse_count_limit(text: str) -> tuple[int, int]:
    """Split PFA's "count / limit" cell; "∞" means 0 (unlimited), "-" means -1 (disabled)."""
    used, limit = _split_used_limit(text)
    return parse_int(used), limit


def _parse_used_limit(text: str | None) -> tuple[float | None, int | None]:
    """Parse the "50.0 / 2048" domain quota cell (MB used / MB allowed) if present."""
    if text is None:
        return None, None
    used, limit = _split_used_limit(text)
    try:
        return float(used), limit
    except ValueError:
        raise ProtocolError(f"unexpected quota cell {text!r} in PostfixAdmin's CSV") from None


def _split_used_limit(text: str) -> tuple[str, int]:
    match = _QUOTA_RE.match(text)
    if match is None:
        raise ProtocolError(f"unexpected count/limit cell {text!r} in PostfixAdmin's CSV")
    used, limit = match.groups()
    if limit == "∞":
        return used, 0
    if limit == "-":
        return used, -1
    return used, parse_int(limit)


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ProtocolError(f"expected a number in PostfixAdmin's CSV, got {text!r}") from None


def _leading_int(text: str | None) -> int | None:
    match = _LEADING_INT_RE.match(text or "")
    return int(match.group(1)) if match else None


def parse_bool(text: str | None) -> bool:
    return (text or "").strip() in ("1", "t", "true", "YES")
