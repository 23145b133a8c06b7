"""The planner as pure logic: lists against a live state, no PostfixAdmin needed.

``FakePfa`` models the PostfixAdmin rules the planner and the job rely on (one
address space, mailbox aliases, limits, catch-alls, orphan self-aliases); the job's
tests in test_plan_job.py reuse it. The real server is exercised in
tests/integration/test_provision*.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mailmove.config import PasswordPolicy
from mailmove.i18n import catalog
from mailmove.plan import (
    Desired,
    PlanOptions,
    make_plan,
    normalize_address,
    scope_of,
    verify,
)
from mailmove.postfixadmin import (
    AdminIdentity,
    DomainInfo,
    FormError,
    LiveAlias,
    LiveMailbox,
    LiveState,
    Outcome,
    Rejected,
)
from tests.desired import Fwd, Mbx

ROOT = Path(__file__).parents[2]


# -- the lists, as mailmove.lists shapes them ------------------------------------------------


# -- a PostfixAdmin in a dict ----------------------------------------------------------------


@dataclass
class FakeDomain:
    mailboxes: int = 0
    aliases: int = 0
    active: bool = True


class FakePfa:
    """Enough PostfixAdmin for the planner and the job (see the module docstring).

    ``before_write(op, obj)`` runs before every write and may raise (outages) or
    mutate the fake (a concurrent change).
    """

    def __init__(self, *, superadmin: bool = True, username: str = "admin@example.test") -> None:
        self.identity = AdminIdentity(username, superadmin)
        self.domains: dict[str, FakeDomain] = {}
        self.mailboxes: dict[str, LiveMailbox] = {}
        self.passwords: dict[str, str] = {}
        self.rows: dict[str, tuple[list[str], bool]] = {}  # alias rows: goto, active
        self.writes: list[tuple[str, str]] = []
        self.before_write: Callable[[str, str], None] | None = None
        self.warnings_for: set[str] = set()  # creates whose side effect "fails"
        self.pending_warnings: list[str] = []
        self.closed = False

    # seeding
    def add_domain(self, name: str, mailboxes: int = 0, aliases: int = 0) -> None:
        self.domains[name] = FakeDomain(mailboxes, aliases)

    def add_mailbox(self, address: str, name: str = "", keep_copy: bool = True) -> None:
        self.mailboxes[address] = LiveMailbox(address, name, 0, True)
        self.rows[address] = ([address] if keep_copy else [], True)

    def add_alias(self, address: str, goto: Sequence[str], active: bool = True) -> None:
        self.rows[address] = (list(goto), active)

    # reading
    def _alias(self, address: str) -> LiveAlias | None:
        if address not in self.rows:
            return None
        goto, active = self.rows[address]
        if address in self.mailboxes:
            others = tuple(g for g in goto if g != address)
            return LiveAlias(address, others, active, True, address in goto)
        return LiveAlias(address, tuple(goto), active)

    def read_state(
        self,
        domains: Collection[str] = (),
        addresses: Collection[str] = (),
        mailbox_aliases: Collection[str] = (),
    ) -> LiveState:
        state = LiveState(identity=self.identity)
        for name, d in self.domains.items():
            mb = sum(a.endswith("@" + name) for a in self.mailboxes)
            al = sum(a.rpartition("@")[2] == name and a not in self.mailboxes for a in self.rows)
            state.domains[name] = DomainInfo(
                name, "", al, d.aliases, mb, d.mailboxes, False, d.active
            )
        state.mailboxes = dict(self.mailboxes)
        for address in self.rows:
            alias = self._alias(address)
            if alias is not None and not alias.is_mailbox:
                state.aliases[address] = alias
        for address in mailbox_aliases:
            alias = self._alias(address)
            if alias is not None and alias.is_mailbox:
                state.mailbox_aliases[address] = alias
        return state

    # writing
    def _write(self, op: str, obj: str) -> None:
        if self.before_write is not None:
            self.before_write(op, obj)
        self.writes.append((op, obj))

    def _refuse(self, what: str, message: str, field_name: str | None = None) -> Rejected:
        return Rejected(what, [FormError(field_name, message)])

    def _check_domain(self, address: str) -> str:
        domain = address.rpartition("@")[2]
        if domain not in self.domains:
            raise self._refuse(address, "Invalid value given for domain", "domain")
        return domain

    def create_domain(self, domain: str, *, mailboxes: int = 0, aliases: int = 0) -> Outcome:
        self._write("create_domain", domain)
        if domain in self.domains:
            raise self._refuse(domain, "The domain already exists!")
        self.domains[domain] = FakeDomain(mailboxes, aliases)
        return Outcome()

    def create_mailbox(
        self, address: str, password: str, *, name: str = "", quota_mb: int | None = None
    ) -> Outcome:
        self._write("create_mailbox", address)
        domain = self._check_domain(address)
        if address in self.rows or address in self.mailboxes:
            raise self._refuse(
                address, "This email address already exists, please choose a different one!"
            )
        limit = self.domains[domain].mailboxes
        used = sum(a.endswith("@" + domain) for a in self.mailboxes)
        if limit < 0 or (limit > 0 and used >= limit):
            raise self._refuse(address, "You have reached your limit to create mailboxes!")
        if len(password) < 5:
            raise self._refuse(address, "Password is too short - requires 5 characters", "password")
        self.rows[address] = ([address], True)
        self.mailboxes[address] = LiveMailbox(address, name, quota_mb or 0, True)
        self.passwords[address] = password
        if address in self.warnings_for:
            self.pending_warnings.append(f"Unable to send email to {address}!")
        return Outcome()

    def update_mailbox(
        self,
        address: str,
        *,
        name: str | None = None,
        quota_mb: int | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> Outcome:
        self._write("update_mailbox", address)
        old = self.mailboxes[address]
        self.mailboxes[address] = LiveMailbox(
            address,
            name if name is not None else old.name,
            quota_mb if quota_mb is not None else old.quota_mb,
            active if active is not None else old.active,
        )
        if password is not None:
            self.passwords[address] = password
        return Outcome()

    def create_alias(self, address: str, targets: Sequence[str]) -> Outcome:
        self._write("create_alias", address)
        domain = self._check_domain(address)
        if address in self.rows:
            raise self._refuse(
                address, "This email address already exists, please choose a different one!"
            )
        limit = self.domains[domain].aliases
        used = sum(a.rpartition("@")[2] == domain and a not in self.mailboxes for a in self.rows)
        if limit < 0 or (limit > 0 and used >= limit):
            raise self._refuse(address, "You have reached your limit to create aliases!")
        self.rows[address] = (list(targets), True)
        return Outcome()

    def update_alias(
        self,
        address: str,
        targets: Sequence[str],
        *,
        keep_copy: bool | None = None,
        active: bool | None = None,
        current: LiveAlias | None = None,
    ) -> Outcome:
        self._write("update_alias", address)
        goto, was_active = self.rows[address]
        goto = list(targets)
        if address in self.mailboxes:
            copy = keep_copy if keep_copy is not None else address in self.rows[address][0]
            if copy:
                goto.append(address)
        self.rows[address] = (goto, active if active is not None else was_active)
        return Outcome()

    def delete_alias(self, address: str) -> Outcome:
        self._write("delete_alias", address)
        if address in self.mailboxes:
            raise self._refuse(address, "This alias belongs to a mailbox and can't be deleted!")
        if address not in self.rows:
            raise self._refuse(address, "This alias does not exist!")
        del self.rows[address]
        return Outcome()

    def drain_warnings(self) -> list[str]:
        warnings, self.pending_warnings = self.pending_warnings, []
        return warnings

    def close(self) -> None:
        self.closed = True


def plan_for(pfa: FakePfa, desired: Desired, **options: object):  # type: ignore[no-untyped-def]
    from mailmove.plan import read_live

    return make_plan(desired, read_live(pfa, desired), PlanOptions(**options))  # type: ignore[arg-type]


def ops(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a.op, a.object) for a in plan.actions]


# -- planning from scratch -------------------------------------------------------------------


def test_from_scratch_orders_domains_mailboxes_forwards_catch_all_last() -> None:
    pfa = FakePfa()
    desired = Desired(
        mailboxes=[Mbx("Anna@Web.test", "Anna", row=2), Mbx("ben@web.test", row=3)],
        forwards=[
            Fwd("@web.test", ("anna@web.test",), catch_all=True, row=9),
            Fwd("anna@web.test", ("anna@gmail.example",), keep_copy=True, row=7),
            Fwd("team@web.test", ("anna@web.test", "ben@web.test"), row=8),
        ],
    )

    plan = plan_for(pfa, desired)

    assert plan.runnable
    assert ops(plan) == [
        ("create_domain", "web.test"),
        ("create_mailbox", "anna@web.test"),
        ("create_mailbox", "ben@web.test"),
        ("update_alias", "anna@web.test"),
        ("create_alias", "team@web.test"),
        ("create_alias", "@web.test"),
    ]
    forward = plan.actions[3]
    assert forward.keep_copy is True
    assert forward.known is not None
    assert forward.known.is_mailbox
    assert forward.conflict is None
    assert not plan.conflicts


def test_everything_present_is_all_skip() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Anna")
    pfa.rows["anna@web.test"] = (["anna@gmail.example", "anna@web.test"], True)
    pfa.add_alias("team@web.test", ["anna@web.test"])
    desired = Desired(
        mailboxes=[Mbx("anna@web.test", "Anna")],
        forwards=[
            Fwd("anna@web.test", ("Anna@Gmail.example",), keep_copy=True),
            Fwd("team@web.test", ("anna@web.test",)),
        ],
    )

    plan = plan_for(pfa, desired)

    assert {a.op for a in plan.actions} == {"skip"}
    assert plan.pending == []
    assert plan.runnable


def test_passwords_of_existing_mailboxes_are_kept_unless_asked() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Anna")
    desired = Desired(mailboxes=[Mbx("anna@web.test", "Anna", password="NewPass456")])

    kept = plan_for(pfa, desired)
    overwritten = plan_for(pfa, desired, overwrite_passwords=True)

    assert ops(kept)[-1] == ("skip", "anna@web.test")
    update = overwritten.actions[-1]
    assert (update.op, update.password, update.conflict) == ("update_mailbox", "NewPass456", None)
    assert "NewPass456" not in repr(update)
    assert "NewPass456" not in json.dumps(overwritten.to_json("en"))


# -- scope and domains -----------------------------------------------------------------------


def test_domain_admin_is_told_to_ask_support_for_a_missing_domain() -> None:
    pfa = FakePfa(superadmin=False)
    pfa.add_domain("mine.test")
    desired = Desired(mailboxes=[Mbx("a@mine.test"), Mbx("b@new.test"), Mbx("c@new.test")])

    plan = plan_for(pfa, desired)

    assert not plan.runnable
    [error] = plan.errors
    assert (error.code, error.object) == ("ask_support_domain", "new.test")
    assert "ask support" in error.message("en")
    assert "2 addresses" in error.message("en")
    assert "サポート" in error.message("ja")
    assert all(a.domain != "new.test" for a in plan.actions)
    assert plan.allowed_domains == {"mine.test"}


def test_items_outside_the_signed_in_scope_are_refused_before_any_request() -> None:
    pfa = FakePfa()  # e.g. the CLI backend: it could touch any domain
    pfa.add_domain("mine.test")
    pfa.add_domain("theirs.test")
    desired = Desired(mailboxes=[Mbx("a@mine.test"), Mbx("x@theirs.test")])

    plan = plan_for(pfa, desired, scope=scope_of(["MINE.test"]))

    assert [e.code for e in plan.errors] == ["domain_not_yours"]
    assert "theirs.test" not in plan.allowed_domains
    assert ("create_mailbox", "x@theirs.test") not in ops(plan)


def test_idn_domains_are_planned_as_punycode() -> None:
    assert normalize_address("Anna@München.Test") == "anna@xn--mnchen-3ya.test"
    plan = plan_for(FakePfa(), Desired(mailboxes=[Mbx("anna@münchen.test", "山田 太郎")]))
    assert ops(plan) == [
        ("create_domain", "xn--mnchen-3ya.test"),
        ("create_mailbox", "anna@xn--mnchen-3ya.test"),
    ]


# -- limits ----------------------------------------------------------------------------------


def test_mailbox_limit_refuses_with_the_numbers() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test", mailboxes=5)
    for i in range(3):
        pfa.add_mailbox(f"old{i}@web.test")
    desired = Desired(mailboxes=[Mbx(f"new{i}@web.test") for i in range(4)])

    plan = plan_for(pfa, desired)

    [error] = plan.errors
    assert error.code == "mailbox_limit"
    assert dict(error.params) == {"planned": "4", "left": "2", "used": "3", "limit": "5"}
    text = error.message("en")
    assert "4 new mailboxes" in text
    assert "only 2 more" in text
    assert "3 of 5" in text


def test_alias_limits_count_forward_only_aliases_and_disabled_means_none() -> None:
    pfa = FakePfa()
    pfa.add_domain("few.test", aliases=1)
    pfa.add_domain("none.test", aliases=-1)
    desired = Desired(
        mailboxes=[Mbx("m@few.test")],
        forwards=[
            Fwd("m@few.test", ("x@else.example",), keep_copy=True),  # mailbox alias: free
            Fwd("a@few.test", ("x@else.example",)),
            Fwd("b@few.test", ("x@else.example",)),
            Fwd("c@none.test", ("x@else.example",)),
        ],
    )

    plan = plan_for(pfa, desired)

    codes = {e.code: dict(e.params) for e in plan.errors}
    assert codes["alias_limit"] == {"planned": "2", "left": "1", "used": "0", "limit": "1"}
    assert codes["aliases_disabled"] == {"planned": "1"}


def test_limit_exactly_reached_is_fine() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test", mailboxes=2)
    plan = plan_for(pfa, Desired(mailboxes=[Mbx("a@web.test"), Mbx("b@web.test")]))
    assert plan.runnable


# -- conflicts -------------------------------------------------------------------------------


def test_differing_existing_objects_are_conflicts_side_by_side() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Anna")
    pfa.add_mailbox("ben@web.test", "Ben")
    pfa.add_mailbox("carl@web.test", "Carl")
    pfa.add_alias("team@web.test", ["old@web.test"])
    desired = Desired(
        mailboxes=[Mbx("anna@web.test", "Anna Schmidt", row=2)],
        forwards=[
            Fwd("team@web.test", ("anna@web.test",), row=5),
            Fwd("ben@web.test", ("ben@home.example",), keep_copy=True, row=6),  # adds: no conflict
            Fwd("carl@web.test", ("carl@home.example",), keep_copy=False, row=7),  # stops delivery
        ],
    )

    plan = plan_for(pfa, desired)

    assert plan.runnable
    by_object = {c.object: c for c in plan.conflicts}
    assert set(by_object) == {"anna@web.test", "team@web.test", "carl@web.test"}
    name = by_object["anna@web.test"].fields[0]
    assert (name.field, name.live, name.desired) == ("name", "Anna", "Anna Schmidt")
    targets = by_object["team@web.test"].fields[0]
    assert (targets.field, targets.live, targets.desired) == (
        "targets",
        "old@web.test",
        "anna@web.test",
    )
    assert [f.field for f in by_object["carl@web.test"].fields] == ["targets", "keep_copy"]
    update = next(a for a in plan.actions if a.object == "anna@web.test")
    assert (update.op, update.name, update.password) == ("update_mailbox", "Anna Schmidt", None)
    assert plan.to_json("en")["conflicts"][0]["fields"]  # type: ignore[index]


def test_empty_name_or_quota_in_the_list_means_keep_what_is_there() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test", "Anna")
    plan = plan_for(pfa, Desired(mailboxes=[Mbx("anna@web.test", "", quota_mb=None)]))
    assert ops(plan)[-1] == ("skip", "anna@web.test")


# -- repairs and refusals --------------------------------------------------------------------


def test_orphan_self_alias_is_planned_as_a_repair() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test", aliases=1)
    pfa.add_alias("boom@web.test", ["boom@web.test"])  # mailbox create died half-way
    desired = Desired(
        mailboxes=[Mbx("boom@web.test")],
        forwards=[Fwd("fwd@web.test", ("x@else.example",))],  # fits: the repair frees a slot
    )

    plan = plan_for(pfa, desired)

    assert plan.runnable, [e.message("en") for e in plan.errors]
    repair = next(a for a in plan.actions if a.object == "boom@web.test")
    assert (repair.op, repair.repair_orphan) == ("create_mailbox", True)


def test_an_existing_alias_is_not_turned_into_a_mailbox() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_alias("sales@web.test", ["a@web.test", "b@web.test"])

    plan = plan_for(pfa, Desired(mailboxes=[Mbx("sales@web.test", row=4)]))

    [error] = plan.errors
    assert (error.code, error.row) == ("exists_as_alias", 4)
    assert "a@web.test, b@web.test" in error.message("en")


def test_row_level_problems() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    desired = Desired(
        mailboxes=[
            Mbx("a@web.test", row=2),
            Mbx("A@web.test", row=3),
            Mbx("nopw@web.test", password="", row=4),
            Mbx("weak@web.test", password="abcde", row=5),
        ],
        forwards=[
            Fwd("x@web.test", ("y@else.example",), keep_copy=True, row=6),
            Fwd("loop@web.test", ("loop@web.test",), row=7),
            Fwd("a@web.test", ("a@web.test", "a@home.example"), row=8),  # = keep a copy
        ],
    )

    plan = plan_for(pfa, desired, password_policy=PasswordPolicy())

    codes = sorted((e.code, e.row) for e in plan.errors)
    assert codes == [
        ("duplicate", 2),
        ("keep_copy_needs_mailbox", 6),
        ("password_missing", 4),
        ("password_policy", 5),
        ("self_target", 7),
    ]
    forward = next(a for a in plan.actions if a.op == "update_alias")
    assert (forward.targets, forward.keep_copy) == (("a@home.example",), True)
    assert "abcde" not in json.dumps(plan.to_json("en"))


def test_errors_from_the_lists_block_the_plan_in_both_languages() -> None:
    @dataclass(frozen=True)
    class Issue:  # shape of mailmove.lists.Issue
        file: str
        row: int
        code: str

        def message(self, lang: str = "ja") -> str:
            return {"ja": "行がおかしい", "en": "bad row"}[lang]

    plan = make_plan(
        Desired(errors=[Issue("a.xlsx", 4, "x")]),
        LiveState(identity=AdminIdentity("a", True)),
    )

    assert not plan.runnable
    assert (plan.errors[0].message("en"), plan.errors[0].message("ja")) == (
        "bad row",
        "行がおかしい",
    )
    assert plan.errors[0].row == 4


def test_quota_is_checked_against_the_domain_maximum() -> None:
    live = LiveState(identity=AdminIdentity("a", True))
    live.domains["q.test"] = DomainInfo("q.test", "", 0, 0, 0, 0, False, True, max_quota_mb=100)
    desired = Desired(mailboxes=[Mbx("big@q.test", quota_mb=500), Mbx("none@q.test")])

    plan = make_plan(desired, live)

    assert [(e.code, dict(e.params)) for e in plan.errors] == [
        ("quota_too_high", {"quota": "500", "max": "100"})
    ]
    defaulted = next(a for a in plan.actions if a.object == "none@q.test")
    assert defaulted.quota_mb == 100
    assert [w.code for w in plan.warnings] == ["quota_defaulted"]


# -- the JSON contract and the catalog -------------------------------------------------------


def test_json_contract() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("old@web.test")
    desired = Desired(mailboxes=[Mbx("old@web.test"), Mbx("new@web.test", "N")])

    data = plan_for(pfa, desired).to_json("en")

    assert {"actions", "conflicts", "errors"} <= set(data)
    allowed = {
        "create_domain",
        "create_mailbox",
        "update_mailbox",
        "create_alias",
        "update_alias",
        "skip",
    }
    for action in data["actions"]:  # type: ignore[union-attr]
        assert {"op", "object", "detail"} <= set(action)
        assert action["op"] in allowed
    assert data["actions"][-1] == {  # type: ignore[index]
        "op": "create_mailbox",
        "object": "new@web.test",
        "detail": "name: N, quota: -",
        "row": 0,
        "conflict": False,
    }


def test_every_dynamic_catalog_key_exists() -> None:
    """Keys built at run time (f"provision.error.{code}") escape the static scan."""
    source = "".join(
        (ROOT / "mailmove" / name).read_text(encoding="utf-8") for name in ("plan.py", "apply.py")
    )
    codes = set(re.findall(r'Problem\(\s*"(\w+)"', source))
    codes |= {"mailbox_limit", "alias_limit", "mailboxes_disabled", "aliases_disabled"}
    keys = {
        f"provision.error.{c}" for c in codes if c not in {"domain_inactive", "quota_defaulted"}
    }
    keys |= {"provision.warning.domain_inactive", "provision.warning.quota_defaulted"}
    keys |= {f"provision.detail.{c}" for c in re.findall(r'"(\w+_(?:present|changes))"', source)}
    keys |= {
        f"provision.detail.{c}"
        for c in (
            "new_domain",
            "new_mailbox",
            "repair_orphan",
            "password_overwrite",
            "forward_copy",
            "forward_nocopy",
            "new_alias",
        )
    }
    for group, names in {
        "op": ("create_domain", "create_mailbox", "update_mailbox", "create_alias"),
        "status": ("created", "updated", "repaired", "skipped", "declined", "refused"),
        "state": ("pending", "reading", "running", "waiting", "verifying", "done", "refused"),
        "check": ("present", "missing", "different"),
        "field": ("name", "quota", "active", "targets", "keep_copy"),
    }.items():
        keys |= {f"provision.{group}.{n}" for n in names}
    keys |= {"provision.op.update_alias", "provision.op.skip", "provision.status.blocked"}
    keys |= {f"provision.state.{s}" for s in ("interrupted", "cancelled", "failed")}
    keys |= {"provision.status.failed"}
    assert sorted(k for k in keys if k not in catalog()) == []


def test_catalog_file_is_only_provision_keys() -> None:
    data = yaml.safe_load((ROOT / "mailmove/messages/provision.yaml").read_text(encoding="utf-8"))
    assert all(key.startswith("provision.") for key in data)


# -- verification ----------------------------------------------------------------------------


def test_verify_marks_every_listed_address() -> None:
    pfa = FakePfa()
    pfa.add_domain("web.test")
    pfa.add_mailbox("anna@web.test")
    pfa.rows["anna@web.test"] = (["anna@home.example"], True)  # forward only, no copy
    pfa.add_alias("team@web.test", ["anna@web.test"])
    desired = Desired(
        mailboxes=[Mbx("anna@web.test"), Mbx("gone@web.test")],
        forwards=[
            Fwd("anna@web.test", ("anna@home.example",), keep_copy=True),
            Fwd("team@web.test", ("anna@web.test",)),
            Fwd("sales@web.test", ("anna@web.test",)),
        ],
    )
    from mailmove.plan import read_live

    checks = {(c.kind, c.address): c for c in verify(desired, read_live(pfa, desired))}

    assert checks["mailbox", "anna@web.test"].status == "present"
    assert checks["mailbox", "gone@web.test"].status == "missing"
    assert checks["forward", "anna@web.test"].status == "different"  # no copy kept
    assert checks["forward", "team@web.test"].status == "present"
    assert checks["forward", "sales@web.test"].status == "missing"


@pytest.mark.parametrize(
    ("spelled", "expected"),
    [("*@Web.test", "@web.test"), ("@web.test", "@web.test")],
)
def test_catch_all_spellings(spelled: str, expected: str) -> None:
    plan = plan_for(FakePfa(), Desired(forwards=[Fwd(spelled, ("a@b.example",), catch_all=True)]))
    assert ops(plan)[-1] == ("create_alias", expected)
