"""When to fetch: switch time + TTL + margin, in the customer's zone and language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailmove.errors import MailmoveError
from mailmove.oldmail import compute_timing, format_after, format_day, format_when, parse_switch_at

TZ = "Asia/Tokyo"


def test_the_issue_example_after_15_00_on_2_dec() -> None:
    timing = compute_timing(parse_switch_at("2026-12-01T14:00", TZ), TZ)
    assert format_after(timing.fetch_after, "en", TZ) == "after 15:00 on Wed 2 Dec (Japan time)"
    assert format_after(timing.fetch_after, "ja", TZ) == "12月2日（水）15:00（日本時間）以降"
    assert format_when(timing.switch_at, "en", TZ) == "14:00 on Tue 1 Dec (Japan time)"
    assert format_day(timing.remove_after, "ja") == "12月5日（土）"
    assert format_day(timing.remove_after, "en") == "Sat 5 Dec"


def test_rounds_up_to_the_full_hour_never_earlier() -> None:
    timing = compute_timing(parse_switch_at("2026-12-01T14:10", TZ), TZ, ttl_s=300)
    assert timing.fetch_after.hour == 15  # 14:10 + 5 min + 24 h -> 14:15 next day -> 15:00
    assert timing.fetch_after.minute == 0
    exact = compute_timing(parse_switch_at("2026-12-01T14:00", TZ), TZ, ttl_s=0)
    assert exact.fetch_after.hour == 14  # already whole: not pushed another hour


def test_margin_is_configurable() -> None:
    timing = compute_timing(parse_switch_at("2026-12-01T14:00", TZ), TZ, margin_hours=72)
    assert format_after(timing.fetch_after, "en", TZ) == "after 15:00 on Fri 4 Dec (Japan time)"


def test_an_offset_in_the_input_is_converted_to_the_customer_zone() -> None:
    switch = parse_switch_at("2026-12-01T05:00:00+00:00", TZ)  # 14:00 in Tokyo
    assert switch.hour == 14
    timing = compute_timing(datetime(2026, 12, 1, 5, 0, tzinfo=UTC), TZ)
    assert timing.switch_at.hour == 14


def test_other_zones_are_named_by_their_iana_name() -> None:
    zone = "Europe/Berlin"
    timing = compute_timing(parse_switch_at("2026-12-01T14:00", zone), zone)
    assert (
        format_after(timing.fetch_after, "en", zone) == "after 15:00 on Wed 2 Dec (Europe/Berlin)"
    )


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T10:00", ""])
def test_bad_switch_times_are_a_clear_error(text: str) -> None:
    with pytest.raises(MailmoveError, match="--switch-at"):
        parse_switch_at(text, TZ)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(MailmoveError, match="time zone"):
        parse_switch_at("2026-12-01T14:00", "Mars/Olympus")
