"""The plan written out: JSON (the CLI contract), a BIND zone snippet, a plain-text table.

Texts come from the catalog (``records.*``), so the same plan reads in Japanese or English.
"""

from __future__ import annotations

from typing import Any

from mailmove.i18n import LANGS, Lang, t
from mailmove.records._model import STEPS, Notice, Record, RecordPlan
from mailmove.records._txt import zone_value


def notice_text(notice: Notice, lang: Lang) -> str:
    return t(notice.key, lang, **notice.params)


def record_json(record: Record) -> dict[str, Any]:
    return {
        "step": record.step,
        "purpose": record.purpose,
        "host": record.host,
        "name": record.name,
        "type": record.type,
        "value": record.value,
        "strings": list(record.strings),
        "ttl": record.ttl,
        "action": record.action,
        "current": list(record.current),
        "current_ttl": record.current_ttl,
        "zone": zone_line(record),
    }


def plan_json(plan: RecordPlan) -> dict[str, Any]:
    """The CLI's JSON: the contract's keys, plus notice texts in both languages."""
    return {
        "domain": plan.domain,
        "server": plan.server,
        "records": [record_json(r) for r in plan.records],
        "switch_not_before": plan.switch_not_before.isoformat(timespec="seconds"),
        "warnings": [
            {
                "code": n.code,
                "severity": n.severity,
                "purpose": n.purpose,
                "params": dict(n.params),
                "text": {lang: notice_text(n, lang) for lang in LANGS},
            }
            for n in plan.notices
        ],
        "blocked": plan.blocked,
        "computed_at": plan.computed_at.isoformat(timespec="seconds"),
    }


def zone_line(record: Record) -> str:
    """One master-file line with an absolute owner name (works with any ``$ORIGIN``)."""
    value = zone_value(record.type, record.value, record.strings)
    return f"{record.name}. {record.ttl} IN {record.type} {value}"


def zone_snippet(plan: RecordPlan, lang: Lang = "ja") -> str:
    """BIND zone text: step 1 and 2 ready to use, step 3 commented out until the switch.

    Step 3 rewrites the same RRsets as step 1 (the MX host's A), so both cannot be active in
    one file; deletions and unchanged records are comments, so the snippet never removes or
    duplicates anything by accident.
    """
    at = plan.switch_not_before.strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"; {t('records.zone.header', lang, domain=plan.domain, server=plan.server)}",
        f"; {t('records.zone.generated', lang, at=plan.computed_at.strftime('%Y-%m-%d %H:%M %Z'))}",
    ]
    for notice in plan.notices:
        if notice.severity != "info":
            lines.append(f"; ! {notice_text(notice, lang)}")
    for step in STEPS:
        records = plan.step(step)
        if not records:
            continue
        lines += ["", f"; {t(f'records.step.{step}.title', lang)}"]
        if step == 3:
            lines.append(f"; {t('records.zone.step3', lang, at=at)}")
        for record in records:
            line = zone_line(record)
            if record.action == "delete":
                lines.append(f"; {t('records.zone.delete', lang)}: {line}")
            elif record.action == "keep" and record.purpose != "ttl":
                lines.append(f"; {t('records.zone.keep', lang)}: {line}")
            elif step == 3:
                lines.append(f";   {line}")
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


def text_table(plan: RecordPlan, lang: Lang = "ja") -> str:
    """A plain-text table per step for terminals (the CLI's default format)."""
    out = [t("records.cli.heading", lang, domain=plan.domain, server=plan.server)]
    at = plan.switch_not_before.strftime("%Y-%m-%d %H:%M %Z")
    out.append(t("records.switch_not_before", lang, at=at))
    for step in STEPS:
        records = plan.step(step)
        if not records:
            continue
        out += ["", f"== {t(f'records.step.{step}.title', lang)} =="]
        for r in records:
            action = t(f"records.action.{r.action}", lang)
            purpose = t(f"records.purpose.{r.purpose}", lang)
            out.append(f"- [{action}] {purpose}: {r.host} ({r.name}) {r.type} TTL {r.ttl}")
            if r.action == "change" and r.purpose != "ttl":
                for old in r.current:
                    out.append(f"    {t('records.label.current', lang)}: {old}")
            if r.purpose == "ttl" and r.current_ttl is not None:
                out.append(f"    TTL {r.current_ttl} -> {r.ttl}")
            out.append(f"    {t('records.label.value', lang)}: {r.value}")
            if len(r.strings) > 1:
                out.append(
                    f"    {t('records.label.zone', lang)}: {zone_value(r.type, r.value, r.strings)}"
                )
    if plan.notices:
        out += ["", f"== {t('records.notices', lang)} =="]
        for n in plan.notices:
            out.append(f"- [{t(f'records.severity.{n.severity}', lang)}] {notice_text(n, lang)}")
    return "\n".join(out) + "\n"
