"""Where the migration stands, what to do next, and whether it is safe to switch."""

import streamlit as st

from mailmove.ui import frame, overview

t = frame.tr()
who = frame.require_identity()
st.title(t("overview.title"))

project = frame.current_project(who)
if project is None and who.is_staff:
    st.info(t("overview.staff_pick"))
    st.page_link("pages/staff.py", label=t("nav.staff"))
elif project is None:
    st.write(t("overview.intro"))
    if not who.domains:
        st.warning(t("overview.no_domains"))
    else:
        st.table({t("overview.domain_col"): list(who.domains)}, hide_index=True)
        overview.create_form(who)
else:
    overview.render(who, project)
