"""A check written out: the CLI's JSON contract, a plain-text report, and the detail texts.

Texts come from the catalog (``propagation.*``) so one result reads in Japanese or English:
what is wrong and what to set (current and wanted value, Mail-in-a-Box style) at an
authoritative server; "still the old answer, refreshes within N s (by HH:MM)" at a cache.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailmove.i18n import Lang, t
from mailmove.propagation._model import CheckResult, Note, RecordResult, VantageResult
from mailmove.records._txt import full_name

MAX_SHOWN = 120  # characters of a value in the text report (a DKIM key is ~400)


def local_time(at: datetime, tz: str, *, date: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return at.astimezone(ZoneInfo(tz)).strftime(fmt)


def light_word(light: str, lang: Lang) -> str:
    return t(f"propagation.light.{light}", lang)


def detail_text(v: VantageResult, lang: Lang, tz: str = "Asia/Tokyo") -> str:
    """What this vantage point's answer means, in words, with the countdown at caches."""
    verdict = v.verdict
    if v.vantage.kind == "public" and v.light == "amber" and not v.confirming:
        if verdict.code == "ttl_cached_long":  # same value, but the copy with the old TTL
            code = verdict.code
        else:
            code = "cache_negative" if verdict.status == "missing" else "cache_old"
        text = t(f"propagation.detail.{code}", lang, **verdict.params)
    elif v.vantage.kind == "public" and v.light == "red":
        text = t("propagation.detail.cache_wrong", lang)
    else:
        text = t(f"propagation.detail.{verdict.code}", lang, **verdict.params)
    if v.confirming:
        text += " " + t("propagation.detail.confirming", lang)
    elif v.refresh_at is not None:
        seconds = max(0, v.ttl_remaining or 0)
        text += " " + t(
            "propagation.detail.refresh", lang, seconds=seconds, at=local_time(v.refresh_at, tz)
        )
    return text


def note_text(note: Note, lang: Lang) -> str:
    return t(f"propagation.note.{note.code}", lang, **note.params)


def vantage_json(v: VantageResult, lang: Lang, tz: str) -> dict[str, Any]:
    return {
        "name": v.vantage.name,
        "address": v.vantage.address,
        "kind": v.vantage.kind,
        "light": v.light,
        "values": list(v.verdict.values),
        "ttl_remaining": v.ttl_remaining,
        "detail": detail_text(v, lang, tz),
    }


def record_json(r: RecordResult, lang: Lang, tz: str) -> dict[str, Any]:
    return {
        "purpose": r.purpose,
        "name": full_name(r.expectation.name),
        "type": r.expectation.rdtype,
        "light": r.light,
        "vantages": [vantage_json(v, lang, tz) for v in r.vantages],
    }


def result_json(result: CheckResult, lang: Lang = "ja", tz: str = "Asia/Tokyo") -> dict[str, Any]:
    """The CLI contract: domain, overall, eta (ISO, in ``tz``; null when unknown), records."""
    return {
        "domain": result.domain,
        "overall": result.overall,
        "eta": result.eta.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")
        if result.eta is not None
        else None,
        "records": [record_json(r, lang, tz) for r in result.records],
    }


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def text_report(result: CheckResult, lang: Lang = "ja", tz: str = "Asia/Tokyo") -> str:
    """A readable report for the terminal: overall, then each record and vantage point."""
    lines = [
        t(
            "propagation.cli.heading",
            lang,
            domain=result.domain,
            server=result.server,
            at=local_time(result.checked_at, tz, date=True),
        ),
        t("propagation.cli.overall", lang, light=light_word(result.overall, lang))
        + f" [{result.overall}]",
    ]
    if result.eta is not None and result.overall == "amber":
        lines.append(t("propagation.eta", lang, at=local_time(result.eta, tz, date=True)))
    lines += [f"! {note_text(n, lang)}" for n in result.notes]
    for r in result.records:
        label = t(f"records.purpose.{r.purpose}", lang)
        name = f"{full_name(r.expectation.name)} {r.expectation.rdtype}"
        lines.append("")
        lines.append(f"[{r.light}] {label} · {light_word(r.light, lang)} — {name}")
        for v in r.vantages:
            values = ", ".join(_short(x) for x in v.verdict.values) or "-"
            kind = t(f"propagation.kind.{v.vantage.kind}", lang)
            lines.append(f"    [{v.light}] {v.vantage.name} ({kind}): {values}")
            lines.append(f"        {detail_text(v, lang, tz)}")
    return "\n".join(lines) + "\n"
