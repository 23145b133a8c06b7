"""The Overview's pieces: start a project, the timeline with lights, the gate, the chart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from mailmove.auth import Identity
from mailmove.gate import GateDecision, evaluate
from mailmove.projects import Project, ProjectError
from mailmove.propagation import project_gate_dns
from mailmove.timeline import Timeline, build, local
from mailmove.ui import frame

# Material icons ship with Streamlit, so the lights render even where no emoji font is.
LIGHT_ICON = {
    "green": ":green[:material/check_circle:]",
    "amber": ":orange[:material/schedule:]",
    "red": ":red[:material/error:]",
    "grey": ":gray[:material/radio_button_unchecked:]",
}


def create_form(who: Identity) -> None:
    """A customer starts their migration: which domains, and where the old mail is."""
    t = frame.tr()
    st.subheader(t("overview.start_title"))
    st.write(t("overview.start_intro"))
    with st.form("create_project"):
        domains = st.multiselect(
            t("overview.start_domains"),
            list(who.domains),
            default=list(who.domains)[:1],
            placeholder=t("app.choose"),
        )
        old_host = st.text_input(t("overview.old_host"), help=t("overview.old_host_help"))
        old_ip = st.text_input(t("overview.old_ip"), help=t("overview.old_ip_help"))
        submitted = st.form_submit_button(t("overview.start_submit"), type="primary")
    if submitted:
        try:
            project = frame.projects(who).create(domains, old_host=old_host, old_ip=old_ip)
        except ProjectError as err:
            st.error(t(err.code, **err.params))
        else:
            frame.choose_project(project.id)
            st.rerun()


# The gate's DNS facts are asked live from the authoritative servers; kept in this user's
# session (never in a cache shared between users) for a short while, so clicking around the
# Overview does not hit the customer's nameservers on every rerun.
_GATE_DNS = "mm_gate_dns"
GATE_DNS_MAX_AGE_S = 60.0


def _gate_dns(who: Identity, project: Project) -> tuple[bool, bool | None]:
    """(dmarc_strict, auth_visible) from a live check of the project's domains."""
    remembered: dict[tuple[int, tuple[str, ...]], tuple[float, tuple[bool, bool | None]]] = (
        st.session_state.setdefault(_GATE_DNS, {})
    )
    key = (project.id, project.domains)
    hit = remembered.get(key)
    if hit is not None and time.monotonic() - hit[0] < GATE_DNS_MAX_AGE_S:
        return hit[1]
    facts = project_gate_dns(frame.config(), frame.projects(who), project)
    remembered[key] = (time.monotonic(), facts)
    return facts


def gate_decision(
    who: Identity, project: Project, now: datetime, *, live: bool = True
) -> GateDecision:
    """``live=False`` (the staff console's list) uses only what is stored: no DNS queries
    per listed project; the project's own Overview always asks the authoritative servers."""
    dmarc_strict, auth_visible = _gate_dns(who, project) if live else (False, None)
    facts = frame.projects(who).gate_facts(
        project.id, dmarc_strict=dmarc_strict, auth_visible=auth_visible
    )
    return evaluate(
        facts,
        now,
        override_by=project.gate_override_by,
        override_reason=project.gate_override_reason,
    )


def render(who: Identity, project: Project) -> None:
    t = frame.tr()
    tz = frame.config().timezone
    now = datetime.now(UTC)
    verified = frame.projects(who).verified(project.id)
    decision = gate_decision(who, project, now)
    timeline = build(project, verified, decision, now, tz)

    st.caption(
        t(
            "overview.project_caption",
            domains=", ".join(project.domains),
            created=local(project.created_at, tz),
        )
    )
    st.info(t(timeline.next_key, **timeline.next_params))
    _steps(timeline)
    gate_box(decision)
    if who.is_staff and not decision.open:
        _override_form(who, project)
    _chart(timeline, tz)
    with st.expander(t("overview.audit")):
        events = frame.projects(who).audit(project.id)
        st.table(
            pd.DataFrame(
                {
                    t("staff.col_at"): [local(e.at, tz) for e in events],
                    t("staff.col_actor"): [e.actor for e in events],
                    t("staff.col_action"): [e.action for e in events],
                    t("overview.col_detail"): [e.detail for e in events],
                }
            ),
            hide_index=True,
        )


def _steps(timeline: Timeline) -> None:
    t = frame.tr()
    for col, step in zip(st.columns(len(timeline.steps)), timeline.steps, strict=True):
        with col.container(border=True):
            # The light is a word too, not only a colour.
            st.markdown(
                f"{LIGHT_ICON[step.light]} **{t(f'timeline.step.{step.key}')}** "
                f"· {t(f'timeline.light.{step.light}')}"
            )
            st.write(t(step.status_key, **step.params))


def gate_box(decision: GateDecision) -> None:
    t = frame.tr()
    st.subheader(t("overview.gate_title"))
    if decision.open and decision.overridden_by:
        st.warning(
            t("gate.overridden", who=decision.overridden_by, reason=decision.override_reason or "")
        )
    elif decision.open:
        st.success(t("gate.open"))
        return
    else:
        st.error(t("gate.closed"))
    for unmet in decision.unmet:
        params = dict(unmet.params)
        if "until" in params:
            params["until"] = local(
                datetime.fromisoformat(params["until"]), frame.config().timezone
            )
        st.markdown(f"- {t(unmet.code, **params)}")


def _override_form(who: Identity, project: Project) -> None:
    t = frame.tr()
    with st.expander(t("overview.override_title")), st.form("gate_override"):
        reason = st.text_area(t("overview.override_reason"))
        if st.form_submit_button(t("overview.override_submit")):
            try:
                frame.projects(who).override_gate(project.id, reason)
            except ProjectError as err:
                st.error(t(err.code, **err.params))
            else:
                st.rerun()


def _chart(timeline: Timeline, tz: str) -> None:
    t = frame.tr()
    if len(timeline.milestones) < 2:
        return
    data = pd.DataFrame(
        {
            # Wall-clock time in the customer's zone (no offset: the browser shows it as is).
            "when": [
                m.at.astimezone(ZoneInfo(tz)).replace(tzinfo=None) for m in timeline.milestones
            ],
            "label": [t(f"timeline.milestone.{m.key}") for m in timeline.milestones],
            "kind": [
                t("overview.chart_planned") if m.planned else t("overview.chart_done")
                for m in timeline.milestones
            ],
            "local": [local(m.at, tz) for m in timeline.milestones],
        }
    )
    chart = (
        alt.Chart(data)
        .mark_point(size=160, filled=True)
        .encode(
            x=alt.X("when:T", title=None),
            y=alt.Y("label:N", title=None, sort=None),
            color=alt.Color("kind:N", title=None),
            tooltip=["label", "local"],
        )
        .properties(height=60 + 30 * len(timeline.milestones))
    )
    st.subheader(t("overview.chart_title"))
    st.altair_chart(chart, use_container_width=True)
