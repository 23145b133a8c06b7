"""Support staff: every project, filterable; open one to walk a customer through it."""

import streamlit as st

from mailmove.ui import frame, staff

t = frame.tr()
who = frame.require_identity()
st.title(t("staff.title"))
if not who.is_staff:
    st.error(t("staff.only"))
    st.stop()

staff.project_console(who)

st.subheader(t("staff.recent_activity"))
events = frame.store().recent_events(limit=50)
st.table(
    {
        t("staff.col_at"): [e.at for e in events],
        t("staff.col_actor"): [e.actor for e in events],
        t("staff.col_action"): [e.action for e in events],
    },
    hide_index=True,
)
