"""The old-mail page's widgets: per-user instruction pages and server-side retrieval.

Per session only: the users come from the address list the customer checked on the
addresses page (``st.session_state["mm_lists_result"]``), scoped to the domains this
sign-in may act on. Passwords never reach the screen (screen-share safe): the preview
masks a generated password, the sweep tables show addresses and PostfixAdmin's
results only. A downloaded page carries a generated password only when the customer
ticks that option.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from mailmove.auth import Identity
from mailmove.errors import MailmoveError
from mailmove.i18n import LANGS, Lang, Translator, t
from mailmove.oldmail import (
    CLIENT_IDS,
    EVENT_START,
    EVENT_STOP,
    MOBILECONFIG_MIME,
    ZIP_NAME,
    MailboxLike,
    NewServer,
    PageRenderer,
    PageSettings,
    SweepSettings,
    apple_mobileconfig,
    build_zip,
    caveats,
    client,
    compute_timing,
    deadline_from_events,
    domain_of,
    format_after,
    format_when,
    is_ip,
    normalise_old_host,
    page_filename,
    start_detail,
    start_sweep,
    stop_sweep,
    sweep_status,
)
from mailmove.oldmail._timing import zone, zone_label
from mailmove.postfixadmin import PostfixAdminClient, PostfixAdminError
from mailmove.ui import frame

LISTS_KEY = "mm_lists_result"  # written by the addresses page (mailmove/ui/lists.py)
_K = "mm_oldmail_"  # prefix of this page's session-state keys
_PREVIEW_HEIGHT = 720


def render(who: Identity) -> None:
    """The whole page body below its title."""
    tr = frame.tr()
    mailboxes = _mailboxes(who)
    if not mailboxes:
        st.info(tr("oldmail.ui.no_list"))
        return
    config = frame.config()
    try:
        new_server = NewServer.from_config(config.server(who.server))
    except MailmoveError:
        st.error(tr("oldmail.ui.server_incomplete"))
        return
    st.write(tr("oldmail.ui.intro", count=len(mailboxes)))
    domains = sorted({domain_of(m.address) for m in mailboxes})
    common = _common_settings(tr, config.timezone, domains)
    pages_tab, sweep_tab = st.tabs([tr("oldmail.ui.tab_pages"), tr("oldmail.ui.tab_sweep")])
    with pages_tab:
        _pages_tab(tr, mailboxes, new_server, common, config.timezone)
    with sweep_tab:
        _sweep_tab(tr, who, mailboxes, common, config.timezone)


# -- inputs shared by both tabs ----------------------------------------------------------


class _Common:
    """The old host (normalised, or None while invalid) and the switch time (aware)."""

    def __init__(self, old_host: str | None, port: int, switch_at: datetime | None) -> None:
        self.old_host = old_host
        self.port = port
        self.switch_at = switch_at


def _mailboxes(who: Identity) -> list[MailboxLike]:
    result = st.session_state.get(LISTS_KEY)
    boxes: Sequence[MailboxLike] = getattr(result, "mailboxes", None) or ()
    return [m for m in boxes if who.may_act_on(domain_of(m.address))]


def _common_settings(tr: Translator, zone_name: str, domains: Sequence[str]) -> _Common:
    st.subheader(tr("oldmail.ui.settings"))
    left, right = st.columns(2)
    raw_host = left.text_input(
        tr("oldmail.ui.old_host"),
        key=_K + "old_host",
        placeholder=tr("oldmail.ui.old_host_placeholder"),
        help=tr("oldmail.ui.old_host_help"),
    )
    port = left.selectbox(
        tr("oldmail.ui.port"),
        options=[995, 110],
        format_func=lambda p: tr(f"oldmail.ui.port_{p}"),
        key=_K + "port",
    )
    picked = right.datetime_input(
        tr("oldmail.ui.switch_at", zone=zone_label(zone_name, frame.lang())),
        value=None,
        key=_K + "switch_at",
        help=tr("oldmail.ui.switch_at_help"),
    )
    old_host: str | None = None
    if raw_host.strip():
        try:
            old_host = normalise_old_host(raw_host)
        except MailmoveError:
            left.error(tr("oldmail.ui.old_host_invalid"))
        else:
            own = next((d for d in domains if old_host == d or old_host.endswith("." + d)), None)
            if is_ip(old_host):
                left.warning(tr("oldmail.ui.old_host_is_ip"))
            elif own is not None:
                left.warning(tr("oldmail.ui.old_host_own_domain", domain=own))
    if port == 110:
        left.warning(tr("oldmail.ui.port_110_warning"))
    switch_at = picked.replace(tzinfo=zone(zone_name)) if picked is not None else None
    return _Common(old_host, int(port), switch_at)


# -- instruction pages -------------------------------------------------------------------


def _pages_tab(
    tr: Translator,
    mailboxes: list[MailboxLike],
    new_server: NewServer,
    common: _Common,
    zone_name: str,
) -> None:
    left, right = st.columns(2)
    page_lang: Lang = left.radio(
        tr("oldmail.ui.page_lang"),
        options=list(LANGS),
        index=list(LANGS).index(frame.lang()),
        format_func=lambda code: t(f"app.lang.{code}", code),
        horizontal=True,
        key=_K + "page_lang",
    )
    protocol = right.radio(
        tr("oldmail.ui.new_protocol"),
        options=["imap", "pop3"],
        format_func=lambda p: tr(f"oldmail.protocol.{p}"),
        horizontal=True,
        key=_K + "protocol",
        help=tr("oldmail.ui.new_protocol_help"),
    )
    margin = left.selectbox(
        tr("oldmail.ui.margin"),
        options=[24, 48, 72],
        format_func=lambda h: tr("oldmail.ui.hours", hours=h),
        key=_K + "margin",
        help=tr("oldmail.ui.margin_help"),
    )
    clients = right.multiselect(
        tr("oldmail.ui.clients"),
        options=list(CLIENT_IDS),
        default=list(CLIENT_IDS),
        format_func=lambda c: tr(client(c).name),
        placeholder=tr("app.choose"),
        key=_K + "clients",
    )
    generated = sum(1 for m in mailboxes if m.generated_password)
    include_passwords = False
    if generated:
        sharing = frame.screen_share()  # no page with a password while others may watch
        checked = st.checkbox(
            tr("oldmail.ui.include_passwords", count=generated),
            value=False,
            key=_K + "include_passwords",
            help=tr("oldmail.ui.include_passwords_help"),
            disabled=sharing,
        )
        include_passwords = checked and not sharing
        if sharing:
            st.caption(tr("oldmail.ui.include_passwords_sharing"))
    if common.old_host is None or common.switch_at is None or not clients:
        st.info(tr("oldmail.ui.fill_in"))
        return
    settings = PageSettings(
        old_host=common.old_host,
        timing=compute_timing(common.switch_at, zone_name, margin_hours=int(margin)),
        new_server=new_server,
        lang=page_lang,
        old_port=common.port,
        new_protocol=protocol,
        clients=tuple(clients),
        include_generated_passwords=include_passwords,
    )
    st.success(
        tr(
            "oldmail.ui.when_summary",
            fetch_after=format_after(settings.timing.fetch_after, frame.lang(), zone_name),
        )
    )
    renderer = PageRenderer(settings)
    by_address = {m.address: m for m in mailboxes}
    chosen = st.selectbox(
        tr("oldmail.ui.preview_user"), options=list(by_address), key=_K + "preview_user"
    )
    user = by_address[chosen]
    buttons = st.columns(3)
    buttons[0].download_button(
        tr("oldmail.ui.download_page"),
        data=renderer.render(user).encode("utf-8"),
        file_name=page_filename(user.address),
        mime="text/html",
        key=_K + "download_page",
        on_click="ignore",
    )
    buttons[1].download_button(
        tr("oldmail.ui.download_profile"),
        data=apple_mobileconfig(user.address, new_server, name=user.name, protocol=protocol),
        file_name=page_filename(user.address).removesuffix(".html") + ".mobileconfig",
        mime=MOBILECONFIG_MIME,
        key=_K + "download_profile",
        on_click="ignore",
        help=tr("oldmail.ui.download_profile_help"),
    )
    frozen = list(mailboxes)
    buttons[2].download_button(
        tr("oldmail.ui.download_zip", count=len(frozen)),
        data=lambda: build_zip(frozen, settings),  # built on click, in the background
        file_name=ZIP_NAME,
        mime="application/zip",
        key=_K + "download_zip",
        type="primary",
        on_click="ignore",
        help=tr("oldmail.ui.download_zip_help"),
    )
    if renderer.includes_password(user):
        st.caption(tr("oldmail.ui.preview_masked"))
    page = renderer.render(user, mask_password=True)
    # A data: URL gives the preview its own opaque origin: the page cannot reach the app.
    url = "data:text/html;charset=utf-8;base64," + base64.b64encode(page.encode()).decode()
    st.iframe(url, height=_PREVIEW_HEIGHT)


# -- server-side retrieval ---------------------------------------------------------------


def _sweep_tab(
    tr: Translator,
    who: Identity,
    mailboxes: list[MailboxLike],
    common: _Common,
    zone_name: str,
) -> None:
    st.write(tr("oldmail.ui.sweep_intro"))
    pfa = frame.pfa_client()
    if pfa is None:
        st.error(tr("oldmail.ui.sweep_no_session"))
        return
    domains = sorted({domain_of(m.address) for m in mailboxes})
    _expire_if_due(tr, who, pfa, domains)
    eligible = [m for m in mailboxes if m.password and not m.generated_password]
    st.caption(
        tr(
            "oldmail.ui.sweep_eligible",
            eligible=len(eligible),
            others=len(mailboxes) - len(eligible),
        )
    )
    left, right = st.columns(2)
    keep = left.checkbox(
        tr("oldmail.ui.sweep_keep"),
        value=True,
        key=_K + "keep",
        help=tr("oldmail.ui.sweep_keep_help"),
    )
    check_login = left.checkbox(
        tr("oldmail.ui.sweep_check_login"),
        value=len(eligible) <= 50,
        key=_K + "check_login",
        help=tr("oldmail.ui.sweep_check_login_help"),
    )
    poll = right.number_input(
        tr("oldmail.ui.sweep_poll"), min_value=1, max_value=1440, value=10, key=_K + "poll"
    )
    days = right.number_input(
        tr("oldmail.ui.sweep_days"), min_value=1, max_value=60, value=7, key=_K + "days"
    )
    if common.old_host is None:
        st.info(tr("oldmail.ui.fill_in"))
    else:
        settings = SweepSettings(
            old_host=common.old_host,
            port=common.port,
            keep=keep,
            poll_minutes=int(poll),
            days=int(days),
        )
        for key in caveats(settings):
            st.warning(tr(key))
        now = datetime.now(zone(zone_name))
        before_switch = common.switch_at is None or now < common.switch_at
        if before_switch:
            st.info(tr("oldmail.ui.sweep_after_switch"))
        if st.button(
            tr("oldmail.ui.sweep_start", count=len(eligible)),
            type="primary",
            disabled=before_switch or not eligible,
            key=_K + "start",
        ):
            _start(tr, who, pfa, eligible, settings, check_login)
    _show_start_results(tr)
    _status_section(tr, who, pfa, domains, zone_name)


def _start(
    tr: Translator,
    who: Identity,
    pfa: PostfixAdminClient,
    eligible: list[MailboxLike],
    settings: SweepSettings,
    check_login: bool,
) -> None:
    bar = st.progress(0.0, text=tr("oldmail.ui.sweep_starting"))
    total = max(len(eligible), 1)

    def progress(done: int) -> None:
        bar.progress(done / total, text=tr("oldmail.ui.sweep_progress", done=done, total=total))

    try:
        outcomes = start_sweep(pfa, eligible, settings, check_login=check_login, progress=progress)
    except PostfixAdminError:
        bar.empty()
        st.error(tr("oldmail.ui.sweep_pfa_error"))
        return
    bar.empty()
    # Only addresses, statuses and reasons are kept: never a password.
    st.session_state[_K + "start_results"] = [
        {"address": o.address, "status": o.status, "detail": o.detail} for o in outcomes
    ]
    started = {o.address.rsplit("@", 1)[1] for o in outcomes if o.status in ("created", "exists")}
    for domain in sorted(started):
        frame.store().record_event(
            who.username, EVENT_START, domain=domain, detail=start_detail(settings)
        )


def _show_start_results(tr: Translator) -> None:
    rows: list[dict[str, str]] | None = st.session_state.get(_K + "start_results")
    if not rows:
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(
        f"{tr(f'oldmail.ui.start_status.{status}')}: {n}" for status, n in sorted(counts.items())
    )
    st.success(tr("oldmail.ui.sweep_started", summary=summary))
    problems = [r for r in rows if r["status"] != "created"]
    if problems:
        table = pd.DataFrame(
            {
                tr("oldmail.ui.col_address"): [r["address"] for r in problems],
                tr("oldmail.ui.col_status"): [
                    tr(f"oldmail.ui.start_status.{r['status']}") for r in problems
                ],
                tr("oldmail.ui.col_detail"): [r["detail"] for r in problems],
            }
        )
        st.dataframe(table, hide_index=True)


def _deadline(domains: Sequence[str]) -> dict[str, datetime]:
    events = frame.store().recent_events(1000, domains=list(domains))
    found: dict[str, datetime] = {}
    for domain in domains:
        until = deadline_from_events(events, domain)
        if until is not None:
            found[domain] = until
    return found


def _expire_if_due(
    tr: Translator, who: Identity, pfa: PostfixAdminClient, domains: Sequence[str]
) -> None:
    """Remove jobs whose configured number of days is over (checked when the page opens)."""
    now = datetime.now().astimezone()
    for domain, until in _deadline(domains).items():
        if until > now:
            continue
        try:
            outcomes = stop_sweep(pfa, domains=[domain], old_host=None)
        except PostfixAdminError:
            st.error(tr("oldmail.ui.sweep_pfa_error"))
            return
        frame.store().record_event(who.username, EVENT_STOP, domain=domain, detail="expired")
        removed = sum(o.removed for o in outcomes)
        st.info(tr("oldmail.ui.sweep_expired", domain=domain, count=removed))


def _status_section(
    tr: Translator,
    who: Identity,
    pfa: PostfixAdminClient,
    domains: Sequence[str],
    zone_name: str,
) -> None:
    st.subheader(tr("oldmail.ui.status_title"))
    notice = st.session_state.pop(_K + "notice", None)
    if notice is not None:
        kind, text = notice
        (st.error if kind == "error" else st.success)(text)
    st.button(tr("oldmail.ui.refresh"), key=_K + "refresh")
    try:
        rows = sweep_status(pfa, domains=domains)
    except PostfixAdminError:
        st.error(tr("oldmail.ui.sweep_pfa_error"))
        return
    if not rows:
        st.caption(tr("oldmail.ui.status_none"))
        return
    for domain, until in sorted(_deadline(domains).items()):
        local = until.astimezone(zone(zone_name))
        when = format_when(local, frame.lang(), zone_name)
        st.caption(tr("oldmail.ui.sweep_until", domain=domain, when=when))
    data: dict[str, list[Any]] = {
        tr("oldmail.ui.col_address"): [r.job.mailbox for r in rows],
        tr("oldmail.ui.col_old_host"): [r.job.src_server for r in rows],
        tr("oldmail.ui.col_last_run"): [
            r.job.date if r.job.has_run else tr("oldmail.ui.never") for r in rows
        ],
        tr("oldmail.ui.col_state"): [tr(f"oldmail.ui.state.{r.state}") for r in rows],
        tr("oldmail.ui.col_result"): [r.result for r in rows],
    }
    st.dataframe(pd.DataFrame(data), hide_index=True)
    if any(r.state == "ran" for r in rows):
        st.caption(tr("oldmail.ui.state_ran_help"))
    hosts = sorted({r.job.src_server for r in rows})
    confirm = st.checkbox(tr("oldmail.ui.stop_confirm", count=len(rows)), key=_K + "stop_confirm")
    if st.button(tr("oldmail.ui.stop"), disabled=not confirm, key=_K + "stop"):
        try:
            outcomes = stop_sweep(pfa, domains=domains, old_host=None)
        except PostfixAdminError:
            st.error(tr("oldmail.ui.sweep_pfa_error"))
            return
        for domain in sorted({o.job.domain for o in outcomes if o.removed}):
            frame.store().record_event(
                who.username, EVENT_STOP, domain=domain, detail=f"old_host={','.join(hosts)}"
            )
        failed = [o for o in outcomes if not o.removed]
        st.session_state.pop(_K + "start_results", None)
        if failed:
            notice = ("error", tr("oldmail.ui.stop_failed", count=len(failed)))
        else:
            notice = ("success", tr("oldmail.ui.stopped", count=len(outcomes)))
        st.session_state[_K + "notice"] = notice
        st.rerun()  # the table above still shows the removed jobs
