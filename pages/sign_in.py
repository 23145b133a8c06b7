"""Sign in with the customer's own PostfixAdmin admin account."""

import streamlit as st

from mailmove.auth import SignInError, sign_in
from mailmove.ui import frame

t = frame.tr()
st.title(t("signin.title"))
notice = frame.pop_notice()
if notice:
    st.warning(t(notice))
st.write(t("signin.intro"))

servers = frame.config().servers
# The password field is emptied after every attempt; the address stays for the retry.
with st.form("sign_in", clear_on_submit=True):
    server_name = st.selectbox(
        t("signin.server"), [s.name for s in servers], disabled=len(servers) == 1
    )
    username = st.text_input(
        t("signin.username"),
        value=st.session_state.get("mm_last_username", ""),
        autocomplete="username",
    )
    password = st.text_input(t("signin.password"), type="password", autocomplete="current-password")
    submitted = st.form_submit_button(t("signin.submit"), type="primary")

if submitted:
    st.session_state["mm_last_username"] = username
    if not username.strip() or not password:
        st.error(t("signin.missing"))
    else:
        try:
            with st.spinner(t("signin.submit")):
                who, client = sign_in(
                    frame.config().server(server_name),
                    username,
                    password,
                    staff_accounts=frame.config().staff_accounts,
                )
        except SignInError as err:
            st.error(t(f"signin.{err.reason}"))
        else:
            frame.remember_sign_in(who, client)
            st.rerun()
