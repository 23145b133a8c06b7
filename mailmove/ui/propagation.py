"""The propagation page: live traffic lights per record and per vantage point, and history.

The check itself is :mod:`mailmove.propagation`; this module only runs it and shows it. The
live part is a fragment that re-runs itself every ``dns.refresh_s`` seconds, so the lights
change without a page reload. The last result (and the state green needs: two consecutive
checks) stays in this user's session only; results are saved with the project (when a light
changed, or every few minutes) so the chart and the event log show the days before.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from mailmove.auth import Identity
from mailmove.errors import MailmoveError
from mailmove.i18n import Translator
from mailmove.propagation import (
    CheckResult,
    CheckState,
    RecordResult,
    check,
    detail_text,
    facts_from_result,
    light_changes,
    light_word,
    observe_ttl,
    result_json,
    result_lights,
    share_green,
    state_from_json,
)
from mailmove.propagation.history import PREVIOUS_MAX_AGE_S, parse
from mailmove.propagation.report import local_time, note_text
from mailmove.propagation.schedule import due
from mailmove.records._model import LOW_TTL
from mailmove.records._txt import full_name
from mailmove.ui import frame
from mailmove.ui.overview import LIGHT_ICON

_LIVE = "mm_propagation"
STORE_EVERY_S = 5 * 60.0  # save an unchanged result at most this often
MAX_VALUE = 60  # characters of a value in the table (a DKIM key is ~400)
MAX_EVENTS = 60


@dataclass
class _Live:
    """One domain's live state in this session."""

    result: CheckResult | None = None
    checked: float | None = None  # time.monotonic() of the last check
    stored: float = -math.inf
    stored_lights: dict[tuple[str, str, str, str | None], str] = field(default_factory=dict)
    error: str = ""


def render_page() -> None:
    """The whole page body (the page file only calls this)."""
    t = frame.tr()
    who = frame.require_identity()
    st.title(t("propagation.title"))
    project = frame.current_project(who)
    if project is None:
        st.info(t("propagation.no_project"))
        st.page_link("pages/overview.py", label=t("nav.overview"), icon=":material/home:")
    domains = list(project.domains) if project is not None else list(who.domains)
    if not domains:
        return
    domain = st.selectbox(t("propagation.domain"), options=domains, key="propagation_domain")
    if domain is None or not who.may_act_on(domain):
        st.error(t("records.ui.not_allowed"))
        return
    refresh = frame.config().dns.refresh_s
    st.caption(t("propagation.intro", seconds=f"{refresh:g}"))
    if project is None:
        st.caption(t("propagation.not_saved"))
    live = st.fragment(_live, run_every=refresh)
    live(who, project.id if project is not None else None, domain)


def _live(who: Identity, project_id: int | None, domain: str) -> None:
    frame.run_guarded(lambda: _live_body(who, project_id, domain))


def _live_body(who: Identity, project_id: int | None, domain: str) -> None:
    t = frame.tr()
    config = frame.config()
    buckets: dict[tuple[int | None, str], _Live] = st.session_state.setdefault(_LIVE, {})
    live = buckets.setdefault((project_id, domain), _Live())
    clicked = st.button(
        t("propagation.check_now"), key="propagation_check_now", icon=":material/refresh:"
    )
    run, wait = due(live.checked, time.monotonic(), config.dns.refresh_s, clicked=clicked)
    if wait:
        st.caption(t("propagation.throttled", seconds=wait))
    if run:
        _run(who, project_id, domain, live, t)
    if live.error:
        st.warning(t("propagation.dns_error", detail=live.error))
    if live.result is not None and live.checked is not None:
        _show(
            live.result,
            t,
            config.timezone,
            config.dns.refresh_s - (time.monotonic() - live.checked),
        )
    if project_id is not None:
        _history(who, project_id, domain, t, config.timezone)


def _previous(who: Identity, project_id: int | None, domain: str, live: _Live) -> CheckState | None:
    """The last check of this session, or a recent saved one (after a reload)."""
    if live.result is not None:
        return live.result.state
    if project_id is None:
        return None
    saved = frame.projects(who).dns_results(project_id, domain, limit=1)
    if saved and (datetime.now(UTC) - saved[-1][0]).total_seconds() < PREVIOUS_MAX_AGE_S:
        return state_from_json(parse(saved[-1][1]), saved[-1][0])
    return None


def _run(who: Identity, project_id: int | None, domain: str, live: _Live, t: Translator) -> None:
    config = frame.config()
    try:
        server = config.server(who.server)
        with st.spinner(t("propagation.checking")):
            result = check(
                config, server, domain, previous=_previous(who, project_id, domain, live)
            )
    except MailmoveError as exc:  # a malformed domain or server name: shown, not raised
        live.error = str(exc)
        live.checked = time.monotonic()
        return
    live.result, live.error, live.checked = result, "", time.monotonic()
    if project_id is not None:
        _save(who, project_id, domain, result, live, t)


def _save(
    who: Identity, project_id: int, domain: str, result: CheckResult, live: _Live, t: Translator
) -> None:
    """Keep the result with the project when a light changed (or now and then), and let the
    cutover gate learn from the authoritative TTLs."""
    projects = frame.projects(who)
    lights = result_lights(result)
    if lights != live.stored_lights or time.monotonic() - live.stored >= STORE_EVERY_S:
        data = result_json(result, t.lang, frame.config().timezone)
        projects.record_dns_check(
            project_id, domain, result.overall, json.dumps(data, ensure_ascii=False)
        )
        live.stored_lights, live.stored = lights, time.monotonic()
    observe_ttl(
        projects, projects.get(project_id), domain, facts_from_result(result), result.checked_at
    )


# -- showing a result ----------------------------------------------------------------------


def _show(result: CheckResult, t: Translator, tz: str, next_in: float) -> None:
    word = light_word(result.overall, t.lang)
    st.subheader(f"{LIGHT_ICON[result.overall]} {t('propagation.overall', light=word)}")
    if result.overall == "green":
        st.success(t("propagation.all_green"))
    elif result.overall == "amber" and result.eta is not None:
        st.info(t("propagation.eta", at=local_time(result.eta, tz, date=True)))
        st.caption(t("propagation.flush_hint"))
    elif result.overall == "red":
        st.warning(t("propagation.eta_red"))
    st.caption(
        t(
            "propagation.checked_at",
            at=local_time(result.checked_at, tz, date=True),
            seconds=f"{result.elapsed_s:.1f}",
            next=max(0, math.ceil(next_in)),
        )
    )
    for note in result.notes:
        st.warning(note_text(note, t.lang))
    with st.expander(t("propagation.legend_title")):
        st.write(t("propagation.legend"))
    for row in result.records:
        _record(row, t, tz)


def _record(row: RecordResult, t: Translator, tz: str) -> None:
    exp = row.expectation
    with st.container(border=True):
        st.markdown(
            f"{LIGHT_ICON[row.light]} **{t(f'records.purpose.{row.purpose}')}** · "
            f"{light_word(row.light, t.lang)} — `{full_name(exp.name)}` `{exp.rdtype}`"
        )
        st.caption(t("propagation.host_label", host=exp.host, name=full_name(exp.name)))
        fix = row.fix
        if fix is not None:
            st.error(f"**{t('propagation.what_to_fix')}:** {detail_text(fix, t.lang, tz)}")
            now_text = "\n".join(fix.verdict.values) or t("propagation.none")
            want_text = exp.wanted or t("propagation.none")
            if row.purpose == "ttl":  # the value stays, the TTL changes: show both
                now_text += f"  (TTL {fix.verdict.ttl})"
                want_text += f"  (TTL {LOW_TTL})"
            current, wanted = st.columns(2)
            current.caption(t("propagation.current"))
            current.code(now_text, language=None, wrap_lines=True)
            wanted.caption(t("propagation.wanted"))
            wanted.code(want_text, language=None, wrap_lines=True)
        elif row.light == "amber" and row.eta is not None:
            left = max(0, math.ceil((row.eta - datetime.now(UTC)).total_seconds()))
            st.warning(t("propagation.record_eta", at=local_time(row.eta, tz), seconds=left))
        st.markdown(_table(row, t, tz))


def _cell(text: str) -> str:
    text = text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
    return text.replace("|", "\\|").replace("\n", " ")


def _table(row: RecordResult, t: Translator, tz: str) -> str:
    """The vantage points as a Markdown table: lights as icons and words, never colour alone."""
    head = [
        t("propagation.col.light"),
        t("propagation.col.vantage"),
        t("propagation.col.kind"),
        t("propagation.col.values"),
        t("propagation.col.ttl"),
        t("propagation.col.detail"),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in row.vantages:
        ttl = v.ttl_remaining
        cells = [
            f"{LIGHT_ICON[v.light]} {light_word(v.light, t.lang)}",
            _cell(v.vantage.name),
            t(f"propagation.kind.{v.vantage.kind}"),
            _cell(", ".join(v.verdict.values)) or "—",
            t("propagation.seconds", seconds=ttl) if ttl is not None else "—",
            _cell_detail(detail_text(v, t.lang, tz)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell_detail(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- over days -----------------------------------------------------------------------------


def _history(who: Identity, project_id: int, domain: str, t: Translator, tz: str) -> None:
    saved = [(at, parse(text)) for at, text in frame.projects(who).dns_results(project_id, domain)]
    st.subheader(t("propagation.chart_title"))
    if not saved:
        st.caption(t("propagation.history_empty"))
        return
    data = pd.DataFrame(
        {
            # Wall-clock time in the customer's zone, without an offset: the browser's chart
            # then shows it as is, whatever time zone the browser itself is in.
            "when": [at.astimezone(ZoneInfo(tz)).replace(tzinfo=None) for at, _ in saved],
            "share": [round(100 * share_green(result), 1) for _, result in saved],
            "local": [local_time(at, tz, date=True) for at, _ in saved],
        }
    )
    chart = (
        alt.Chart(data)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X(
                "when:T", title=t("propagation.chart_time"), axis=alt.Axis(format="%m-%d %H:%M")
            ),
            y=alt.Y(
                "share:Q",
                title=t("propagation.chart_share"),
                scale=alt.Scale(domain=[0, 100]),
            ),
            tooltip=["local", "share"],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, width="stretch")
    st.subheader(t("propagation.events_title"))
    changes = light_changes(saved)[:MAX_EVENTS]
    if not changes:
        st.caption(t("propagation.events_empty"))
        return
    st.dataframe(
        {
            t("propagation.col.at"): [local_time(c.at, tz, date=True) for c in changes],
            t("propagation.col.record"): [
                f"{t(f'records.purpose.{c.purpose}')} ({c.name} {c.rdtype})" for c in changes
            ],
            t("propagation.col.vantage"): [c.vantage or "—" for c in changes],
            t("propagation.col.change"): [
                t(
                    "propagation.event.change",
                    before=light_word(c.before, t.lang),
                    after=light_word(c.after, t.lang),
                )
                if c.before is not None
                else t("propagation.event.first", after=light_word(c.after, t.lang))
                for c in changes
            ],
        },
        hide_index=True,
        width="stretch",
    )
