"""When users should do what, in the customer's time zone and language.

Why a margin on top of the TTL: after the switch, resolvers may keep the old MX
for up to its TTL, and some keep it longer (the reference sheet quotes 48 h to a
week), so mail trickles into the old server for a while. A user who fetches once
more after ``fetch_after`` catches nearly all of it; keeping the old account until
``remove_after`` catches the stragglers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailmove.errors import MailmoveError
from mailmove.i18n import Lang, t

DEFAULT_TTL_S = 3600
DEFAULT_MARGIN_HOURS = 24
REMOVE_AFTER_DAYS = 3


@dataclass(frozen=True)
class Timing:
    """The three moments a user's instructions are dated by (all in the customer's zone)."""

    switch_at: datetime
    fetch_after: datetime
    remove_after: datetime
    zone: str


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MailmoveError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Tokyo)"
        ) from None


def parse_switch_at(text: str, zone_name: str) -> datetime:
    """ISO 8601 date and time; without an offset it is read in the customer's zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MailmoveError(
            f"--switch-at {text!r} is not an ISO date and time (e.g. 2026-12-01T14:00)"
        ) from None
    tz = zone(zone_name)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def compute_timing(
    switch_at: datetime,
    zone_name: str,
    *,
    ttl_s: int = DEFAULT_TTL_S,
    margin_hours: int = DEFAULT_MARGIN_HOURS,
    remove_after_days: int = REMOVE_AFTER_DAYS,
) -> Timing:
    """Fetch after switch + TTL + margin (rounded up to the hour); remove days later."""
    tz = zone(zone_name)
    if switch_at.tzinfo is None:
        switch_at = switch_at.replace(tzinfo=tz)
    switch_at = switch_at.astimezone(tz)
    raw = switch_at + timedelta(seconds=max(ttl_s, 0), hours=max(margin_hours, 0))
    fetch_after = _ceil_hour(raw)
    remove_day = (fetch_after + timedelta(days=remove_after_days)).date()
    remove_after = datetime(remove_day.year, remove_day.month, remove_day.day, tzinfo=tz)
    return Timing(switch_at, fetch_after, remove_after, zone_name)


def _ceil_hour(value: datetime) -> datetime:
    # Whole hours read better on paper ("after 15:00") and never make the time earlier.
    epoch = value.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / 3600) * 3600, tz=value.tzinfo)


def zone_label(zone_name: str, lang: Lang) -> str:
    """'Japan time' for the usual case, else the IANA name (unambiguous on paper)."""
    if zone_name == "Asia/Tokyo":
        return t("oldmail.time.zone_tokyo", lang)
    return zone_name


def format_day(value: datetime, lang: Lang) -> str:
    """'12月5日（土）' / 'Sat 5 Dec'."""
    return t("oldmail.time.day", lang, **_parts(value, lang))


def format_when(value: datetime, lang: Lang, zone_name: str) -> str:
    """'12月2日（水）15:00（日本時間）' / '15:00 on Wed 2 Dec (Japan time)'."""
    return t("oldmail.time.when", lang, zone=zone_label(zone_name, lang), **_parts(value, lang))


def format_after(value: datetime, lang: Lang, zone_name: str) -> str:
    """'12月2日（水）15:00（日本時間）以降' / 'after 15:00 on Wed 2 Dec (Japan time)'."""
    return t("oldmail.time.after", lang, when=format_when(value, lang, zone_name))


def _parts(value: datetime, lang: Lang) -> dict[str, str]:
    weekdays = t("oldmail.time.weekdays", lang).split(",")
    months = t("oldmail.time.months", lang).split(",")
    return {
        "weekday": weekdays[value.weekday()],
        "month": months[value.month - 1],
        "day": str(value.day),
        "time": value.strftime("%H:%M"),
    }
