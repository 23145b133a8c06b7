"""Run a provisioning plan as a resumable job: in order, one saved result per item.

Why it is built this way (issue #4):

* **Resumable, idempotent.** A run always plans against the live state first, so a
  resume after a crash, an outage or a closed browser simply does what is still
  missing, and a run after success changes nothing (every item ``skip``).
* **Saved as it goes.** Each item's result goes to the :class:`~mailmove.jobs.JobLog`
  the moment it completes, without passwords (messages are scrubbed too).
* **Background-safe.** :class:`ProvisionJob` runs in its own thread; a Streamlit rerun
  only reads :meth:`ProvisionJob.progress`. :data:`REGISTRY` keeps running jobs
  reachable across reruns and refuses a second job for the same account.
* **Outages.** While PostfixAdmin is unreachable the job waits and retries (state
  ``waiting``) for ``outage_wait_s``; after that it stops as ``interrupted``, and a new
  job with the same ``job_id`` resumes it.
* **Half-created mailboxes** (PFA's two INSERTs without a transaction) are repaired:
  a create answered with "already exists" looks again, and an alias ``x -> x`` with no
  mailbox is deleted and the create retried.
* **Side effects** that fail after a create (hook, welcome mail) are warnings.
* **Verify.** Finally the live state is read back and every listed address marked
  present, missing or different; that is what the cutover gate relies on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Final, TypeVar

from mailmove.i18n import DEFAULT_LANG, Lang, t
from mailmove.jobs import (
    FINAL_STATES,
    AddressCheck,
    ItemResult,
    ItemStatus,
    JobLog,
    JobRecord,
    JobState,
    MemoryJobLog,
)
from mailmove.plan import (
    Action,
    Conflict,
    Desired,
    Plan,
    PlanOptions,
    build_plan,
    make_plan,
    read_live,
    verify,
)
from mailmove.postfixadmin import (
    Backend,
    Forbidden,
    LiveState,
    Outcome,
    PostfixAdminError,
    ProtocolError,
    Rejected,
    Unreachable,
)

__all__ = [
    "REGISTRY",
    "JobAlreadyRunning",
    "JobOutcome",
    "JobRegistry",
    "Progress",
    "ProvisionJob",
    "Summary",
    "plan_only",
]

log = logging.getLogger("mailmove.provision")

_T = TypeVar("_T")
_MAX_BACKOFF_S: Final = 5.0


@dataclass(frozen=True)
class Progress:
    """A snapshot for a progress bar; cheap to take from any thread."""

    job_id: str
    state: JobState
    done: int = 0
    total: int = 0
    failures: int = 0
    warnings: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    current: str | None = None
    message: str = ""  # why the job waits or stopped (never contains a password)

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def text(self, lang: Lang = DEFAULT_LANG) -> str:
        """One line for a progress bar: done / total, failures, time left."""
        if self.eta_s is None or self.finished:
            return t(
                "provision.progress.no_eta",
                lang,
                done=self.done,
                total=self.total,
                failures=self.failures,
            )
        return t(
            "provision.progress.eta",
            lang,
            done=self.done,
            total=self.total,
            failures=self.failures,
            minutes=int(self.eta_s // 60),
            seconds=int(self.eta_s % 60),
        )


@dataclass(frozen=True)
class Summary:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    declined: int = 0

    @classmethod
    def of(cls, results: Sequence[ItemResult]) -> Summary:
        created = sum(r.status in ("created", "repaired") for r in results)
        updated = sum(r.status == "updated" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        declined = sum(r.status == "declined" for r in results)
        failed = sum(r.failed for r in results)
        return cls(created, updated, skipped, failed, declined)

    def text(self, lang: Lang = DEFAULT_LANG) -> str:
        return t(
            "provision.summary",
            lang,
            created=self.created,
            updated=self.updated,
            skipped=self.skipped,
            failed=self.failed,
            declined=self.declined,
        )


@dataclass(frozen=True)
class JobOutcome:
    """The end of one run; ``results`` and ``checks`` cover the whole job (all runs)."""

    job_id: str
    state: JobState
    plan: Plan | None
    results: tuple[ItemResult, ...] = ()
    checks: tuple[AddressCheck, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> Summary:
        return Summary.of(self.results)

    @property
    def verified(self) -> bool:
        """Every listed address was read back as listed."""
        return bool(self.checks) and all(c.status == "present" for c in self.checks)

    @property
    def ok(self) -> bool:
        """Done, nothing failed, every listed address present: safe for the MX switch."""
        return self.state == "done" and self.summary.failed == 0 and self.verified

    def to_json(self, lang: Lang = DEFAULT_LANG) -> dict[str, object]:
        summary = self.summary
        return {
            "job_id": self.job_id,
            "state": self.state,
            "ok": self.ok,
            "summary": {
                "created": summary.created,
                "updated": summary.updated,
                "skipped": summary.skipped,
                "failed": summary.failed,
                "declined": summary.declined,
            },
            "results": [r.to_json() for r in self.results],
            "verification": [c.to_json() for c in self.checks],
            "notes": list(self.notes),
            "errors": [e.to_json(lang) for e in self.plan.errors] if self.plan else [],
        }


class _Interrupted(Exception):
    """PostfixAdmin stayed unreachable longer than the job may wait."""


class _Cancelled(Exception):
    """cancel() was called."""


class JobAlreadyRunning(Exception):
    """A job for the same account is still running; ``job`` is that job."""

    def __init__(self, job: ProvisionJob) -> None:
        super().__init__(f"provisioning job {job.job_id} is still running")
        self.job = job


class ProvisionJob:
    """Plan and apply the lists through one backend; run() here or start() in a thread.

    The job owns ``backend`` while it runs: give it a session of its own (e.g.
    ``PostfixAdminClient.fork()``), not one a page keeps using. To resume an interrupted
    or crashed job, create a new ProvisionJob with the same ``job_id``, the same log
    and the same lists (passwords are never stored, so the lists must be given again).

    ``accept_conflicts``: True accepts all, or a collection of :attr:`Conflict.key`;
    unaccepted conflicts are left as they are (status ``declined``).
    ``plan``: a plan the customer has just seen, used for the first run instead of
    planning again (a resume always plans again).
    """

    def __init__(
        self,
        backend: Backend,
        desired: Desired,
        *,
        log: JobLog | None = None,
        options: PlanOptions | None = None,
        server: str = "",
        job_id: str | None = None,
        accept_conflicts: bool | Collection[str] = False,
        outage_wait_s: float = 30.0,
        on_progress: Callable[[Progress], None] | None = None,
        verify: bool = True,
        plan: Plan | None = None,
        close_backend: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id or uuid.uuid4().hex
        self.backend = backend
        self.desired = desired
        self.log: JobLog = log if log is not None else MemoryJobLog()
        self.options = options or PlanOptions()
        self.server = server
        self.outage_wait_s = outage_wait_s
        self.on_progress = on_progress
        self.verify = verify
        self.close_backend = close_backend
        self._accept = accept_conflicts
        self._given_plan = plan
        self._clock = clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = Progress(self.job_id, "pending")
        self._outcome: JobOutcome | None = None
        self._plan: Plan | None = None
        self._started_at = 0.0
        self._busy_s = 0.0
        self._executed = 0
        self._remaining_work = 0
        self._failed_domains: set[str] = set()
        self._failed_mailboxes: set[str] = set()
        self._phase_results: list[ItemResult] = []
        # Longest first, so a password containing another one is scrubbed whole.
        self._secrets = sorted(
            {m.password for m in desired.mailboxes if m.password}, key=len, reverse=True
        )

    def __repr__(self) -> str:
        return f"ProvisionJob({self.job_id!r}, state={self._progress.state!r})"

    # -- control (any thread) --------------------------------------------------------

    def start(self) -> ProvisionJob:
        """Run in a daemon thread and return at once; a second call does nothing."""
        with self._lock:
            if self._thread is not None:
                return self
            self._thread = threading.Thread(
                target=self.run, name=f"provision-{self.job_id[:8]}", daemon=True
            )
            self._thread.start()
        return self

    def progress(self) -> Progress:
        with self._lock:
            progress = self._progress
        if not progress.finished and self._started_at:
            progress = replace(progress, elapsed_s=self._clock() - self._started_at)
        return progress

    def cancel(self) -> None:
        """Stop after the item in progress; the job can be resumed later."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobOutcome | None:
        """The outcome once finished, or None if ``timeout`` passed first."""
        self._finished.wait(timeout)
        return self._outcome

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def outcome(self) -> JobOutcome | None:
        return self._outcome

    @property
    def plan(self) -> Plan | None:
        return self._plan

    # -- the run ---------------------------------------------------------------------

    def run(self) -> JobOutcome:
        """Plan, apply, verify; never raises for PostfixAdmin trouble (see the state)."""
        self._started_at = self._clock()
        identity = self.backend.identity
        record = self.log.open_job(
            JobRecord(
                id=self.job_id,
                server=self.server,
                actor=identity.username if identity is not None else "",
                fingerprint=self.desired.fingerprint(),
                domains=tuple(self.desired.all_domains()),
            )
        )
        notes: list[str] = []
        if record.fingerprint != self.desired.fingerprint():
            notes.append("resumed with lists that differ from the ones the job started with")
        try:
            state = self._run()
        except _Interrupted as err:
            state = "interrupted"
            notes.append(f"interrupted: {self._scrub(str(err))}")
        except _Cancelled:
            state = "cancelled"
        except PostfixAdminError as err:
            state = "failed"
            notes.append(self._scrub(str(err)))
        except Exception as err:  # the thread must always end with a recorded state
            state = "failed"
            notes.append(f"unexpected error: {type(err).__name__}: {self._scrub(str(err))}")
            log.error(
                "provisioning job %s crashed:\n%s",
                self.job_id,
                self._scrub("".join(traceback.format_exception(err))),
            )
        return self._finish(state, notes)

    def _run(self) -> JobState:
        self._set(state="reading")
        if self._given_plan is not None:
            plan, self._given_plan = self._given_plan, None
        else:
            plan = self._retrying(lambda: build_plan(self.backend, self.desired, self.options))
        self._plan = plan
        if not plan.runnable:
            self.log.update_job(
                self.job_id,
                state="refused",
                add_notes=[e.message("en") for e in plan.errors],
            )
            return "refused"
        total = len(plan.actions)
        self._remaining_work = len(plan.pending)
        self.log.update_job(self.job_id, state="running", total=total, done=0, failures=0)
        self._set(state="running", total=total)
        phase: int | None = None
        for seq, action in enumerate(plan.actions):
            if self._cancel.is_set():
                raise _Cancelled
            if action.phase != phase:
                if phase is not None:
                    self._attribute_warnings()
                phase = action.phase
            self._set(current=action.object)
            result = self._execute(seq, action, plan)
            self.log.record_item(self.job_id, result)
            self._phase_results.append(result)
            self._count(result)
        self._attribute_warnings()
        if self.verify:
            self._set(state="verifying", current=None)
            live = self._retrying(lambda: read_live(self.backend, self.desired))
            self.log.record_checks(self.job_id, verify(self.desired, live))
        return "done"

    def _execute(self, seq: int, action: Action, plan: Plan) -> ItemResult:
        def result(
            status: ItemStatus, message: str = "", warnings: Sequence[str] = ()
        ) -> ItemResult:
            return ItemResult(
                key=action.key,
                op=action.op,
                kind=action.kind,
                object=action.object,
                domain=action.domain,
                status=status,
                message=self._scrub(message),
                warnings=tuple(self._scrub(w) for w in warnings),
                row=action.row,
                seq=seq,
            )

        if action.op == "skip":
            return result("skipped")
        # Defence in depth: the planner already left these out; never send them.
        if action.domain not in plan.allowed_domains:
            return result("refused", f"{action.domain} is not one of the admin's domains")
        if action.domain in self._failed_domains and action.kind != "domain":
            return result("blocked", f"domain {action.domain} could not be created")
        if action.known is not None and action.object in self._failed_mailboxes:
            return result("blocked", f"mailbox {action.object} was not created")
        if action.conflict is not None and not self._accepted(action.conflict):
            return result("declined", "differs from the list; not confirmed")
        started = self._clock()
        try:
            outcome, status = self._retrying(lambda: self._perform(action))
        except Rejected as err:
            self._note_failure(action)
            log.info("job %s: %s %s failed", self.job_id, action.op, action.object)
            return result("failed", "; ".join(str(e) for e in err.errors))
        except (Forbidden, ProtocolError) as err:  # this item only; LoginFailed ends the job
            self._note_failure(action)
            return result("failed", str(err))
        finally:
            self._busy_s += self._clock() - started
            self._executed += 1
        log.info("job %s: %s %s -> %s", self.job_id, action.op, action.object, status)
        return result(status, "", outcome.warnings)

    def _perform(self, action: Action) -> tuple[Outcome, ItemStatus]:
        backend = self.backend
        if action.op == "create_domain":
            outcome = backend.create_domain(
                action.object,
                mailboxes=self.options.new_domain_mailboxes,
                aliases=self.options.new_domain_aliases,
            )
            return outcome, "created"
        if action.op == "create_mailbox":
            return self._create_mailbox(action)
        if action.op == "update_mailbox":
            outcome = backend.update_mailbox(
                action.object,
                name=action.name,
                quota_mb=action.quota_mb,
                active=True if action.set_active else None,
                password=action.password,
            )
            return outcome, "updated"
        if action.op == "create_alias":
            try:
                return backend.create_alias(action.object, action.targets), "created"
            except Rejected as err:
                # e.g. the request got through just before an outage cut the answer off
                if err.already_exists and self._alias_matches(action):
                    return Outcome(), "skipped"
                raise
        if action.op == "update_alias":
            outcome = backend.update_alias(
                action.object,
                action.targets,
                keep_copy=action.keep_copy,
                active=True if action.set_active else None,
                current=action.known,
            )
            return outcome, "updated"
        raise AssertionError(f"unknown op {action.op}")  # pragma: no cover

    def _create_mailbox(self, action: Action) -> tuple[Outcome, ItemStatus]:
        assert action.password is not None
        address = action.object
        status: ItemStatus = "created"
        if action.repair_orphan:
            self._delete_orphan(address)
            status = "repaired"
        try:
            outcome = self.backend.create_mailbox(
                address, action.password, name=action.name or "", quota_mb=action.quota_mb
            )
            return outcome, status
        except Rejected as err:
            if not err.already_exists:
                raise
            live = self._lookup(address)
            if address in live.mailboxes:
                return Outcome(), "skipped"  # created by the attempt an outage cut off
            alias = live.aliases.get(address)
            if alias is None or not alias.is_orphan_self_alias:
                raise
            log.info("job %s: repairing orphan self-alias %s", self.job_id, address)
            self._delete_orphan(address)
            outcome = self.backend.create_mailbox(
                address, action.password, name=action.name or "", quota_mb=action.quota_mb
            )
            return outcome, "repaired"

    def _delete_orphan(self, address: str) -> None:
        try:
            self.backend.delete_alias(address)
        except Rejected as err:
            if not err.does_not_exist:  # already gone (e.g. a retry after an outage)
                raise

    def _lookup(self, address: str) -> LiveState:
        return self.backend.read_state([address.rpartition("@")[2]], [address], ())

    def _alias_matches(self, action: Action) -> bool:
        alias = self._lookup(action.object).aliases.get(action.object)
        return alias is not None and {x.lower() for x in alias.targets} == set(action.targets)

    def _note_failure(self, action: Action) -> None:
        if action.op == "create_domain":
            self._failed_domains.add(action.object)
        elif action.op == "create_mailbox":
            self._failed_mailboxes.add(action.object)

    def _accepted(self, conflict: Conflict) -> bool:
        if isinstance(self._accept, bool):
            return self._accept
        return conflict.key in self._accept

    def _retrying(self, call: Callable[[], _T]) -> _T:
        """Run ``call``; while PostfixAdmin is unreachable wait and retry, up to the limit."""
        first_failure: float | None = None
        delay = 0.25
        while True:
            try:
                value = call()
            except Unreachable as err:
                now = self._clock()
                first_failure = now if first_failure is None else first_failure
                left = self.outage_wait_s - (now - first_failure)
                if left <= 0:
                    raise _Interrupted(str(err)) from None
                log.warning("job %s: PostfixAdmin unreachable, retrying: %s", self.job_id, err)
                self._set(state="waiting", message=self._scrub(str(err)))
                if self._cancel.wait(min(delay, left)):
                    raise _Cancelled from None
                delay = min(delay * 2, _MAX_BACKOFF_S)
                continue
            if first_failure is not None:
                self._set(state="running", message="")
            return value

    def _attribute_warnings(self) -> None:
        """Hand late side-effect warnings to the item they name, else to the job."""
        results, self._phase_results = self._phase_results, []
        messages = self._retrying(self.backend.drain_warnings)
        if not messages:
            return
        unmatched: list[str] = []
        by_object = {r.object: r for r in results}
        # Longest first: "aa@x.test" must not be credited to "a@x.test".
        names = sorted(by_object, key=len, reverse=True)
        for message in messages:
            name = next((n for n in names if n and n in message), None)
            target = by_object[name] if name is not None else None
            if target is None:
                unmatched.append(self._scrub(message))
                continue
            updated = replace(target, warnings=(*target.warnings, self._scrub(message)))
            by_object[target.object] = updated
            self.log.record_item(self.job_id, updated)
        with self._lock:
            self._progress = replace(
                self._progress, warnings=self._progress.warnings + len(messages)
            )
        if unmatched:
            self.log.update_job(self.job_id, add_notes=[f"warning: {m}" for m in unmatched])

    # -- bookkeeping -----------------------------------------------------------------

    def _count(self, result: ItemResult) -> None:
        if result.op != "skip":
            self._remaining_work = max(self._remaining_work - 1, 0)
        with self._lock:
            p = self._progress
            eta = None
            if self._executed:
                eta = self._busy_s / self._executed * self._remaining_work
            self._progress = replace(
                p,
                done=p.done + 1,
                failures=p.failures + int(result.failed),
                warnings=p.warnings + len(result.warnings),
                eta_s=eta,
            )
            progress = self._progress
        if progress.done % 25 == 0 or progress.done == progress.total:
            self.log.update_job(self.job_id, done=progress.done, failures=progress.failures)
        self._notify()

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._progress = replace(self._progress, **changes)  # type: ignore[arg-type]
        self._notify()

    def _notify(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.progress())
        except Exception:  # a broken progress display must not break provisioning
            log.exception("progress callback of job %s failed", self.job_id)

    def _finish(self, state: JobState, notes: list[str]) -> JobOutcome:
        progress = self.progress()
        self.log.update_job(
            self.job_id,
            state=state,
            done=progress.done,
            failures=progress.failures,
            add_notes=notes,
        )
        record = self.log.get_job(self.job_id)
        outcome = JobOutcome(
            job_id=self.job_id,
            state=state,
            plan=self._plan,
            results=tuple(self.log.items(self.job_id)),
            checks=tuple(self.log.checks(self.job_id)),
            notes=record.notes if record is not None else tuple(notes),
        )
        self._outcome = outcome
        message = notes[-1] if notes else ""
        with self._lock:
            self._progress = replace(
                self._progress,
                state=state,
                current=None,
                eta_s=None,
                message=message,
                elapsed_s=self._clock() - self._started_at,
            )
        if self.close_backend:
            with contextlib.suppress(PostfixAdminError):
                self.backend.close()
        self._finished.set()
        self._notify()
        log.info("job %s finished: %s", self.job_id, state)
        return outcome

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def plan_only(backend: Backend, desired: Desired, options: PlanOptions | None = None) -> Plan:
    """The plan a job would run now (read live state, diff); nothing is changed."""
    return make_plan(desired, read_live(backend, desired), options or PlanOptions())


class JobRegistry:
    """Jobs of this process, by id, so a page rerun can find and poll its job again.

    ``key`` (e.g. ``f"{server}:{username}"``) prevents a double click from starting two
    jobs for one account; the first one keeps running and is returned in the error.
    """

    def __init__(self, keep: int = 100) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, ProvisionJob] = {}
        self._keys: dict[str, str] = {}
        self._keep = keep

    def start(self, job: ProvisionJob, *, key: str | None = None) -> ProvisionJob:
        with self._lock:
            if key is not None:
                other = self._jobs.get(self._keys.get(key, ""))
                if other is not None and not other.progress().finished:
                    raise JobAlreadyRunning(other)
                self._keys[key] = job.job_id
            self._jobs[job.job_id] = job
            self._prune()
        return job.start()

    def get(self, job_id: str) -> ProvisionJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def active(self, key: str) -> ProvisionJob | None:
        """The unfinished job started under ``key``, if any."""
        with self._lock:
            job = self._jobs.get(self._keys.get(key, ""))
        return job if job is not None and not job.progress().finished else None

    def _prune(self) -> None:
        finished = [j for j, job in self._jobs.items() if job.progress().finished]
        for job_id in finished[: max(len(self._jobs) - self._keep, 0)]:
            del self._jobs[job_id]


REGISTRY: Final = JobRegistry()
