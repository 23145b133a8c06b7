"""The shared frame every page sits in: language, sign-in state, step header.

This is the only place outside ``pages/`` that imports streamlit. It holds no
business logic: it keeps per-user state in ``st.session_state`` (never in a
cache shared between sessions) and calls ``mailmove`` for everything else.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import streamlit as st

from mailmove.auth import Identity, is_idle
from mailmove.config import Config, load_config
from mailmove.i18n import DEFAULT_LANG, LANGS, Lang, Translator, normalise_lang
from mailmove.postfixadmin import PostfixAdminClient
from mailmove.projects import Project, ProjectNotFound, Projects
from mailmove.steps import STEPS, step_for_page
from mailmove.store import Store

log = logging.getLogger("mailmove.ui")

_IDENTITY = "mm_identity"
_CLIENT = "mm_pfa_client"
_LAST_SEEN = "mm_last_seen"
_NOTICE = "mm_notice"
_PROJECT = "mm_project_id"
_SCREEN_SHARE = "mm_screen_share"


@st.cache_resource(show_spinner=False)
def config() -> Config:
    """Read once per app process: the configuration holds no per-user data."""
    return load_config()


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """One database handle for the process; rows are scoped per user by the callers."""
    s = Store(config().store)
    s.migrate()
    return s


def lang() -> Lang:
    return normalise_lang(st.session_state.get("lang", DEFAULT_LANG))


def tr() -> Translator:
    return Translator(lang())


def language_switch() -> None:
    """Japanese by default, English one click away; ``?lang=en`` opens in English."""
    if "lang" not in st.session_state:
        st.session_state["lang"] = normalise_lang(st.query_params.get("lang", DEFAULT_LANG))
    labels = {code: Translator(code)(f"app.lang.{code}") for code in LANGS}
    st.sidebar.segmented_control(
        tr()("app.language"),
        options=list(LANGS),
        format_func=labels.__getitem__,
        required=True,
        key="lang",
        on_change=_lang_to_url,
    )


def _lang_to_url() -> None:
    """Keep the choice in the URL, so a reload or a shared link keeps the language."""
    st.query_params["lang"] = lang()


def identity() -> Identity | None:
    """The signed-in user, or None; an idle session is signed out here."""
    who: Identity | None = st.session_state.get(_IDENTITY)
    if who is None:
        return None
    now = time.monotonic()
    if is_idle(st.session_state.get(_LAST_SEEN, now), now):
        sign_out(notice="signin.idle_timeout")
        return None
    st.session_state[_LAST_SEEN] = now
    return who


def pfa_client() -> PostfixAdminClient | None:
    """This user's own PostfixAdmin session; it never leaves their app session."""
    return st.session_state.get(_CLIENT)


def remember_sign_in(who: Identity, client: PostfixAdminClient) -> None:
    st.session_state[_IDENTITY] = who
    st.session_state[_CLIENT] = client
    st.session_state[_LAST_SEEN] = time.monotonic()
    store().record_event(who.username, "sign_in", detail=f"server={who.server}")


def sign_out(*, notice: str | None = None) -> None:
    who: Identity | None = st.session_state.pop(_IDENTITY, None)
    # Everything of this user goes, not only the sign-in: lists, project choice, results.
    for key in [k for k in st.session_state if str(k).startswith("mm_") and k != _NOTICE]:
        del st.session_state[key]
    client: PostfixAdminClient | None = st.session_state.pop(_CLIENT, None)
    st.session_state.pop(_LAST_SEEN, None)
    if client is not None:
        client.logout()
    if who is not None:
        store().record_event(who.username, "sign_out", detail=notice or "")
    if notice:
        st.session_state[_NOTICE] = notice


def pop_notice() -> str | None:
    """A message left for the next page render (e.g. 'signed out after idling')."""
    notice: str | None = st.session_state.pop(_NOTICE, None)
    return notice


def account_box(who: Identity) -> None:
    t = tr()
    role = t("signin.role_staff") if who.is_staff else t("signin.role_customer")
    st.sidebar.text(f"{t('signin.signed_in_as', user=who.username)} ({role})")
    if _SCREEN_SHARE not in st.session_state:
        st.session_state[_SCREEN_SHARE] = who.is_staff  # on by default for staff
    st.sidebar.toggle(t("frame.screen_share"), key=_SCREEN_SHARE, help=t("frame.screen_share_help"))
    if screen_share():
        # Larger type for a shared screen. Secrets are not hidden by CSS: helpers never
        # render them at all while this mode is on (see screen_share()).
        st.html("<style>html, .stMarkdown, .stTable { font-size: 1.18rem; }</style>")
    if st.sidebar.button(t("signin.sign_out"), key="sign_out"):
        sign_out()
        st.rerun()


def screen_share() -> bool:
    """True while the screen may be seen by others: passwords are never rendered."""
    return bool(st.session_state.get(_SCREEN_SHARE, False))


def projects(who: Identity) -> Projects:
    return Projects(store(), who)


def current_project(who: Identity) -> Project | None:
    """The project this session works on: chosen by staff, the customer's own otherwise."""
    chosen = st.session_state.get(_PROJECT)
    if chosen is not None:
        try:
            return projects(who).get(int(chosen))
        except ProjectNotFound:
            st.session_state.pop(_PROJECT, None)
    if who.is_staff:
        return None
    open_projects = [p for p in projects(who).list() if p.done_at is None]
    return open_projects[0] if open_projects else None


def choose_project(project_id: int | None) -> None:
    if project_id is None:
        st.session_state.pop(_PROJECT, None)
    else:
        st.session_state[_PROJECT] = project_id


def step_header(url_path: str) -> None:
    """The four steps in FAQ order, the current one highlighted."""
    t = tr()
    current = step_for_page(url_path)
    st.caption(t("steps.header"))
    for col, step in zip(st.columns(len(STEPS)), STEPS, strict=True):
        label = t(step.title_key)
        if current is not None and step.key == current.key:
            col.markdown(f":blue-background[**{label}**]  \n:blue[{t('steps.you_are_here')}]")
        else:
            col.markdown(f":gray[{label}]")


def require_identity() -> Identity:
    """Pages call this first: signed-out users get a pointer to the sign-in page."""
    who = identity()
    if who is None:
        st.info(tr()("signin.required"))
        st.stop()
    return who


def run_guarded(run: Callable[[], None]) -> None:
    """Run a page; an unexpected error is logged with an id, the user sees only the id."""
    try:
        run()
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("page error id=%s", error_id)
        st.error(tr()("error.unexpected", error_id=error_id))
