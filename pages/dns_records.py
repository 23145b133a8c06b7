"""The DNS records step: empty until its issue lands; says what to do first."""

import streamlit as st

from mailmove.ui import frame

t = frame.tr()
frame.require_identity()
st.title(t("dns.title"))
st.info(t("dns.empty"))
