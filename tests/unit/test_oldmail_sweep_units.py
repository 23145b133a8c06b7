"""Sweep and runner logic without servers: rc files, secrets handling, states, deadlines."""

from __future__ import annotations

import base64
import sqlite3
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailmove.oldmail import (
    EVENT_START,
    EVENT_STOP,
    SweepSettings,
    caveats,
    deadline_from_events,
    job_state,
    result_line,
    start_detail,
)
from mailmove.oldmail._runner import DueJob, build_rc, due_jobs, run_due_jobs
from mailmove.postfixadmin._fetchmail import FetchmailJob, NewFetchmailJob

ROOT_WARNING = "fetchmail: WARNING: Running as root is discouraged.\n"


def job(date: str = "2026-11-30 10:00:00", text: str = "") -> FetchmailJob:
    return FetchmailJob(
        id=1, mailbox="taro@new.test", src_server="sv1.old.test", src_port=995,
        src_auth="password", src_user="taro@new.test", src_folder="", poll_time=10,
        fetchall=False, keep=True, protocol="POP3", usessl=True, sslcertck=True,
        date=date, returned_text=text, active=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("date", "text", "state"),
    [
        ("2000-01-01", "", "waiting"),
        ("2026-11-30 10:00:00", "", "ran"),  # fetchmail.pl: output went to syslog
        ("2026-11-30 10:00:00", ROOT_WARNING, "ran"),
        (
            "2026-11-30 10:00:00",
            ROOT_WARNING + "2 messages for taro at sv1 (178 octets).\n"
            "reading message taro@sv1:1 of 2 (89 octets) not flushed\n",
            "fetched",
        ),
        (
            "2026-11-30 10:00:00",
            "2 messages (2 seen) for taro at sv1 (178 octets).\n",
            "no_new_mail",
        ),
        (
            "2026-11-30 10:00:00",
            "fetchmail: Authorization failure on taro@sv1\nfetchmail: Query status=3 (AUTHFAIL)\n",
            "error",
        ),
        (
            "2026-11-30 10:00:00",
            "reading message x:1 of 1\nfetchmail: MDA returned nonzero status 75\n",
            "error",
        ),
    ],
)
def test_job_state_reads_fetchmail_output(date: str, text: str, state: str) -> None:
    assert job_state(job(date, text)) == state


def test_result_line_prefers_the_failure_and_skips_the_root_warning() -> None:
    text = (
        ROOT_WARNING + "fetchmail: Authorization failure on taro@sv1\nfetchmail: Query status=3\n"
    )
    assert result_line(job(text=text)) == "fetchmail: Authorization failure on taro@sv1"
    assert result_line(job(text=ROOT_WARNING)) == ""


def test_caveats_name_the_production_limits() -> None:
    assert caveats(SweepSettings("sv1.old.test")) == ["oldmail.sweep.caveat.cron"]
    assert "oldmail.sweep.caveat.port" in caveats(SweepSettings("sv1.old.test", port=1995))
    plain = caveats(SweepSettings("sv1.old.test", port=110))
    assert "oldmail.sweep.caveat.plain" in plain
    assert "oldmail.sweep.caveat.port" not in plain
    assert "oldmail.sweep.caveat.ip" in caveats(SweepSettings("203.0.113.9"))
    odd = caveats(SweepSettings("sv1.old.test", port=2110, tls=False))
    assert {"oldmail.sweep.caveat.port", "oldmail.sweep.caveat.plain"} <= set(odd)


def test_settings_follow_postfixadmin_rules() -> None:
    with pytest.raises(ValueError, match="poll_minutes"):
        SweepSettings("h.test", poll_minutes=0)
    with pytest.raises(ValueError, match="days"):
        SweepSettings("h.test", days=0)
    assert SweepSettings("h.test", login="local_part").old_user("taro@x.test") == "taro"


def test_new_job_form_leaves_unchecked_boxes_out_and_hides_the_password() -> None:
    new = NewFetchmailJob("Taro@New.test", "sv1.old.test", "taro", "S3cret-pw-9", keep=False)
    form = new.form()
    assert form["value[mailbox]"] == "taro@new.test"
    assert "value[keep]" not in form  # PFA stores a missing checkbox as 0
    assert form["value[usessl]"] == "1"
    assert "S3cret-pw-9" not in repr(new)


@dataclass(frozen=True)
class Event:
    action: str
    domain: str
    detail: str = ""


def test_deadline_comes_from_the_latest_start_and_ends_with_a_stop() -> None:
    now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    detail = start_detail(SweepSettings("sv1.old.test", days=7), now=now)
    assert "until=2026-12-09T06:00:00+00:00" in detail
    events = [Event(EVENT_START, "a.test", detail), Event(EVENT_START, "b.test", detail)]
    assert deadline_from_events(events, "a.test") == now + timedelta(days=7)
    newest_first = [Event(EVENT_STOP, "a.test"), *events]
    assert deadline_from_events(newest_first, "a.test") is None
    assert deadline_from_events(newest_first, "b.test") == now + timedelta(days=7)
    assert deadline_from_events(events, "c.test") is None


# -- the SQLite runner -------------------------------------------------------------------

_SCHEMA = """CREATE TABLE fetchmail (
 id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT DEFAULT '', mailbox TEXT, src_server TEXT,
 src_auth TEXT, src_user TEXT, src_password TEXT, src_folder TEXT DEFAULT '',
 poll_time INTEGER DEFAULT 10, fetchall INTEGER DEFAULT 0, keep INTEGER DEFAULT 0,
 protocol TEXT, usessl INTEGER DEFAULT 0, sslcertck INTEGER DEFAULT 0, sslcertpath TEXT,
 sslfingerprint TEXT, extra_options TEXT, returned_text TEXT, mda TEXT,
 date TEXT DEFAULT '2000-01-01', created TEXT, modified TEXT, active INTEGER DEFAULT 1,
 src_port INTEGER DEFAULT 0)"""  # the columns of PFA 3.3.13's SQLite table


def pfa_db(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "postfixadmin.db"
    with sqlite3.connect(path) as db:
        db.execute(_SCHEMA)
        for row in rows:
            cols = ", ".join(row)
            db.execute(f"INSERT INTO fetchmail ({cols}) VALUES ({', '.join('?' * len(row))})",  # noqa: S608
                       list(row.values()))  # fmt: skip
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_rc_quotes_what_fetchmail_cannot_take_raw() -> None:
    rc = build_rc(
        DueJob(7, "taro@new.test", "sv1.old.test", "taro", "a'b\"c\\d", src_port=1110, keep=True),
        mda="/usr/bin/python3 -m mda '/tmp/x y'",
        allow_plaintext=True,
    )
    assert 'poll "sv1.old.test" with proto POP3 service 1110' in rc
    assert 'password "a\'b\\x22c\\\\d"' in rc  # no raw " inside the string: \x22
    assert "keep" in rc
    assert "sslproto ''" in rc
    assert "set syslog" not in rc  # output goes to returned_text, not syslog
    tls = build_rc(DueJob(8, "t@n.test", "s.test", "u", "p", usessl=True, sslcertck=True), mda="m")
    assert " ssl sslcertck" in tls
    assert "sslproto" not in tls


def test_due_jobs_follow_poll_time_and_active(tmp_path: Path) -> None:
    db = pfa_db(
        tmp_path,
        [
            {"mailbox": "a@n.test", "src_server": "s", "src_user": "a", "src_password": b64("pa"),
             "protocol": "POP3", "poll_time": 10},
            {"mailbox": "b@n.test", "src_server": "s", "src_user": "b", "src_password": b64("pb"),
             "protocol": "POP3", "poll_time": 10, "date": "2026-11-30 09:55:00"},
            {"mailbox": "c@n.test", "src_server": "s", "src_user": "c", "src_password": b64("pc"),
             "protocol": "POP3", "active": 0},
        ],
    )  # fmt: skip
    now = datetime(2026, 11, 30, 10, 0)
    assert [j.mailbox for j in due_jobs(db, now=now)] == ["a@n.test"]
    assert due_jobs(db, now=now)[0].src_password == "pa"
    later = [j.mailbox for j in due_jobs(db, now=now + timedelta(minutes=6))]
    assert later == ["a@n.test", "b@n.test"]


def test_runner_keeps_the_password_in_a_private_file_and_records_the_output(
    tmp_path: Path,
) -> None:
    # A stand-in for /usr/bin/fetchmail that reports how its rc file was protected.
    fake = tmp_path / "fake-fetchmail"
    fake.write_text(
        "#!/bin/sh\n"
        'rc="$2"\n'
        'echo "rc-mode $(stat -c %a "$rc") dir-mode $(stat -c %a "$(dirname "$rc")")"\n'
        'echo "rc-dir $(dirname "$rc")"\n'
        'grep -c "with password" "$rc"\n'
        "echo 'fetchmail: Query status=3 (AUTHFAIL)'\n"
        "exit 3\n"
    )
    fake.chmod(0o755)
    db = pfa_db(
        tmp_path,
        [{"mailbox": "a@n.test", "src_server": "s.test", "src_user": "a",
          "src_password": b64("Very-secret-42"), "protocol": "POP3"}],
    )  # fmt: skip
    results = run_due_jobs(db, tmp_path / "mail", tmp_path / "state", fetchmail=str(fake))
    (result,) = results
    assert result.exit_code == 3
    assert "rc-mode 600 dir-mode 700" in result.returned_text
    rc_dir = Path(result.returned_text.split("rc-dir ", 1)[1].split()[0])
    assert not rc_dir.exists()  # deleted after the run
    assert "Very-secret-42" not in result.returned_text
    assert result.delivered == 0
    with sqlite3.connect(db) as conn:
        text, date = conn.execute("SELECT returned_text, date FROM fetchmail").fetchone()
    assert "Query status=3" in text
    assert date != "2000-01-01"
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    # Just ran: not due again before its poll time.
    assert run_due_jobs(db, tmp_path / "mail", tmp_path / "state", fetchmail=str(fake)) == []
