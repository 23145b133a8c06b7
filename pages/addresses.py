"""The addresses step: load the lists, map the columns, see every problem row by row.

Thin on purpose: widgets are read here, the work is done by ``mailmove.lists`` and
rendered by ``mailmove.ui.lists``. Nothing touches the server on this page.
"""

import streamlit as st

from mailmove.lists import Options
from mailmove.ui import frame, provision
from mailmove.ui import lists as ui

t = frame.tr()
lang = frame.lang()
who = frame.require_identity()
st.title(t("addresses.title"))
st.write(t("lists.intro"))
project = frame.current_project(who)
domains = ui.migration_domains(who.domains, who.is_staff, project.domains if project else None)
st.caption(ui.scope_text(t, domains))

method = st.segmented_control(
    t("lists.input.method"),
    options=["upload", "paste"],
    format_func=lambda m: t(f"lists.input.{m}"),
    default="upload",
    required=True,
    key="mm_lists_method",
)
screen_share = frame.screen_share()
if method == "paste":
    # Pasted passwords are plain text in the box: on a shared screen it stays folded away.
    with st.expander(t("lists.paste.label")) if screen_share else st.container():
        pasted = st.text_area(
            t("lists.paste.label"),
            placeholder=t("lists.paste.placeholder"),
            height=200,
            key="mm_lists_paste",
        )
    addresses = ui.load_pasted(pasted, lang)
else:
    upload = st.file_uploader(
        t("lists.upload.addresses"),
        type=ui.UPLOAD_TYPES,
        help=ui.upload_help(t),
        key="mm_lists_upload",
    )
    addresses = ui.load_upload(upload, "addresses", lang)
forwards_upload = st.file_uploader(
    t("lists.upload.forwards"),
    type=ui.UPLOAD_TYPES,
    help=t("lists.upload.forwards_help"),
    key="mm_lists_forwards_upload",
)
forwards = ui.load_upload(forwards_upload, "forwards", lang)
ui.forget_other_files(addresses, forwards)
if addresses is None:
    st.stop()

address_layout = ui.mapping_screen(addresses, t, screen_share=screen_share)
forward_layout = (
    ui.mapping_screen(forwards, t, screen_share=screen_share) if forwards is not None else None
)
generate = st.toggle(
    t("lists.options.generate"), help=t("lists.options.generate_help"), key="mm_lists_generate"
)
if address_layout is None:
    st.stop()

policy = frame.config().server(project.server if project else who.server).password_policy
options = Options(domains=domains, policy=policy, generate_passwords=generate)
with st.spinner(t("lists.checking")):
    checked = ui.validated(addresses, address_layout, forwards, forward_layout, options, lang)
if checked is None:
    st.stop()

ui.summary(checked, t)
ui.findings(checked, t)
ui.review(addresses, checked, t, screen_share=screen_share)
if forwards is not None:
    ui.review(forwards, checked, t, screen_share=screen_share)
ui.revalidate_button(t)
ui.continue_and_report(checked, t)

kept = st.session_state.get(ui.RESULT_KEY)
if kept is not None:
    provision.section(who, project.id if project else None, kept)
