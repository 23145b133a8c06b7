"""Run PostfixAdmin's fetchmail jobs with the real fetchmail, for a SQLite PostfixAdmin.

Production does not use this module. There, PostfixAdmin's own cron script does the
work: ``/usr/share/doc/postfixadmin/examples/fetchmail.pl`` (upstream
``ADDITIONS/fetchmail.pl``), run from cron every few minutes. In 3.3.13 it supports
only MySQL and PostgreSQL (``unsupported db_type`` otherwise), so the SQLite
PostfixAdmin of the demo and the tests cannot use it. This runner does the same job
there, honestly: it reads each due, active row of the ``fetchmail`` table, writes the
rc file fetchmail.pl would write, runs ``/usr/bin/fetchmail`` with it, and stores
fetchmail's real output in ``returned_text`` and the time in ``date``. If fetchmail
fetched nothing, or failed, the row says exactly that.

Where it differs from fetchmail.pl 3.3.13, on purpose:

* delivery goes to a local Maildir per mailbox (``mda`` = ``_maildir_mda``), because
  the test bed has no Postfix/Dovecot for the new server; fetchmail.pl delivers to
  the local MTA (``is 'mailbox' here``) or, with ``mda=dovecot``, to dovecot-lda;
* ``src_port`` is passed on (``service``); fetchmail.pl never emits it, so in
  production a non-default port is silently ignored;
* no ``set syslog``: fetchmail's messages are captured into ``returned_text``. With
  fetchmail.pl they go to syslog and ``returned_text`` stays empty;
* ``allow_plaintext`` adds ``sslproto ''`` to non-TLS jobs, because fetchmail ≥ 6.4
  otherwise insists on STARTTLS; the test bed's Dovecot speaks plain POP3. A
  production job without TLS fails there unless the old server offers STARTTLS.

Secrets: the decoded password exists only in the rc file, written with mode 0600 in a
private temporary directory (0700) that is deleted right after the run.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import fcntl
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from mailmove.errors import MailmoveError

__all__ = [
    "FETCHMAIL",
    "DueJob",
    "RunResult",
    "RunnerError",
    "build_rc",
    "due_jobs",
    "run_due_jobs",
]

FETCHMAIL = "/usr/bin/fetchmail"
DEFAULT_TIMEOUT_S = 120
_MDA_SCRIPT = Path(__file__).with_name("_maildir_mda.py")
_PFA_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class RunnerError(MailmoveError):
    """The runner cannot work at all (no fetchmail, unreadable database)."""


@dataclass(frozen=True)
class DueJob:
    """One row of PFA's ``fetchmail`` table, password decoded (never printed)."""

    id: int
    mailbox: str
    src_server: str
    src_user: str
    src_password: str = field(repr=False)
    src_port: int = 0
    src_folder: str = ""
    protocol: str = "POP3"
    fetchall: bool = False
    keep: bool = False
    usessl: bool = False
    sslcertck: bool = False
    sslcertpath: str = ""
    sslfingerprint: str = ""
    extra_options: str = ""


@dataclass(frozen=True)
class RunResult:
    job_id: int
    mailbox: str
    src_server: str
    exit_code: int  # fetchmail's: 0 mail fetched, 1 no new mail, ≥2 a failure
    returned_text: str
    delivered: int  # messages that arrived in the mailbox's Maildir during this run


def _pfa_date(text: str | None) -> datetime:
    for fmt in _PFA_DATE_FORMATS:
        with contextlib.suppress(TypeError, ValueError):
            return datetime.strptime(str(text)[:19], fmt)
    return datetime(2000, 1, 1)


def _connect(db_path: Path) -> sqlite3.Connection:
    if not db_path.is_file():
        raise RunnerError(f"no PostfixAdmin SQLite database at {db_path}")
    # PFA's PDO waits 5 s on a locked database; do the same so neither side fails at once.
    return sqlite3.connect(db_path, timeout=5)


def due_jobs(db_path: Path, *, now: datetime | None = None) -> list[DueJob]:
    """Active jobs whose last run is older than their poll time (fetchmail.pl's rule)."""
    now = now or datetime.now()
    with contextlib.closing(_connect(db_path)) as db:
        rows = db.execute(
            "SELECT id, mailbox, src_server, src_user, src_password, src_port, src_folder,"
            " protocol, fetchall, keep, usessl, sslcertck, sslcertpath, sslfingerprint,"
            " extra_options, poll_time, date FROM fetchmail WHERE active = 1 ORDER BY id"
        ).fetchall()
    jobs: list[DueJob] = []
    for row in rows:
        (job_id, mailbox, server, user, password_b64, port, folder, protocol, fetchall, keep,
         usessl, certck, certpath, fingerprint, extra, poll_time, date) = row  # fmt: skip
        if now - _pfa_date(date) <= timedelta(minutes=int(poll_time or 0)):
            continue
        try:
            password = base64.b64decode(password_b64 or "").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            password = ""  # fetchmail then fails to log in, and says so in returned_text
        jobs.append(
            DueJob(
                id=int(job_id),
                mailbox=str(mailbox),
                src_server=str(server),
                src_user=str(user),
                src_password=password,
                src_port=int(port or 0),
                src_folder=str(folder or ""),
                protocol=str(protocol or "POP3"),
                fetchall=bool(int(fetchall or 0)),
                keep=bool(int(keep or 0)),
                usessl=bool(int(usessl or 0)),
                sslcertck=bool(int(certck or 0)),
                sslcertpath=str(certpath or ""),
                sslfingerprint=str(fingerprint or ""),
                extra_options=str(extra or ""),
            )
        )
    return jobs


def _q(value: str) -> str:
    """A double-quoted fetchmailrc string.

    fetchmail's lexer ends a string at the next ``"`` whatever precedes it, then
    applies C escapes; so ``\\`` is doubled and ``"`` is written as ``\\x22``.
    """
    if "\n" in value or "\r" in value:
        raise RunnerError("a fetchmail job value contains a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', "\\x22") + '"'


def build_rc(job: DueJob, *, mda: str, allow_plaintext: bool = False) -> str:
    """The rc text fetchmail.pl would write, with the differences in the module docs."""
    header = (
        'set postmaster "postmaster"\nset nobouncemail\nset no spambounce\nset properties ""\n\n'
    )
    poll = f"poll {_q(job.src_server)} with proto {job.protocol}"
    if job.src_port:
        poll += f" service {job.src_port}"
    cmd = f"user {_q(job.src_user)} there with password {_q(job.src_password)}"
    if job.src_folder:
        cmd += f" folder {_q(job.src_folder)}"
    cmd += f" mda {_q(mda)} is {_q(job.mailbox)} here"
    flags = [("keep", job.keep), ("fetchall", job.fetchall), ("ssl", job.usessl)]
    flags.append(("sslcertck", job.sslcertck))
    cmd += "".join(f" {word}" for word, on in flags if on)
    if job.sslcertck and job.sslcertpath:
        cmd += f" sslcertpath {_q(job.sslcertpath)}"
    if job.sslfingerprint:
        cmd += f" sslfingerprint {_q(job.sslfingerprint)}"
    if allow_plaintext and not job.usessl:
        cmd += " sslproto ''"
    if job.extra_options:
        cmd += f" {job.extra_options}"
    return f"{header}{poll}\n\t{cmd}\n"


def maildir_for(deliver_root: Path, mailbox: str) -> Path:
    """Where the runner delivers a mailbox's mail: ``<root>/<mailbox>/`` (a Maildir)."""
    safe = mailbox.replace("/", "_").lstrip(".")
    return deliver_root / safe


def _mda_command(maildir: Path) -> str:
    # The MDA runs once per message: start it as a plain script in isolated mode (-I -S),
    # so it does not import mailmove (and requests, yaml, ...) every time.
    if "%" in str(maildir):
        raise RunnerError(f"delivery path {maildir} contains '%', which fetchmail would expand")
    python, script = shlex.quote(sys.executable), shlex.quote(str(_MDA_SCRIPT))
    return f"{python} -I -S {script} {shlex.quote(str(maildir))}"


def _count(maildir: Path) -> int:
    return sum(1 for _ in (maildir / "new").iterdir()) if (maildir / "new").is_dir() else 0


@contextlib.contextmanager
def _private_rc(text: str) -> Iterator[Path]:
    """The rc file in a fresh 0700 directory, 0600 itself; both gone afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="mailmove-fetchmail-"))
    try:
        rc = tmp / "fetchmailrc"
        fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        yield rc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_job(
    job: DueJob,
    *,
    deliver_root: Path,
    state_dir: Path,
    allow_plaintext: bool = False,
    fetchmail: str = FETCHMAIL,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> tuple[int, str, int]:
    """Run fetchmail once for one job: (exit code, output, messages delivered)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    deliver_root.mkdir(parents=True, exist_ok=True)
    maildir = maildir_for(deliver_root, job.mailbox)
    before = _count(maildir)
    rc_text = build_rc(job, mda=_mda_command(maildir), allow_plaintext=allow_plaintext)
    with _private_rc(rc_text) as rc:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(rc.parent),
            "FETCHMAILHOME": str(rc.parent),  # its lock (pid) file goes there, not /var/run
            "FETCHMAILUSER": "mailmove",
            "LC_ALL": "C.UTF-8",
        }
        # Like fetchmail.pl's "-i $run_dir/...": one persistent UIDL file, so with "keep"
        # a message is fetched once, not again on every poll.
        cmd = [fetchmail, "-f", str(rc), "-i", str(state_dir / "fetchids")]
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise RunnerError(f"{fetchmail} not found: install Debian's fetchmail") from None
        except subprocess.TimeoutExpired as err:
            output = (err.stdout or b"").decode("utf-8", "replace")
            text = f"{output}mailmove runner: fetchmail stopped after {timeout:.0f} s\n"
            return 124, text, _count(maildir) - before
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), _count(maildir) - before


def _record(db_path: Path, job_id: int, text: str, when: datetime) -> None:
    with contextlib.closing(_connect(db_path)) as db, db:
        db.execute(
            "UPDATE fetchmail SET returned_text = ?, date = ? WHERE id = ?",
            (text, when.strftime("%Y-%m-%d %H:%M:%S"), job_id),
        )


def run_due_jobs(
    db_path: Path,
    deliver_root: Path,
    state_dir: Path,
    *,
    now: datetime | None = None,
    allow_plaintext: bool = False,
    fetchmail: str = FETCHMAIL,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[RunResult]:
    """One cron tick: run every due job once; returns [] if another run holds the lock."""
    db_path, deliver_root, state_dir = Path(db_path), Path(deliver_root), Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    results: list[RunResult] = []
    with (state_dir / "runner.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return results  # fetchmail.pl also skips a tick while the previous one runs
        for job in due_jobs(db_path, now=now):
            code, text, delivered = run_job(
                job,
                deliver_root=deliver_root,
                state_dir=state_dir,
                allow_plaintext=allow_plaintext,
                fetchmail=fetchmail,
                timeout=timeout,
            )
            _record(db_path, job.id, text, now or datetime.now())
            results.append(RunResult(job.id, job.mailbox, job.src_server, code, text, delivered))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mailmove.oldmail._runner --db PFA.db --deliver-to DIR --state-dir DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m mailmove.oldmail._runner",
        description="Run due PostfixAdmin fetchmail jobs of a SQLite PostfixAdmin "
        "with the real fetchmail (demo/test stand-in for fetchmail.pl).",
    )
    parser.add_argument("--db", type=Path, required=True, help="PostfixAdmin's SQLite file")
    parser.add_argument("--deliver-to", type=Path, required=True, help="Maildir root")
    parser.add_argument("--state-dir", type=Path, required=True, help="lock and UIDL file")
    parser.add_argument("--allow-plaintext", action="store_true")
    parser.add_argument("--every", type=float, metavar="SECONDS", help="repeat, like cron")
    args = parser.parse_args(argv)
    try:
        while True:
            for r in run_due_jobs(
                args.db, args.deliver_to, args.state_dir, allow_plaintext=args.allow_plaintext
            ):
                print(f"job {r.job_id} {r.mailbox} <- {r.src_server}: exit {r.exit_code}, "
                      f"{r.delivered} delivered", flush=True)  # fmt: skip
            if not args.every:
                return 0
            time.sleep(args.every)
    except RunnerError as err:
        print(f"runner: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
