"""Server-side retrieval: one PostfixAdmin fetchmail job per mailbox, then status, then stop.

Why PostfixAdmin's own fetchmail table: the new server already knows how to run it
(``fetchmail.pl`` from cron), PostfixAdmin enforces the admin's domains, and the
users' old passwords then live only where the job needs them. mailmove sends each
password once, in the job's form POST, and keeps it nowhere (not in the store, not
in logs, not in results).

Who can be swept: users whose password came from the customer's list (taken to be
the password on the old server too). A generated password is new, so the old server
would refuse it: those users get instructions instead.

What the server must provide (production, see the module docs of ``_runner``):
``fetchmail.pl`` in cron against a MySQL/PostgreSQL PostfixAdmin database. In 3.3.13
it ignores ``src_port``, and fetchmail ≥ 6.4 checks TLS certificates and insists on
STARTTLS by default; :func:`caveats` turns those into warnings before a start.
"""

from __future__ import annotations

import poplib
import re
import socket
import ssl
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from mailmove.oldmail._model import MailboxLike, domain_of, is_ip
from mailmove.postfixadmin import PostfixAdminClient, PostfixAdminError
from mailmove.postfixadmin._fetchmail import (
    FetchmailJob,
    FetchmailJobRefused,
    NewFetchmailJob,
    add_fetchmail_job,
    delete_fetchmail_job,
    list_fetchmail_jobs,
)

__all__ = [
    "EVENT_START",
    "EVENT_STOP",
    "JobStatus",
    "StartOutcome",
    "StopOutcome",
    "SweepSettings",
    "caveats",
    "check_pop3_login",
    "deadline_from_events",
    "job_state",
    "result_line",
    "start_sweep",
    "stop_sweep",
    "sweep_status",
]

EVENT_START = "oldmail.sweep_start"  # audit-log actions; detail holds old_host and until
EVENT_STOP = "oldmail.sweep_stop"
DEFAULT_DAYS = 7
_FLUSH_EVERY = 50  # render a page now and then so PFA's flash messages do not pile up
_QUERY_STATUS = re.compile(r"Query status=(\d+)")
_FAILURE = re.compile(r"error|failure|failed|cannot|nonzero|timed out|stopped after", re.I)
_ROOT_WARNING = "fetchmail: WARNING: Running as root is discouraged."

StartStatus = Literal["created", "exists", "needs_instructions", "login_failed", "refused"]
JobState = Literal["waiting", "fetched", "no_new_mail", "ran", "error"]


@dataclass(frozen=True)
class SweepSettings:
    """How the jobs fetch from the old server (one setting for all mailboxes)."""

    old_host: str
    port: int = 995
    keep: bool = True  # leave the messages on the old server (fetchmail remembers UIDLs)
    poll_minutes: int = 10
    days: int = DEFAULT_DAYS  # remove the jobs this many days after the start
    login: Literal["address", "local_part"] = "address"
    tls: bool | None = None  # None: TLS unless the port is 110

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("port must be 1..65535")
        if self.poll_minutes < 1:
            raise ValueError("poll_minutes must be at least 1 (PostfixAdmin's rule)")
        if self.days < 1:
            raise ValueError("days must be at least 1")

    @property
    def use_tls(self) -> bool:
        return self.port != 110 if self.tls is None else self.tls

    def old_user(self, address: str) -> str:
        return address if self.login == "address" else address.rsplit("@", 1)[0]


@dataclass(frozen=True)
class StartOutcome:
    address: str
    status: StartStatus
    detail: str = ""  # PFA's or the old server's reason; never a password


@dataclass(frozen=True)
class StopOutcome:
    job: FetchmailJob
    removed: bool
    detail: str = ""


@dataclass(frozen=True)
class JobStatus:
    job: FetchmailJob
    state: JobState
    result: str  # one line for a table; the full text is job.returned_text


def caveats(settings: SweepSettings) -> list[str]:
    """Catalog keys of the production limits this start runs into (fetchmail.pl 3.3.13)."""
    keys = ["oldmail.sweep.caveat.cron"]
    if settings.port != (995 if settings.use_tls else 110):
        keys.append("oldmail.sweep.caveat.port")
    if not settings.use_tls:
        keys.append("oldmail.sweep.caveat.plain")
    if is_ip(settings.old_host):
        keys.append("oldmail.sweep.caveat.ip")
    return keys


def check_pop3_login(
    host: str, port: int, user: str, password: str, *, tls: bool = True, timeout: float = 10
) -> str | None:
    """Log in to the old server by POP3 from here; None if it worked, else the reason.

    Only an approximation of what the mail server will see (it connects from its own
    address, which the old host may block), but it catches wrong passwords before a
    job polls with them every few minutes. Certificates are verified, as fetchmail
    ≥ 6.4 does by default.
    """
    try:
        if tls:
            pop: poplib.POP3 = poplib.POP3_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            pop = poplib.POP3(host, port, timeout=timeout)
    except (OSError, poplib.error_proto) as err:
        return f"cannot connect to {host}:{port}: {_reason(err)}"
    try:
        pop.user(user)
        pop.pass_(password)
    except poplib.error_proto as err:
        return f"login refused: {_reason(err)}"
    except OSError as err:
        return f"connection lost: {_reason(err)}"
    finally:
        try:
            pop.quit()
        except (OSError, poplib.error_proto):
            pop.close()
    return None


def _reason(err: BaseException) -> str:
    if isinstance(err, poplib.error_proto) and err.args:
        raw = err.args[0]
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return text.strip()
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"certificate not accepted ({err.verify_message})"
    if isinstance(err, socket.timeout | TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


def _key(mailbox: str, server: str, user: str) -> tuple[str, str, str]:
    return mailbox.lower(), server.lower(), user.lower()


def start_sweep(
    client: PostfixAdminClient,
    mailboxes: Iterable[MailboxLike],
    settings: SweepSettings,
    *,
    check_login: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[StartOutcome]:
    """Create a job per eligible mailbox; existing identical jobs are left alone."""
    existing = {_key(j.mailbox, j.src_server, j.src_user) for j in list_fetchmail_jobs(client)}
    outcomes: list[StartOutcome] = []
    created = 0
    for n, mailbox in enumerate(mailboxes, 1):
        outcomes.append(_start_one(client, mailbox, settings, existing, check_login))
        if outcomes[-1].status == "created":
            created += 1
            if created % _FLUSH_EVERY == 0:
                client._request("GET", "main.php")
        if progress is not None:
            progress(n)
    if created % _FLUSH_EVERY:
        client._request("GET", "main.php")
    return outcomes


def _start_one(
    client: PostfixAdminClient,
    mailbox: MailboxLike,
    settings: SweepSettings,
    existing: set[tuple[str, str, str]],
    check_login: bool,
) -> StartOutcome:
    address = mailbox.address.lower()
    if mailbox.generated_password or not mailbox.password:
        return StartOutcome(address, "needs_instructions")
    user = settings.old_user(address)
    if _key(address, settings.old_host, user) in existing:
        return StartOutcome(address, "exists")
    if check_login:
        problem = check_pop3_login(
            settings.old_host, settings.port, user, mailbox.password, tls=settings.use_tls
        )
        if problem is not None:
            return StartOutcome(address, "login_failed", problem)
    job = NewFetchmailJob(
        mailbox=address,
        src_server=settings.old_host,
        src_user=user,
        src_password=mailbox.password,
        src_port=settings.port,
        protocol="POP3",
        usessl=settings.use_tls,
        sslcertck=settings.use_tls,
        keep=settings.keep,
        fetchall=False,  # with keep, fetchall would fetch everything again on every poll
        poll_time=settings.poll_minutes,
    )
    try:
        add_fetchmail_job(client, job)
    except FetchmailJobRefused as err:
        return StartOutcome(address, "refused", "; ".join(err.errors.values()))
    existing.add(_key(address, settings.old_host, user))
    return StartOutcome(address, "created")


def _ours(job: FetchmailJob, domains: Collection[str] | None, old_host: str | None) -> bool:
    if domains is not None and job.domain not in {d.lower() for d in domains}:
        return False
    return old_host is None or job.src_server.lower() == old_host.lower()


def sweep_status(
    client: PostfixAdminClient,
    *,
    domains: Collection[str] | None = None,
    old_host: str | None = None,
) -> list[JobStatus]:
    """The jobs in ``domains`` (all the admin sees if None), with a readable state."""
    jobs = [j for j in list_fetchmail_jobs(client) if _ours(j, domains, old_host)]
    return [JobStatus(j, job_state(j), result_line(j)) for j in jobs]


def stop_sweep(
    client: PostfixAdminClient,
    *,
    domains: Collection[str] | None,
    old_host: str | None,
) -> list[StopOutcome]:
    """Delete the jobs fetching from ``old_host`` into ``domains``."""
    outcomes: list[StopOutcome] = []
    for job in list_fetchmail_jobs(client):
        if not _ours(job, domains, old_host):
            continue
        try:
            delete_fetchmail_job(client, job.id)
        except PostfixAdminError as err:
            outcomes.append(StopOutcome(job, False, str(err)))
        else:
            outcomes.append(StopOutcome(job, True))
    return outcomes


def job_state(job: FetchmailJob) -> JobState:
    """Read fetchmail's own output; no output after a run means fetchmail.pl's syslog."""
    if not job.has_run:
        return "waiting"
    text = job.returned_text
    status = _QUERY_STATUS.search(text)
    if status is not None and int(status.group(1)) not in (0, 1):
        return "error"
    lines = [ln for ln in text.splitlines() if ln.strip() and ln.strip() != _ROOT_WARNING]
    if any(_FAILURE.search(ln) for ln in lines):
        return "error"
    if "reading message" in text:
        return "fetched"
    if not text.replace(_ROOT_WARNING, "").strip():
        return "ran"
    return "no_new_mail"


def result_line(job: FetchmailJob, limit: int = 200) -> str:
    """The most telling line of the last run's output, for a one-line table cell."""
    lines = [ln.strip() for ln in job.returned_text.splitlines()]
    lines = [ln for ln in lines if ln and ln != _ROOT_WARNING]
    if not lines:
        return ""
    errors = [ln for ln in lines if _FAILURE.search(ln)]
    line = (errors or lines)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def deadline_from_events(events: Sequence[object], domain: str) -> datetime | None:
    """When the running sweep of ``domain`` should end, from audit-log events (newest first).

    ``events`` are ``mailmove.store.Event``-like (``action``, ``domain``, ``detail``); a
    start writes ``until=<ISO time>`` into its detail. A later stop ends it.
    """
    for event in events:
        if getattr(event, "domain", "") != domain:
            continue
        action = getattr(event, "action", "")
        if action == EVENT_STOP:
            return None
        if action == EVENT_START:
            for part in str(getattr(event, "detail", "")).split():
                if part.startswith("until="):
                    try:
                        return datetime.fromisoformat(part.removeprefix("until="))
                    except ValueError:
                        return None
            return None
    return None


def start_detail(settings: SweepSettings, *, now: datetime | None = None) -> str:
    """The audit detail of a start (no secrets): old host and the planned end."""
    until = (now or datetime.now(UTC)) + timedelta(days=settings.days)
    return f"old_host={settings.old_host} until={until.isoformat(timespec='seconds')}"


def in_domains(mailboxes: Iterable[MailboxLike], domains: Collection[str]) -> list[MailboxLike]:
    wanted = {d.lower() for d in domains}
    return [m for m in mailboxes if domain_of(m.address) in wanted]
