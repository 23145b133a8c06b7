"""Where the migration stands and what to do next."""

import streamlit as st

from mailmove.steps import next_step
from mailmove.ui import frame

t = frame.tr()
who = frame.require_identity()
st.title(t("overview.title"))
st.write(t("overview.intro"))

step = next_step(frozenset())
if step is not None:
    st.info(t("overview.next", step=t(step.title_key)))

st.subheader(t("overview.domains"))
if not who.domains:
    st.warning(t("overview.no_domains"))
else:
    st.table({t("overview.domain_col"): list(who.domains)}, hide_index=True)
