"""Plan, apply and verify against real PostfixAdmin 3.3.13 (the shared test bed).

Each test uses its own domain names on the shared instance, or a private instance
when it needs special configuration. What PostfixAdmin stored is checked through its
own SQLite file, independently of the client's parsing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mailmove.apply import ProvisionJob, plan_only
from mailmove.jobs import MemoryJobLog
from mailmove.plan import Desired, PlanOptions, scope_of
from mailmove.postfixadmin import PostfixAdminClient, Rejected
from mailmove.testbed.postfixadmin import PostfixAdminInstance
from tests.desired import Fwd, Mbx
from tests.fixtures.postfixadmin import PfaFactory

pytestmark = pytest.mark.integration


def login(
    instance: PostfixAdminInstance, session: requests.Session | None = None
) -> PostfixAdminClient:
    client = PostfixAdminClient(instance.url, session=session)
    client.login(instance.superadmin, instance.superadmin_password)
    return client


def db_rows(instance: PostfixAdminInstance, query: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(instance.db_path) as conn:
        return list(conn.execute(query, params))


def live_mailboxes(instance: PostfixAdminInstance, domain: str) -> dict[str, str]:
    return dict(db_rows(instance, "SELECT username, name FROM mailbox WHERE domain = ?", domain))


def live_aliases(instance: PostfixAdminInstance, domain: str) -> dict[str, list[str]]:
    rows = db_rows(instance, "SELECT address, goto FROM alias WHERE domain = ?", domain)
    return {address: goto.split(",") for address, goto in rows}


class Calls:
    """(method, path) of every request a session sends."""

    def __init__(self, session: requests.Session) -> None:
        self.seen: list[tuple[str, str]] = []
        session.hooks["response"].append(self._record)

    def _record(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.seen.append((resp.request.method or "", urlsplit(resp.url).path))

    def posts(self) -> list[str]:
        return [p for m, p in self.seen if m == "POST" and p != "/login.php"]


@pytest.fixture
def client(pfa: PostfixAdminInstance) -> Iterator[PostfixAdminClient]:
    c = login(pfa)
    yield c
    c.close()


PASSWORDS = ("Zq8kLm2pWx", "Rt5vBn7cYu", "Hg3jKd9sAe")


def test_from_scratch_then_second_run_is_all_skip(
    pfa: PostfixAdminInstance, client: PostfixAdminClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    d = "scratch.test"
    desired = Desired(
        mailboxes=[
            Mbx(f"anna@{d}", "Anna Łukasiewicz-Müller", PASSWORDS[0], row=2),
            Mbx(f"Ben@{d.upper()}", "Ben", PASSWORDS[1], row=3),
            Mbx(f"carl@{d}", "", PASSWORDS[2], row=4),
        ],
        forwards=[
            Fwd(f"anna@{d}", ("anna@home.example",), keep_copy=True, row=5),
            Fwd(f"ben@{d}", ("ben@home.example",), keep_copy=False, row=6),
            Fwd(f"team@{d}", (f"anna@{d}", f"ben@{d}"), row=7),
            Fwd(f"@{d}", (f"anna@{d}",), catch_all=True, row=8),
        ],
    )
    log = MemoryJobLog()

    plan = plan_only(client, desired)
    first = ProvisionJob(client, desired, log=log).run()
    second = ProvisionJob(client, desired, log=log).run()

    assert [a.op for a in plan.actions] == [
        "create_domain",
        "create_mailbox",
        "create_mailbox",
        "create_mailbox",
        "update_alias",
        "update_alias",
        "create_alias",
        "create_alias",
    ]
    assert first.ok, first.to_json("en")
    assert (first.summary.created, first.summary.updated) == (6, 2)
    assert live_mailboxes(pfa, d) == {
        f"anna@{d}": "Anna Łukasiewicz-Müller",
        f"ben@{d}": "Ben",
        f"carl@{d}": "",
    }
    assert live_aliases(pfa, d) == {
        f"anna@{d}": ["anna@home.example", f"anna@{d}"],  # keep a copy
        f"ben@{d}": ["ben@home.example"],  # forward only
        f"carl@{d}": [f"carl@{d}"],
        f"team@{d}": [f"anna@{d}", f"ben@{d}"],
        f"@{d}": [f"anna@{d}"],
    }
    assert second.ok
    assert {r.status for r in second.results} == {"skipped"}
    assert {c.status for c in second.checks} == {"present"}
    assert len(second.checks) == 7
    # The welcome mail was off: PFA would have logged a failed send to the closed port.
    assert "Unable to send" not in json.dumps(first.to_json("en"))
    everything = json.dumps(first.to_json("en"), ensure_ascii=False) + caplog.text
    for password in PASSWORDS:
        assert password not in everything


def test_orphan_self_alias_is_repaired(
    pfa: PostfixAdminInstance, client: PostfixAdminClient
) -> None:
    d = "orphan.test"
    pfa.add_domain(d)
    # What PFA leaves when the mailbox INSERT fails after the alias INSERT (§7g).
    with sqlite3.connect(pfa.db_path) as conn:
        conn.execute(
            "INSERT INTO alias (address, goto, domain, created, modified, active) "
            "VALUES (?, ?, ?, datetime('now'), datetime('now'), 1)",
            (f"boom@{d}", f"boom@{d}", d),
        )
    with pytest.raises(Rejected, match="already exists"):  # what blocks every plain retry
        client.create_mailbox(f"boom@{d}", "Secret123", name="Boom")
    desired = Desired(mailboxes=[Mbx(f"boom@{d}", "Boom")])

    plan = plan_only(client, desired)
    outcome = ProvisionJob(client, desired).run()

    action = plan.actions[-1]
    assert (action.op, action.repair_orphan) == ("create_mailbox", True)
    assert [r.status for r in outcome.results if r.kind == "mailbox"] == ["repaired"]
    assert outcome.ok
    assert live_mailboxes(pfa, d) == {f"boom@{d}": "Boom"}
    assert live_aliases(pfa, d) == {f"boom@{d}": [f"boom@{d}"]}


def test_orphan_appearing_after_planning_is_repaired_during_apply(
    pfa: PostfixAdminInstance, client: PostfixAdminClient
) -> None:
    d = "orphan2.test"
    pfa.add_domain(d)
    desired = Desired(mailboxes=[Mbx(f"late@{d}", "Late")])
    plan = plan_only(client, desired)  # no orphan yet: a plain create
    with sqlite3.connect(pfa.db_path) as conn:
        conn.execute(
            "INSERT INTO alias (address, goto, domain, created, modified, active) "
            "VALUES (?, ?, ?, datetime('now'), datetime('now'), 1)",
            (f"late@{d}", f"late@{d}", d),
        )

    outcome = ProvisionJob(client, desired, plan=plan).run()

    assert not plan.actions[-1].repair_orphan
    assert [r.status for r in outcome.results if r.kind == "mailbox"] == ["repaired"]
    assert live_mailboxes(pfa, d) == {f"late@{d}": "Late"}


def test_domain_limits_refuse_with_numbers_and_send_nothing(pfa: PostfixAdminInstance) -> None:
    d = "limits.test"
    pfa.add_domain(d, mailboxes=3, aliases=1)
    pfa.add_mailbox(f"one@{d}", "Secret123")
    session = requests.Session()
    calls = Calls(session)
    client = login(pfa, session)
    desired = Desired(
        mailboxes=[Mbx(f"m{i}@{d}") for i in range(3)],
        forwards=[Fwd(f"a{i}@{d}", ("x@else.example",)) for i in range(2)],
    )

    outcome = ProvisionJob(client, desired).run()

    assert outcome.state == "refused"
    plan = outcome.plan
    assert plan is not None
    messages = {e.code: e.message("en") for e in plan.errors}
    assert (
        "3 new mailboxes are needed but only 2 more are allowed (1 of 3 used)"
        in messages["mailbox_limit"]
    )
    assert (
        "2 new forwardings are needed but only 1 more are allowed (0 of 1 used)"
        in messages["alias_limit"]
    )
    assert "上限3個中1個使用" in next(e for e in plan.errors if e.code == "mailbox_limit").message(
        "ja"
    )
    assert calls.posts() == []
    assert live_mailboxes(pfa, d) == {f"one@{d}": ""}


def test_domain_admin_is_refused_on_a_foreign_domain_by_the_app_and_by_postfixadmin(
    pfa: PostfixAdminInstance,
) -> None:
    pfa.add_domain("own.test")
    pfa.add_domain("foreign.test")
    pfa.add_admin("boss@own.test", "DomAdmin123", ["own.test"])
    session = requests.Session()
    calls = Calls(session)
    admin = PostfixAdminClient(pfa.url, session=session)
    identity = admin.login("boss@own.test", "DomAdmin123")
    desired = Desired(
        mailboxes=[Mbx("mine@own.test"), Mbx("intruder@foreign.test")],
        forwards=[Fwd("grab@foreign.test", ("boss@own.test",))],
    )

    # The app: refused before any request (the foreign domain is not in the admin's scope).
    outcome = ProvisionJob(admin, desired, options=PlanOptions(scope=scope_of(["own.test"]))).run()
    assert not identity.superadmin
    assert outcome.state == "refused"
    assert outcome.plan is not None
    assert [e.code for e in outcome.plan.errors] == ["domain_not_yours"]
    assert calls.posts() == []
    # Without the app's scope the plan still refuses: the domain admin cannot see it.
    unscoped = plan_only(admin, desired)
    assert [e.code for e in unscoped.errors] == ["ask_support_domain"]

    # PostfixAdmin: the same requests sent anyway are refused, and nothing is created.
    with pytest.raises(Rejected, match="Invalid value given for domain"):
        admin.create_mailbox("intruder@foreign.test", "Secret123")
    with pytest.raises(Rejected, match="Invalid value given for domain"):
        admin.create_alias("grab@foreign.test", ["boss@own.test"])
    assert live_mailboxes(pfa, "foreign.test") == {}
    assert live_aliases(pfa, "foreign.test") == {}
    admin.close()


def test_japanese_names_and_an_idn_domain_round_trip(
    pfa: PostfixAdminInstance, client: PostfixAdminClient
) -> None:
    desired = Desired(
        mailboxes=[
            Mbx("taro@例え.テスト", "山田 太郎", row=2),
            Mbx("hanako@xn--r8jz45g.xn--zckzah", "佐藤 花子 (営業部)", row=3),
            Mbx("jurgen@münchen-idn.test", "Jürgen Zoë Ünïcode", row=4),
        ],
        forwards=[Fwd("info@例え.テスト", ("taro@例え.テスト", "hanako@例え.テスト"), row=5)],
    )

    outcome = ProvisionJob(client, desired).run()
    again = plan_only(client, desired)

    assert outcome.ok, outcome.to_json("en")
    assert live_mailboxes(pfa, "xn--r8jz45g.xn--zckzah") == {
        "taro@xn--r8jz45g.xn--zckzah": "山田 太郎",
        "hanako@xn--r8jz45g.xn--zckzah": "佐藤 花子 (営業部)",
    }
    assert live_mailboxes(pfa, "xn--mnchen-idn-9db.test") == {
        "jurgen@xn--mnchen-idn-9db.test": "Jürgen Zoë Ünïcode"
    }
    names = {m.address: m.name for m in client.list_mailboxes()}
    assert names["taro@xn--r8jz45g.xn--zckzah"] == "山田 太郎"
    assert {a.op for a in again.actions} == {"skip"}


def test_a_name_conflict_changes_only_when_confirmed_and_keeps_the_password(
    pfa: PostfixAdminInstance, client: PostfixAdminClient
) -> None:
    d = "conflict.test"
    pfa.add_domain(d)
    pfa.add_mailbox(f"anna@{d}", "OldPass123", name="Anna Alt")
    pfa.add_alias(f"team@{d}", ["old@else.example"])
    (hash_before,) = db_rows(pfa, "SELECT password FROM mailbox WHERE username = ?", f"anna@{d}")
    desired = Desired(
        mailboxes=[Mbx(f"anna@{d}", "Anna Neu", password="NewPass456")],
        forwards=[Fwd(f"team@{d}", (f"anna@{d}",))],
    )

    declined = ProvisionJob(client, desired).run()
    assert live_mailboxes(pfa, d)[f"anna@{d}"] == "Anna Alt"
    accepted = ProvisionJob(client, desired, accept_conflicts=True).run()

    assert {r.status for r in declined.results if r.op != "skip"} == {"declined"}
    assert accepted.ok
    assert live_mailboxes(pfa, d)[f"anna@{d}"] == "Anna Neu"
    assert live_aliases(pfa, d)[f"team@{d}"] == [f"anna@{d}"]
    # The whole form was sent back: still active, same password hash, same maildir.
    assert db_rows(pfa, "SELECT active FROM mailbox WHERE username = ?", f"anna@{d}") == [(1,)]
    assert db_rows(pfa, "SELECT password FROM mailbox WHERE username = ?", f"anna@{d}") == [
        hash_before
    ]


def test_failing_hook_is_a_warning_not_a_failure(pfa_factory: PfaFactory) -> None:
    instance = pfa_factory(conf={"mailbox_postcreation_script": "/bin/false"})
    instance.add_domain("hook.test")
    client = login(instance)
    desired = Desired(mailboxes=[Mbx(f"u{i}@hook.test") for i in range(3)])

    outcome = ProvisionJob(client, desired).run()

    assert outcome.ok
    mailbox_results = [r for r in outcome.results if r.kind == "mailbox"]
    assert [r.status for r in mailbox_results] == ["created"] * 3
    for result in mailbox_results:
        assert result.warnings == (
            "The mailbox postcreate script failed, check the error log for details!",
        )
