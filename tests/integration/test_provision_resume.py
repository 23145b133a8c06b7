"""A PostfixAdmin outage in the middle of a 500-item apply, then resume (real server).

The server is stopped from another thread while the job keeps sending, so a request
may die half-way (the orphan self-alias case included); the resumed job must still
end with exactly the plan: every object once, nothing missing, nothing extra.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailmove.apply import Progress, ProvisionJob
from mailmove.jobs import SqlJobLog, migrate_jobs
from mailmove.plan import Desired
from mailmove.postfixadmin import PostfixAdminClient
from mailmove.testbed.postfixadmin import PostfixAdminInstance
from tests.desired import Fwd, Mbx
from tests.fixtures.postfixadmin import PfaFactory

pytestmark = pytest.mark.integration

DOMAIN = "resume.test"


def five_hundred() -> Desired:
    """300 mailboxes, 100 of them forwarding with a copy, 100 forward-only aliases."""
    return Desired(
        mailboxes=[
            Mbx(f"user{i:03d}@{DOMAIN}", f"利用者 {i}", f"Pw{i:03d}abcde", row=i + 2)
            for i in range(300)
        ],
        forwards=[
            Fwd(f"user{i:03d}@{DOMAIN}", (f"user{i:03d}@home.example",), keep_copy=True, row=i)
            for i in range(100)
        ]
        + [
            Fwd(f"list{i:03d}@{DOMAIN}", (f"user{i:03d}@{DOMAIN}", "boss@else.example"), row=i)
            for i in range(100)
        ],
    )


def expected_aliases(desired: Desired) -> dict[str, set[str]]:
    aliases = {m.address: {m.address} for m in desired.mailboxes}
    for f in desired.forwards:
        aliases[f.address] = set(f.targets) | ({f.address} if f.keep_copy else set())
    return aliases


def sql_state(instance: PostfixAdminInstance) -> tuple[dict[str, str], dict[str, list[str]]]:
    with sqlite3.connect(instance.db_path) as conn:
        mailboxes = dict(
            conn.execute("SELECT username, name FROM mailbox WHERE domain = ?", (DOMAIN,))
        )
        aliases = {
            a: g.split(",")
            for a, g in conn.execute("SELECT address, goto FROM alias WHERE domain = ?", (DOMAIN,))
        }
    return mailboxes, aliases


def test_outage_mid_apply_then_resume_ends_exactly_at_the_plan(
    pfa_factory: PfaFactory, tmp_path: Path
) -> None:
    instance = pfa_factory()
    desired = five_hundred()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        migrate_jobs(conn)
    log = SqlJobLog(engine)
    client = PostfixAdminClient(instance.url, timeout=5)
    client.login(instance.superadmin, instance.superadmin_password)
    stopper: list[threading.Thread] = []

    def pull_the_plug(progress: Progress) -> None:
        if progress.done >= 200 and not stopper:
            # From another thread, so the job is mid-request when the server dies.
            stopper.append(threading.Thread(target=instance.stop))
            stopper[0].start()

    first = ProvisionJob(client, desired, log=log, outage_wait_s=0, on_progress=pull_the_plug).run()
    stopper[0].join()
    assert first.state == "interrupted"
    assert 200 <= len(first.results) < 501
    assert log.get_job(first.job_id).state == "interrupted"  # type: ignore[union-attr]

    instance.start()
    resumed = ProvisionJob(client, desired, log=log, job_id=first.job_id).run()

    assert resumed.state == "done"
    assert resumed.ok, [r for r in resumed.results if r.failed]
    # Item by item: exactly the plan, no duplicates, nothing missing, nothing extra.
    mailboxes, aliases = sql_state(instance)
    assert mailboxes == {m.address: m.name for m in desired.mailboxes}
    expected = expected_aliases(desired)
    assert set(aliases) == set(expected)
    for address, goto in aliases.items():
        assert len(goto) == len(set(goto)), address  # no target twice
        assert set(goto) == expected[address], address
    with sqlite3.connect(instance.db_path) as conn:
        creates = Counter(
            data
            for (data,) in conn.execute(
                "SELECT data FROM log WHERE action = 'create_mailbox' AND domain = ?", (DOMAIN,)
            )
        )
    assert set(creates.values()) == {1}  # every mailbox was created exactly once
    # The job's saved results cover every item once; the first run's work is kept.
    results = log.items(first.job_id)
    assert len(results) == len({r.key for r in results}) == 501
    statuses = Counter(r.status for r in results)
    assert statuses["created"] + statuses["repaired"] + statuses["skipped"] == 401
    assert statuses["updated"] + statuses["skipped"] >= 100
    assert {c.status for c in log.checks(first.job_id)} == {"present"}
    assert len(log.checks(first.job_id)) == 500
    # And a third run has nothing left to do.
    third = ProvisionJob(client, desired, log=log, verify=False).run()
    assert {r.status for r in third.results if r.op != "skip"} <= {
        "created",
        "updated",
        "repaired",
    }
    assert third.plan is not None
    assert third.plan.pending == []


def test_a_short_outage_is_ridden_out_in_the_background(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory()
    desired = Desired(mailboxes=[Mbx(f"bg{i}@{DOMAIN}", row=i) for i in range(30)])
    client = PostfixAdminClient(instance.url, timeout=5)
    client.login(instance.superadmin, instance.superadmin_password)
    states: list[str] = []
    restarted = threading.Event()

    def blip(progress: Progress) -> None:
        states.append(progress.state)
        if progress.done == 10 and not restarted.is_set():
            restarted.set()
            instance.stop()
            threading.Timer(1.0, instance.start).start()

    job = ProvisionJob(client, desired, outage_wait_s=30, on_progress=blip).start()
    outcome = job.wait(60)

    assert outcome is not None
    assert outcome.ok, outcome.to_json("en")
    assert "waiting" in states
    assert len(sql_state(instance)[0]) == 30
