"""The DNS records page: per domain, a table per step, values to copy, notices, a zone file.

The computation lives in :mod:`mailmove.records`; this module only shows it. A plan is kept
in this user's session (never in a cache shared between users) until they ask to check the
DNS again, so clicking around does not hammer the customer's nameservers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import streamlit as st

from mailmove.auth import Identity
from mailmove.i18n import Translator
from mailmove.lookup import DnsUnavailable
from mailmove.records import (
    STEP_OF,
    Notice,
    Record,
    RecordPlan,
    RecordsInputError,
    notice_text,
    records_for,
    zone_snippet,
    zone_value,
)
from mailmove.ui import frame, overview

_PLANS = "mm_record_plans"
_ACTION_COLOUR = {"add": "green", "change": "orange", "delete": "red", "keep": "gray"}
_SEVERITY = {"block": st.error, "warning": st.warning, "info": st.info}


def render_page() -> None:
    """The whole page body (the page file only calls this)."""
    t = frame.tr()
    who = frame.require_identity()
    st.title(t("dns.title"))
    project = frame.current_project(who)
    # Within a migration, its domains; staff without an open project: every domain they hold.
    domains = list(project.domains) if project is not None else list(who.domains)
    if not domains:
        st.info(t("records.ui.no_domains"))
        return
    domain = st.selectbox(t("records.ui.domain"), options=domains, key="records_domain")
    if domain is None or not who.may_act_on(domain):
        st.error(t("records.ui.not_allowed"))
        return
    rua = st.text_input(
        t("records.ui.rua"),
        value=f"postmaster@{domain}",
        help=t("records.ui.rua_help"),
        key=f"records_rua_{domain}",
    )
    recheck = st.button(t("records.ui.recheck"), key="records_recheck")
    plan = _plan(who, domain, rua, fresh=recheck, t=t)
    if plan is not None:
        gate = None
        if project is not None:
            decision = overview.gate_decision(who, project, datetime.now(UTC))

            def gate() -> None:
                overview.gate_box(decision)

        show_plan(plan, t, gate=gate)


def _plan(who: Identity, domain: str, rua: str, *, fresh: bool, t: Translator) -> RecordPlan | None:
    plans: dict[tuple[str, str, str], RecordPlan] = st.session_state.setdefault(_PLANS, {})
    key = (who.server, domain, rua.strip())
    if fresh or key not in plans:
        config = frame.config()
        try:
            with st.spinner(t("records.ui.checking")):
                plans[key] = records_for(config, domain, config.server(who.server), rua=rua)
        except DnsUnavailable as exc:
            st.warning(t("records.ui.dns_unavailable", detail=str(exc)))
            return None
        except RecordsInputError as exc:
            st.error(t("records.ui.input_error", detail=str(exc)))
            return None
    return plans[key]


def show_plan(plan: RecordPlan, t: Translator, *, gate: Callable[[], None] | None = None) -> None:
    """Notices, the earliest switch time, one table per step, and the zone download."""
    at = plan.switch_not_before.strftime("%Y-%m-%d %H:%M %Z")
    st.caption(t("records.ui.computed_at", at=plan.computed_at.strftime("%Y-%m-%d %H:%M %Z")))
    st.info(t("records.ui.domain_note", domain=plan.domain))
    if plan.blocked:
        st.error(t("records.ui.blocked"))
    for notice in plan.notices:
        if notice.purpose is None or notice.severity == "block":
            _notice(notice, t)
    st.success(t("records.switch_not_before", at=at))
    for step in (1, 2, 3):
        _step(plan, step, t, gate if step == 3 else None)
    st.download_button(
        t("records.ui.download"),
        data=zone_snippet(plan, t.lang),
        file_name=f"{plan.domain}.mailmove.zone",
        mime="text/plain",
        key="records_download",
    )


def _notice(notice: Notice, t: Translator) -> None:
    _SEVERITY[notice.severity](notice_text(notice, t.lang))


def _step(
    plan: RecordPlan, step: int, t: Translator, gate: Callable[[], None] | None = None
) -> None:
    st.subheader(t(f"records.step.{step}.title"))
    if gate is not None:
        gate()  # the cutover gate: "do not switch yet" and why, or "you may switch now"
    if step == 3:
        st.warning(t("records.step.3.intro"))
    else:
        st.write(t(f"records.step.{step}.intro"))
    for notice in plan.notices:
        in_step = notice.purpose is not None and STEP_OF[notice.purpose] == step
        if in_step and notice.severity != "block" and notice.code != "mx_after_addresses":
            _notice(notice, t)  # the step 3 intro already says what mx_after_addresses says
    records = plan.step(step)
    if not records:
        st.caption(t("records.ui.nothing"))
        return
    st.dataframe(_table(records, t), hide_index=True, width="stretch")
    with st.expander(t("records.ui.details"), expanded=step != 1):
        for i, record in enumerate(records):
            if i:
                st.divider()
            _record(record, t)


def _table(records: tuple[Record, ...], t: Translator) -> dict[str, list[str | int]]:
    rows: dict[str, list[str | int]] = {
        t("records.label.purpose"): [t(f"records.purpose.{r.purpose}") for r in records],
        t("records.label.action"): [_action_text(r, t) for r in records],
        t("records.label.host"): [r.host for r in records],
        t("records.label.name"): [r.name for r in records],
        t("records.label.type"): [r.type for r in records],
        t("records.label.value"): [r.value for r in records],
        t("records.label.ttl"): [r.ttl for r in records],
    }
    return rows


def _action_text(record: Record, t: Translator) -> str:
    action = t(f"records.action.{record.action}")
    if record.purpose == "ttl" and record.action == "change":
        return f"{action} ({t('records.label.ttl_change', old=record.current_ttl, new=record.ttl)})"
    if record.action == "change" and record.current:
        old = " | ".join(record.current)
        return f"{action} ({t('records.label.old_new', old=old, new=record.value)})"
    return action


def _record(record: Record, t: Translator) -> None:
    colour = _ACTION_COLOUR[record.action]
    st.markdown(
        f"**{t(f'records.purpose.{record.purpose}')}** "
        f":{colour}-badge[{t(f'records.action.{record.action}')}] `{record.type}` "
        f"TTL {record.ttl}"
    )
    host_col, name_col = st.columns(2)
    host_col.caption(t("records.label.host"))
    host_col.code(record.host, language=None)
    name_col.caption(t("records.label.name"))
    name_col.code(record.name, language=None)
    if record.purpose == "ttl" and record.current_ttl is not None:
        st.write(t("records.label.ttl_change", old=record.current_ttl, new=record.ttl))
    elif record.action == "change":
        st.caption(t("records.label.current"))
        for old in record.current:
            st.code(old, language=None, wrap_lines=True)
    st.caption(t("records.label.value_plain"))
    st.code(record.value, language=None, wrap_lines=True)
    if record.type == "TXT":
        st.caption(t("records.label.value_zone"))
        st.code(
            zone_value(record.type, record.value, record.strings), language=None, wrap_lines=True
        )
    what, mistakes = st.columns(2)
    what.caption(t("records.ui.what"))
    what.write(t(f"records.explain.{record.purpose}"))
    mistakes.caption(t("records.ui.mistakes"))
    mistakes.write(t(f"records.mistakes.{record.purpose}"))
