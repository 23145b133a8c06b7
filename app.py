"""mailmove's router: which pages exist for whom, inside the shared frame."""

import streamlit as st

from mailmove.ui import frame

st.set_page_config(page_title="mailmove", page_icon="✉️", layout="wide")

t = frame.tr()
frame.language_switch()
t = frame.tr()  # the switch may have just changed the language
who = frame.identity()

if who is None:
    pages = [st.Page("pages/sign_in.py", title=t("nav.sign_in"), url_path="sign-in", default=True)]
else:
    pages = [
        st.Page("pages/overview.py", title=t("nav.overview"), url_path="overview", default=True),
        st.Page("pages/addresses.py", title=t("nav.addresses"), url_path="addresses"),
        st.Page("pages/dns_records.py", title=t("nav.dns_records"), url_path="dns-records"),
        st.Page("pages/propagation.py", title=t("nav.propagation"), url_path="propagation"),
        st.Page("pages/old_mail.py", title=t("nav.old_mail"), url_path="old-mail"),
    ]
    if who.is_staff:
        pages.append(st.Page("pages/staff.py", title=t("nav.staff"), url_path="staff"))

page = st.navigation(pages)
if who is not None:
    frame.account_box(who)
    frame.step_header(page.url_path)
frame.run_guarded(page.run)
