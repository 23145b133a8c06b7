"""The old mail step: per-user instructions and server-side retrieval (mailmove/ui/oldmail.py)."""

import streamlit as st

from mailmove.ui import frame, oldmail

t = frame.tr()
who = frame.require_identity()
st.title(t("old_mail.title"))
oldmail.render(who)
