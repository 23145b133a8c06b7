"""Streamlit helpers for the provisioning step: show the plan, run the job, poll it.

Why the job is not run by the page itself: a Streamlit rerun (any click) restarts the
page script. The job therefore runs in its own thread (:class:`ProvisionJob`), is
found again through :data:`mailmove.apply.REGISTRY` by the id kept in
``st.session_state``, and the page only polls :meth:`ProvisionJob.progress` from a
fragment that reruns itself every second. Closing the browser does not stop the job;
signing in again shows it (``REGISTRY.active(job_key(who))``) or, after a restart of
the app, its saved results (``job_log().get_job(...)``) and a resume button.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

import pandas as pd
import streamlit as st

from mailmove.apply import REGISTRY, JobAlreadyRunning, JobOutcome, ProvisionJob
from mailmove.auth import Identity
from mailmove.i18n import Translator
from mailmove.jobs import JobLog, SqlJobLog, migrate_jobs
from mailmove.plan import Desired, Plan, PlanOptions, build_plan, scope_of
from mailmove.postfixadmin import PostfixAdminClient, PostfixAdminError
from mailmove.ui import frame

_JOB_ID = "mm_provision_job_id"
_POLL_S = 1.0


_tables_ready = threading.Lock()
_tables: list[bool] = []


def job_log() -> JobLog:
    """Job results in the app's store; a thin handle, so nothing is cached per process.

    The tables come from store.MIGRATIONS once the lead registers ``migrate_jobs``;
    until then they are created here once (the migration is idempotent).
    """
    engine = frame.store().engine
    with _tables_ready:
        if not _tables:
            with engine.begin() as conn:
                migrate_jobs(conn)
            _tables.append(True)
    return SqlJobLog(engine)


def job_key(who: Identity) -> str:
    """One running job per PostfixAdmin account and server."""
    return f"{who.server}:{who.username}"


def options_for(who: Identity) -> PlanOptions:
    """A customer is limited to the domains PostfixAdmin lists for them; staff are not."""
    server = frame.config().server(who.server)
    return PlanOptions(
        scope=None if who.is_staff else scope_of(who.domains),
        password_policy=server.password_policy,
    )


def start(
    who: Identity,
    client: PostfixAdminClient,
    desired: Desired,
    *,
    plan: Plan | None = None,
    accepted: Collection[str] = (),
    resume_id: str | None = None,
) -> ProvisionJob:
    """Start (or resume) the job in the background with a PFA session of its own."""
    running = REGISTRY.active(job_key(who))
    if running is not None:
        st.session_state[_JOB_ID] = running.job_id
        return running
    job = ProvisionJob(
        client.fork(),  # the page keeps using its own session meanwhile
        desired,
        log=job_log(),
        options=options_for(who),
        server=who.server,
        job_id=resume_id,
        accept_conflicts=set(accepted),
        plan=plan if resume_id is None else None,
        close_backend=True,
    )
    try:
        REGISTRY.start(job, key=job_key(who))
    except JobAlreadyRunning as err:
        job = err.job
    st.session_state[_JOB_ID] = job.job_id
    return job


def current_job(who: Identity) -> ProvisionJob | None:
    job_id = st.session_state.get(_JOB_ID)
    job = REGISTRY.get(job_id) if job_id else None
    return job if job is not None else REGISTRY.active(job_key(who))


def plan_view(plan: Plan, tr: Translator) -> set[str]:
    """The plan as tables; conflicts side by side with a checkbox each.

    Returns the keys of the conflicts the customer ticked (pass them to :func:`start`).
    """
    lang = tr.lang
    st.subheader(tr("provision.plan.title"))
    rows = [
        {
            "": tr(f"provision.op.{a.op}"),
            "address": a.object,
            "detail": a.detail(lang),
        }
        for a in plan.pending
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    accepted: set[str] = set()
    if plan.conflicts:
        st.warning(tr("provision.conflicts.title", count=len(plan.conflicts)))
        for conflict in plan.conflicts:
            table = pd.DataFrame(
                {
                    tr("provision.conflicts.live"): [f.live for f in conflict.fields],
                    tr("provision.conflicts.desired"): [f.desired for f in conflict.fields],
                },
                index=[tr(f"provision.field.{f.field}") for f in conflict.fields],
            )
            st.markdown(f"**{conflict.object}**")
            st.table(table)
            if st.checkbox(tr("provision.conflicts.confirm"), key=f"mm_accept_{conflict.key}"):
                accepted.add(conflict.key)
    for warning in plan.warnings:
        st.info(warning.message(lang))
    if plan.errors:
        st.error(tr("provision.plan.refused", count=len(plan.errors)))
        for error in plan.errors:
            st.markdown(f"- {error.message(lang)}")
    elif not plan.pending:
        st.success(tr("provision.plan.nothing"))
    return accepted


@st.fragment(run_every=_POLL_S)
def progress_view(
    job_id: str,
    lang_code: str,
    who: Identity | None = None,
    project_id: int | None = None,
) -> None:
    """Polls the job once a second; reruns of the page do not touch the job."""
    tr = Translator("en" if lang_code == "en" else "ja")
    job = REGISTRY.get(job_id)
    if job is None:
        return
    progress = job.progress()
    st.progress(progress.fraction, text=progress.text(tr.lang))
    st.caption(tr(f"provision.state.{progress.state}"))
    if not progress.finished:
        if st.button(tr("provision.job.cancel"), key=f"mm_cancel_{job_id}"):
            job.cancel()
        return
    outcome = job.outcome
    if outcome is None:
        return
    if who is not None and project_id is not None:
        _record_verification(who, project_id, job_id, outcome)
    st.write(outcome.summary.text(tr.lang))
    checks = outcome.checks
    if checks and all(c.status == "present" for c in checks):
        st.success(tr("provision.verify.all_present"))
    elif checks:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "address": c.address,
                        "": tr(f"provision.check.{c.status}"),
                        "detail": c.detail,
                    }
                    for c in checks
                    if c.status != "present"
                ]
            ),
            hide_index=True,
        )
    failed = [r for r in outcome.results if r.failed or r.warnings]
    if failed:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "address": r.object,
                        "": tr(f"provision.status.{r.status}"),
                        "message": "; ".join([r.message, *r.warnings]).strip("; "),
                    }
                    for r in failed
                ]
            ),
            hide_index=True,
        )


_PLAN = "mm_provision_plan"
_RECORDED = "mm_provision_recorded"


def section(who: Identity, project_id: int | None, kept: object) -> None:
    """Plan → confirm → apply in the background → verified list saved with the project.

    ``kept`` is the validated ListResult the customer chose to continue with; only its
    valid rows are used (invalid rows were shown on the page and stay out).
    """
    tr = frame.tr()
    st.header(tr("provision.section.title"))
    client = frame.pfa_client()
    if client is None or project_id is None:
        st.info(tr("provision.section.need_project"))
        return
    desired = Desired(
        mailboxes=tuple(getattr(kept, "mailboxes", ())),
        forwards=tuple(getattr(kept, "forwards", ())),
    )
    job = current_job(who)
    if job is None or job.progress().finished:
        cached = st.session_state.get(_PLAN)
        if cached is None or cached[0] != desired.fingerprint():
            with st.spinner(tr("provision.section.planning")):
                try:
                    plan = build_plan(client.fork(), desired, options_for(who))
                except PostfixAdminError:
                    st.error(tr("provision.section.unreachable"))
                    return
            st.session_state[_PLAN] = (desired.fingerprint(), plan)
        plan = st.session_state[_PLAN][1]
        accepted = plan_view(plan, tr)
        if st.button(
            tr("provision.section.apply"),
            type="primary",
            disabled=not plan.runnable,  # nothing to change still verifies what exists
            key="mm_provision_apply",
        ):
            st.session_state.pop(_PLAN, None)
            st.session_state.pop(_RECORDED, None)
            job = start(who, client, desired, plan=plan, accepted=accepted)
            frame.projects(who).log(project_id, "apply_started", f"{len(plan.pending)} changes")
    if job is not None:
        progress_view(job.job_id, tr.lang, who, project_id)


def _record_verification(who: Identity, project_id: int, job_id: str, outcome: JobOutcome) -> None:
    """Once per job: the cutover gate reads what the server really has after apply."""
    if not outcome.checks or st.session_state.get(_RECORDED) == job_id:
        return
    project = frame.projects(who).get(project_id)
    found = {
        c.address: c.status == "present"
        for c in outcome.checks
        if c.address.rpartition("@")[2] in project.domains
    }
    frame.projects(who).record_verification(project_id, found)
    st.session_state[_RECORDED] = job_id
