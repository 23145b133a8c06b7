"""The staff console: every project with its lights and last activity, and opening one."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from mailmove.auth import Identity
from mailmove.projects import Project
from mailmove.timeline import build, local
from mailmove.ui import frame, overview


def _lights(who: Identity, project: Project, now: datetime) -> dict[str, str]:
    """Step key -> the light as a word (a table cell shows text, not colours)."""
    t = frame.tr()
    verified = frame.projects(who).verified(project.id)
    timeline = build(project, verified, overview.gate_decision(who, project, now, live=False), now)
    return {s.key: t(f"timeline.light.{s.light}") for s in timeline.steps}


def project_console(who: Identity) -> None:
    t = frame.tr()
    tz = frame.config().timezone
    now = datetime.now(UTC)
    everything = frame.projects(who).list()
    if not everything:
        st.info(t("staff.empty"))
        return
    query = st.text_input(t("staff.filter"), placeholder=t("staff.filter_hint")).strip().lower()
    shown = [
        p
        for p in everything
        if not query or any(query in d for d in p.domains) or query in p.created_by.lower()
    ]
    lights = [_lights(who, p, now) for p in shown]
    columns: dict[str, list[str]] = {
        t("staff.col_project"): [f"#{p.id}" for p in shown],
        t("overview.domain_col"): [", ".join(p.domains) for p in shown],
    }
    for key in ("addresses", "ttl", "switch", "old_mail"):
        columns[t(f"timeline.step.{key}")] = [light[key] for light in lights]
    columns[t("staff.col_owner")] = [p.created_by for p in shown]
    columns[t("staff.col_last")] = [local(p.updated_at, tz) for p in shown]
    st.table(pd.DataFrame(columns), hide_index=True)
    if not shown:
        return
    labels = {p.id: f"#{p.id} {', '.join(p.domains)}" for p in shown}
    chosen = st.selectbox(t("staff.open_label"), list(labels), format_func=labels.__getitem__)
    if st.button(t("staff.open"), type="primary"):
        frame.choose_project(chosen)
        st.switch_page("pages/overview.py")
