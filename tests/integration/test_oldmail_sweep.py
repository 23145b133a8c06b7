"""Server-side retrieval end to end: real Dovecot POP3 (old server), real PostfixAdmin jobs
created over HTTP, the real fetchmail run by the SQLite runner, and stop removing the jobs."""

from __future__ import annotations

import argparse
import base64
import mailbox
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailmove.config import parse_config
from mailmove.oldmail import SweepSettings, start_sweep, stop_sweep, sweep_status
from mailmove.oldmail._runner import maildir_for, run_due_jobs
from mailmove.oldmail.cli import run_sweep
from mailmove.postfixadmin import PostfixAdminClient
from mailmove.store import Store
from mailmove.testbed.pop3 import OldPop3Server
from mailmove.testbed.postfixadmin import PostfixAdminInstance

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class User:
    address: str
    password: str = field(repr=False)
    name: str = ""
    generated_password: bool = False


def message(subject: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "customer@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content(f"{subject}: 旧サーバーに届いたメール\n")
    return msg


def subjects(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(str(m["Subject"]) for m in mailbox.Maildir(path, create=False))


def domain_with_admin(pfa: PostfixAdminInstance, *locals_: str) -> tuple[str, PostfixAdminClient]:
    domain = f"sweep-{uuid.uuid4().hex[:8]}.test"
    pfa.add_domain(domain)
    pfa.add_admin(f"admin@{domain}", "Admin-pass-12", [domain])
    for local in locals_:
        pfa.add_mailbox(f"{local}@{domain}", "New-pass-12")
    client = PostfixAdminClient(pfa.url)
    client.login(f"admin@{domain}", "Admin-pass-12")
    return domain, client


def test_jobs_fetch_with_real_fetchmail_and_stop_removes_them(
    pfa: PostfixAdminInstance, old_pop3: OldPop3Server, tmp_path: Path
) -> None:
    domain, client = domain_with_admin(pfa, "taro", "hana", "jiro", "gen")
    taro, hana, jiro, gen = (f"{n}@{domain}" for n in ("taro", "hana", "jiro", "gen"))
    hana_password = 'Ha"na\\old-34'  # characters fetchmail's rc syntax needs escaped
    old_pop3.add_user(taro, "Taro-old-12", [message("t1", taro), message("t2", taro)])
    old_pop3.add_user(hana, hana_password, [message("h1", hana)])
    old_pop3.add_user(jiro, "Jiro-old-12")
    users = [
        User(taro, "Taro-old-12"),
        User(hana, hana_password),
        User(jiro, "Wrong-guess-99"),  # the list has a stale password
        User(gen, "Generated-77", generated_password=True),  # unknown on the old server
    ]
    settings = SweepSettings(old_pop3.address, port=old_pop3.port, tls=False, keep=True)

    outcomes = {o.address: o for o in start_sweep(client, users, settings, check_login=True)}
    assert {a: o.status for a, o in outcomes.items()} == {
        taro: "created",
        hana: "created",
        jiro: "login_failed",
        gen: "needs_instructions",
    }
    assert "Authentication failed" in outcomes[jiro].detail
    assert "Wrong-guess-99" not in outcomes[jiro].detail
    assert start_sweep(client, users[:1], settings)[0].status == "exists"  # idempotent

    # The passwords live in PostfixAdmin's table only (base64, as PFA stores them).
    with sqlite3.connect(pfa.db_path) as db:
        stored = dict(db.execute("SELECT mailbox, src_password FROM fetchmail"))
    assert base64.b64decode(stored[hana]).decode() == hana_password

    jobs = sweep_status(client, domains=[domain])
    assert sorted(j.job.mailbox for j in jobs) == [hana, taro]
    assert {j.state for j in jobs} == {"waiting"}
    assert all(j.job.src_port == old_pop3.port and j.job.keep for j in jobs)
    assert hana_password not in repr(jobs)

    delivered, state = tmp_path / "delivered", tmp_path / "state"
    now = datetime.now()
    # fetchmail ≥ 6.4 insists on STARTTLS, which the plain test server lacks: the runner
    # records that failure honestly instead of pretending.
    failed = run_due_jobs(pfa.db_path, delivered, state, now=now)
    assert {r.mailbox for r in failed} == {taro, hana}
    assert all(r.exit_code >= 2 and r.delivered == 0 for r in failed)
    assert {j.state for j in sweep_status(client, domains=[domain])} == {"error"}

    later = now + timedelta(minutes=11)
    runs = run_due_jobs(pfa.db_path, delivered, state, now=later, allow_plaintext=True)
    results = {r.mailbox: r for r in runs}
    assert results[taro].exit_code == 0
    assert results[taro].delivered == 2
    assert results[hana].delivered == 1
    assert subjects(maildir_for(delivered, taro)) == ["t1", "t2"]
    assert subjects(maildir_for(delivered, hana)) == ["h1"]

    status = {j.job.mailbox: j for j in sweep_status(client, domains=[domain])}
    assert status[taro].state == "fetched"
    assert status[taro].job.has_run
    assert "2 messages for" in status[taro].job.returned_text
    assert len(old_pop3.messages(taro)) == 2  # keep: still on the old server

    # The next poll fetches nothing twice (UIDL), only what arrived since.
    old_pop3.add_messages(taro, [message("t3", taro)])
    next_poll = later + timedelta(minutes=11)
    runs = run_due_jobs(pfa.db_path, delivered, state, now=next_poll, allow_plaintext=True)
    again = {r.mailbox: r for r in runs}
    assert again[taro].delivered == 1
    assert again[hana].delivered == 0
    assert subjects(maildir_for(delivered, taro)) == ["t1", "t2", "t3"]

    removed = stop_sweep(client, domains=[domain], old_host=old_pop3.address)
    assert sorted(o.job.mailbox for o in removed) == [hana, taro]
    assert all(o.removed for o in removed)
    assert sweep_status(client, domains=[domain]) == []
    assert run_due_jobs(pfa.db_path, delivered, state, now=later + timedelta(days=1)) == []
    client.close()


def test_cli_start_moves_mail_and_stop_expired_removes_the_jobs(
    pfa: PostfixAdminInstance,
    old_pop3: OldPop3Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    domain, client = domain_with_admin(pfa, "kana")
    client.close()
    kana = f"kana@{domain}"
    old_pop3.add_user(kana, "Kana-old-12", [message("k1", kana)])
    config = parse_config(
        {
            "servers": [
                {
                    "name": "test",
                    "postfixadmin": {
                        "url": pfa.url,
                        "username": pfa.superadmin,
                        "password": pfa.superadmin_password,
                    },
                    "ipv4": "198.51.100.25",
                    "imap": {"host": "mx.sweep.test"},
                    "smtp": {"host": "mx.sweep.test"},
                }
            ],
            "store": f"sqlite:///{tmp_path / 'state.db'}",
        }
    )
    store = Store(config.store)
    store.migrate()

    def sweep(action: str, now: datetime | None = None, **extra: object) -> int:
        values = {"action": action, "server": None, "domain": [domain],
                  "old_host": old_pop3.address, "port": old_pop3.port, "no_tls": True}  # fmt: skip
        values.update(extra)
        return run_sweep(
            argparse.Namespace(**values),
            config,
            [User(kana, "Kana-old-12")],
            store=store,
            now=now,
        )

    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    assert sweep("start", now=eight_days_ago, delete=True, days=7) == 0
    out = capsys.readouterr()
    assert f"{kana}\tcreated" in out.out
    assert "Kana-old-12" not in out.out + out.err
    assert "fetchmail.pl" in out.err  # the production caveats are spelled out

    run_due_jobs(pfa.db_path, tmp_path / "mail", tmp_path / "st", allow_plaintext=True)
    assert subjects(maildir_for(tmp_path / "mail", kana)) == ["k1"]
    assert old_pop3.messages(kana) == []  # not kept: moved off the old server

    assert sweep("status", json=True) == 0
    assert '"state": "fetched"' in capsys.readouterr().out

    assert sweep("stop", now=eight_days_ago + timedelta(days=6), expired=True) == 0
    assert "no sweep has reached its end date" in capsys.readouterr().out
    assert sweep("stop", expired=True) == 0
    assert f"{kana}\t{old_pop3.address}\tremoved" in capsys.readouterr().out
    assert sweep("status") == 0
    assert "0 job(s)" in capsys.readouterr().out
    actions = [e.action for e in store.recent_events(10, domains=[domain])]
    assert actions[:2] == ["oldmail.sweep_stop", "oldmail.sweep_start"]
