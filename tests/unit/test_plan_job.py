"""The provisioning job against the in-memory FakePfa: order, resume, repair, safety.

Real-PostfixAdmin behaviour (outages, orphans made by SQL, scope) is covered again in
tests/integration/test_provision*.py; here the job's own logic runs in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailmove.apply import REGISTRY, JobAlreadyRunning, JobRegistry, ProvisionJob
from mailmove.config import demo_config
from mailmove.jobs import ItemResult, JobRecord, MemoryJobLog, SqlJobLog, migrate_jobs
from mailmove.plan import Desired, PlanOptions
from mailmove.postfixadmin import FormError, Rejected, Unreachable
from mailmove.provision_cli import run_apply, run_plan
from tests.unit.test_plan import FakePfa, Fwd, Mbx

PASSWORDS = ("Geheim12345", "Sekret98765", "Passwort4242")


def desired_basic() -> Desired:
    return Desired(
        mailboxes=[
            Mbx("anna@web.test", "Anna", password=PASSWORDS[0], row=2),
            Mbx("ben@web.test", "Ben", password=PASSWORDS[1], row=3),
            Mbx("carl@web.test", "カール", password=PASSWORDS[2], row=4),
        ],
        forwards=[
            Fwd("anna@web.test", ("anna@home.example",), keep_copy=True, row=5),
            Fwd("team@web.test", ("anna@web.test", "ben@web.test"), row=6),
            Fwd("@web.test", ("anna@web.test",), catch_all=True, row=7),
        ],
    )


def test_apply_from_scratch_then_rerun_is_all_skip() -> None:
    pfa = FakePfa()
    log = MemoryJobLog()

    first = ProvisionJob(pfa, desired_basic(), log=log).run()
    writes = list(pfa.writes)
    second = ProvisionJob(pfa, desired_basic(), log=log).run()

    assert first.ok, first.to_json("en")
    assert writes == [
        ("create_domain", "web.test"),
        ("create_mailbox", "anna@web.test"),
        ("create_mailbox", "ben@web.test"),
        ("create_mailbox", "carl@web.test"),
        ("update_alias", "anna@web.test"),
        ("create_alias", "team@web.test"),
        ("create_alias", "@web.test"),
    ]
    assert (first.summary.created, first.summary.updated) == (6, 1)
    assert second.ok
    assert pfa.writes == writes  # nothing sent the second time
    assert {r.status for r in second.results} == {"skipped"}
    assert {c.status for c in second.checks} == {"present"}
    assert pfa.rows["anna@web.test"] == (["anna@home.example", "anna@web.test"], True)


def test_outage_interrupts_and_resume_finishes_exactly_the_plan() -> None:
    pfa = FakePfa()
    log = MemoryJobLog()
    desired = Desired(
        mailboxes=[Mbx(f"u{i}@web.test", password=f"Secret{i:04d}x") for i in range(40)],
        forwards=[Fwd(f"f{i}@web.test", (f"u{i}@web.test",)) for i in range(20)],
    )
    down = {"on": False}

    def outage(op: str, obj: str) -> None:
        if obj == "u20@web.test":
            down["on"] = True
        if down["on"]:
            raise Unreachable("cannot connect to PostfixAdmin at http://fake/")

    pfa.before_write = outage
    stopped = ProvisionJob(pfa, desired, log=log, outage_wait_s=0).run()
    down["on"] = False
    pfa.before_write = None
    resumed = ProvisionJob(pfa, desired, log=log, job_id=stopped.job_id).run()

    assert stopped.state == "interrupted"
    assert "interrupted" in stopped.notes[-1]
    assert len(stopped.results) == 21  # the domain + u0..u19
    assert resumed.ok
    assert sorted(a for a in pfa.mailboxes) == sorted(f"u{i}@web.test" for i in range(40))
    creates = [w for w in pfa.writes if w[0] == "create_mailbox"]
    assert len(creates) == len(set(creates)) == 40  # each exactly once
    statuses = {r.object: r.status for r in resumed.results}
    assert statuses["u0@web.test"] == "created"  # the first run's result is kept
    assert statuses["u39@web.test"] == "created"
    assert log.get_job(stopped.job_id).state == "done"  # type: ignore[union-attr]


def test_a_short_outage_is_ridden_out_without_stopping() -> None:
    pfa = FakePfa()
    failures = {"left": 2}

    def flaky(op: str, obj: str) -> None:
        if obj == "ben@web.test" and failures["left"]:
            failures["left"] -= 1
            raise Unreachable("connection refused")

    pfa.before_write = flaky
    states: list[str] = []
    outcome = ProvisionJob(
        pfa, desired_basic(), outage_wait_s=10, on_progress=lambda p: states.append(p.state)
    ).run()

    assert outcome.ok
    assert "waiting" in states
    assert states[-1] == "done"


def test_half_created_mailbox_found_during_apply_is_repaired() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")

    crashed: list[str] = []

    def crash_leftover(op: str, obj: str) -> None:
        # As if an earlier attempt died between PFA's two INSERTs just now.
        if (op, obj) == ("create_mailbox", "ben@web.test") and not crashed:
            crashed.append(obj)
            pfa.add_alias("ben@web.test", ["ben@web.test"])

    pfa.before_write = crash_leftover
    outcome = ProvisionJob(pfa, desired_basic()).run()

    ben = next(r for r in outcome.results if r.object == "ben@web.test" and r.kind == "mailbox")
    assert ben.status == "repaired"
    assert ("delete_alias", "ben@web.test") in pfa.writes
    assert "ben@web.test" in pfa.mailboxes
    assert outcome.ok


def test_conflicts_change_only_what_was_confirmed() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Old Anna")
    pfa.add_alias("team@web.test", ["old@web.test"])
    desired = Desired(
        mailboxes=[Mbx("anna@web.test", "Anna")],
        forwards=[Fwd("team@web.test", ("anna@web.test",))],
    )

    declined = ProvisionJob(pfa, desired).run()
    partly = ProvisionJob(pfa, desired, accept_conflicts={"alias:team@web.test"}).run()

    assert {r.status for r in declined.results if r.op != "skip"} == {"declined"}
    assert not declined.ok  # the addresses differ from the lists
    assert pfa.rows["team@web.test"][0] == ["anna@web.test"]
    assert pfa.mailboxes["anna@web.test"].name == "Old Anna"
    assert [r.status for r in partly.results if r.object == "anna@web.test"] == ["declined"]


def test_failed_domain_blocks_its_items_without_sending_them() -> None:
    pfa = FakePfa()

    def refuse_domain(op: str, obj: str) -> None:
        if op == "create_domain":
            raise Rejected(f"domain {obj}", [FormError("domain", "Invalid domain name")])

    pfa.before_write = refuse_domain
    outcome = ProvisionJob(pfa, desired_basic()).run()

    assert pfa.writes == []
    statuses = {r.status for r in outcome.results}
    assert statuses == {"failed", "blocked"}
    assert outcome.summary.failed == len(outcome.results)
    assert not outcome.ok


def test_scope_is_enforced_again_before_sending() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_domain("other.test")
    desired = Desired(mailboxes=[Mbx("a@web.test"), Mbx("b@other.test")])
    job = ProvisionJob(pfa, desired, options=PlanOptions(scope=frozenset({"web.test"})))

    outcome = job.run()

    assert outcome.state == "refused"  # the plan refuses; nothing was sent at all
    assert pfa.writes == []
    assert "other.test" in outcome.notes[0]


def test_no_password_in_results_logs_or_store(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    pfa = FakePfa()

    def echo_password(op: str, obj: str) -> None:
        if obj == "ben@web.test" and op == "create_mailbox":
            # A (hypothetical) server message that repeats what it was sent.
            raise Rejected(obj, [FormError("password", f"invalid parameter --{PASSWORDS[1]}")])

    pfa.before_write = echo_password
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        migrate_jobs(conn)
    caplog.set_level(logging.DEBUG)

    outcome = ProvisionJob(pfa, desired_basic(), log=SqlJobLog(engine)).run()

    dumped = json.dumps(outcome.to_json("en"), ensure_ascii=False) + caplog.text
    dumped += repr(outcome) + (tmp_path / "state.db").read_bytes().decode("latin-1")
    for password in PASSWORDS:
        assert password not in dumped
    ben = next(r for r in outcome.results if r.object == "ben@web.test" and r.kind == "mailbox")
    assert ben.status == "failed"
    assert "***" in ben.message


def test_side_effect_warnings_reach_the_item_they_name() -> None:
    pfa = FakePfa()
    pfa.warnings_for = {"ben@web.test"}

    outcome = ProvisionJob(pfa, desired_basic()).run()

    ben = next(r for r in outcome.results if r.object == "ben@web.test" and r.kind == "mailbox")
    assert ben.status == "created"
    assert ben.warnings == ("Unable to send email to ben@web.test!",)
    assert outcome.ok  # a warning is not a failure


def test_background_thread_progress_cancel_and_registry() -> None:
    pfa = FakePfa()
    gate = threading.Event()
    entered = threading.Event()

    def slow(op: str, obj: str) -> None:
        if obj == "u5@web.test":
            entered.set()
            gate.wait(5)

    pfa.before_write = slow
    desired = Desired(mailboxes=[Mbx(f"u{i}@web.test") for i in range(20)])
    registry = JobRegistry()
    job = registry.start(ProvisionJob(pfa, desired), key="demo:admin")

    assert entered.wait(5)
    progress = job.progress()
    assert progress.state == "running"
    assert 0 < progress.done < progress.total == 21
    assert progress.eta_s is not None
    assert "of 21 done" in progress.text("en")
    with pytest.raises(JobAlreadyRunning) as second:
        registry.start(ProvisionJob(pfa, desired), key="demo:admin")
    assert second.value.job is job
    job.cancel()
    gate.set()
    outcome = job.wait(5)

    assert outcome is not None
    assert outcome.state == "cancelled"
    assert registry.get(job.job_id) is job
    assert registry.active("demo:admin") is None
    resumed = ProvisionJob(pfa, desired, job_id=job.job_id, log=job.log).run()
    assert resumed.ok
    assert len(pfa.mailboxes) == 20
    assert REGISTRY.get(job.job_id) is None  # the module registry is a separate one


def test_sql_job_log_round_trip_and_merge(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    with engine.begin() as conn:
        migrate_jobs(conn)
        migrate_jobs(conn)  # idempotent
    log = SqlJobLog(engine)
    log.open_job(JobRecord(id="j1", server="s", actor="a", fingerprint="f", domains=("x.test",)))
    again = log.open_job(JobRecord(id="j1", server="other", actor="b", fingerprint="g"))
    created = ItemResult(
        "mailbox:a@x.test", "create_mailbox", "mailbox", "a@x.test", "x.test", "created", seq=1
    )
    skipped = ItemResult(
        "mailbox:a@x.test", "skip", "mailbox", "a@x.test", "x.test", "skipped", seq=1
    )
    failed = ItemResult(
        "alias:b@x.test", "create_alias", "alias", "b@x.test", "x.test", "failed", "no", seq=2
    )
    fixed = ItemResult("alias:b@x.test", "skip", "alias", "b@x.test", "x.test", "skipped", seq=2)

    threads = [threading.Thread(target=log.record_item, args=("j1", r)) for r in (created, failed)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.record_item("j1", skipped)
    log.record_item("j1", fixed)
    log.update_job("j1", state="done", total=2, done=2, add_notes=["hello"])

    assert (again.server, again.fingerprint) == ("s", "f")
    assert [(r.key, r.status) for r in log.items("j1")] == [
        ("mailbox:a@x.test", "created"),  # a later skip never hides what was done
        ("alias:b@x.test", "skipped"),  # a later success replaces a failure
    ]
    job = log.get_job("j1")
    assert job is not None
    assert (job.state, job.done, job.notes, job.domains) == (
        "done",
        2,
        ("hello",),
        ("x.test",),
    )
    assert [j.id for j in log.jobs(server="s")] == ["j1"]


# -- the CLI entry points --------------------------------------------------------------------


def cli_args(**extra: object) -> argparse.Namespace:
    return argparse.Namespace(**{"server": None, "json": True, "yes": False, **extra})


def test_run_plan_and_apply_exit_codes_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILMOVE_LANG", "en")
    pfa = FakePfa()
    config = demo_config()
    out = io.StringIO()

    assert run_plan(cli_args(), config, desired_basic(), backend=pfa, out=out) == 0
    planned = json.loads(out.getvalue())
    assert [a["op"] for a in planned["actions"]][:2] == ["create_domain", "create_mailbox"]
    assert pfa.writes == []

    out = io.StringIO()
    assert (
        run_apply(cli_args(), config, desired_basic(), backend=pfa, log=MemoryJobLog(), out=out)
        == 0
    )
    applied = json.loads(out.getvalue())
    assert applied["summary"]["created"] == 6
    assert applied["ok"]
    assert {r["status"] for r in applied["results"]} <= {"created", "updated", "skipped"}

    out = io.StringIO()
    assert (
        run_apply(cli_args(), config, desired_basic(), backend=pfa, log=MemoryJobLog(), out=out)
        == 0
    )
    assert {r["status"] for r in json.loads(out.getvalue())["results"]} == {"skipped"}


def test_run_apply_refuses_conflicts_without_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILMOVE_LANG", "en")
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Old")
    desired = Desired(mailboxes=[Mbx("anna@web.test", "New")])
    out = io.StringIO()

    code = run_apply(cli_args(json=False), demo_config(), desired, backend=pfa, out=out)
    assert code == 1
    assert "--yes" in out.getvalue()
    assert "Old" in out.getvalue()
    assert "New" in out.getvalue()
    assert pfa.writes == []

    code = run_apply(
        argparse.Namespace(server=None, json=False, yes=True),
        demo_config(),
        desired,
        backend=pfa,
        log=MemoryJobLog(),
        out=io.StringIO(),
    )
    assert code == 0
    assert pfa.mailboxes["anna@web.test"].name == "New"


def test_run_plan_exits_1_when_it_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILMOVE_LANG", "en")
    pfa = FakePfa(superadmin=False)
    out = io.StringIO()

    code = run_plan(
        argparse.Namespace(server=None, json=False),
        demo_config(),
        desired_basic(),
        backend=pfa,
        out=out,
    )

    assert code == 1
    assert "ask support" in out.getvalue()
