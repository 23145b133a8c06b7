"""Projects on SQLite and on a real PostgreSQL: isolation, persistence, migrations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from mailmove.auth import Identity
from mailmove.projects import ProjectError, ProjectNotFound, Projects
from mailmove.store import MIGRATIONS, Store, events

pytestmark = pytest.mark.integration

A = Identity("admin@yamada-shoji.test", "tokyo-1", False, ("yamada-shoji.test",))
B = Identity("admin@sato-design.test", "tokyo-1", False, ("sato-design.test",))
STAFF = Identity("staff@mailmove.test", "tokyo-1", True, ())


def open_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store


def test_customers_see_only_their_own_project(store_url: str) -> None:
    store = open_store(store_url)
    pa = Projects(store, A).create(["yamada-shoji.test"], old_host="pop.old-host.test")
    pb = Projects(store, B).create(["sato-design.test"])

    assert [p.id for p in Projects(store, A).list()] == [pa.id]
    assert [p.id for p in Projects(store, B).list()] == [pb.id]
    assert {p.id for p in Projects(store, STAFF).list()} == {pa.id, pb.id}

    # B cannot read or change A's project by its id, and learns nothing from the error.
    for action in (
        lambda: Projects(store, B).get(pa.id),
        lambda: Projects(store, B).verified(pa.id),
        lambda: Projects(store, B).audit(pa.id),
        lambda: Projects(store, B).mark_switched(pa.id),
        lambda: Projects(store, B).record_verification(pa.id, {"x@yamada-shoji.test": True}),
        lambda: Projects(store, B).update_old_server(pa.id, old_host="evil.test", old_ip=""),
    ):
        with pytest.raises(ProjectNotFound):
            action()
    with pytest.raises(ProjectNotFound):
        Projects(store, B).get(999_999)
    assert Projects(store, A).get(pa.id).mx_switched_at is None
    assert Projects(store, A).get(pa.id).old_host == "pop.old-host.test"

    # Nor can B open a project naming A's domain.
    with pytest.raises(ProjectError) as err:
        Projects(store, B).create(["yamada-shoji.test"])
    assert err.value.code == "projects.domain_not_yours"


def test_a_domain_is_in_one_open_project_at_a_time(store_url: str) -> None:
    store = open_store(store_url)
    first = Projects(store, A).create(["yamada-shoji.test"])
    with pytest.raises(ProjectError) as err:
        Projects(store, A).create(["yamada-shoji.test"])
    assert err.value.code == "projects.domain_in_project"
    Projects(store, A).mark_done(first.id)
    assert Projects(store, A).create(["yamada-shoji.test"]).id != first.id


def test_project_survives_a_restart_with_its_history(store_url: str) -> None:
    store = open_store(store_url)
    project = Projects(store, A).create(["yamada-shoji.test"])
    at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    Projects(store, A).record_ttl_lowered(project.id, old_ttl_s=86_400, at=at)
    Projects(store, A).record_verification(
        project.id, {"taro@yamada-shoji.test": True, "hanako@yamada-shoji.test": False}
    )
    Projects(store, A).record_dns_check(project.id, "yamada-shoji.test", "amber", "{}")
    store.engine.dispose()

    # "The next day": a new process, a new session of the same customer.
    again = Projects(open_store(store_url), A)
    (found,) = again.list()
    assert found.ttl_lowered_at == at
    assert found.old_ttl_s == 86_400
    facts = again.gate_facts(found.id)
    assert facts.addresses_listed == 2
    assert facts.addresses_missing == ("hanako@yamada-shoji.test",)
    assert [h[2] for h in again.dns_history(found.id)] == ["amber"]
    actions = [e.action for e in again.audit(found.id)]
    assert actions == ["verified", "ttl_lowered", "project_created"]


def test_gate_override_is_staff_only_and_audited(store_url: str) -> None:
    store = open_store(store_url)
    project = Projects(store, A).create(["yamada-shoji.test"])
    with pytest.raises(ProjectError) as err:
        Projects(store, A).override_gate(project.id, "I know better")
    assert err.value.code == "projects.staff_only"
    with pytest.raises(ProjectError):
        Projects(store, STAFF).override_gate(project.id, "  ")
    Projects(store, STAFF).override_gate(project.id, "customer confirmed by phone")
    seen = Projects(store, A).get(project.id)
    assert seen.gate_override_by == "staff@mailmove.test"
    (event,) = [e for e in Projects(store, A).audit(project.id) if e.action == "gate_override"]
    assert event.actor == "staff@mailmove.test"
    assert event.detail == "customer confirmed by phone"


def test_upgrade_from_the_first_schema_keeps_data(store_url: str) -> None:
    store = Store(store_url)
    assert store.migrate(upto=1) == 1
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO events (at, actor, action, domain, detail) "
                "VALUES (:at, 'a@yamada-shoji.test', 'sign_in', 'yamada-shoji.test', '')"
            ),
            {"at": datetime(2026, 11, 1, tzinfo=UTC)},
        )
    assert store.migrate() == len(MIGRATIONS)
    (old,) = store.recent_events()
    assert (old.actor, old.action, old.project_id) == ("a@yamada-shoji.test", "sign_in", None)
    assert "project_id" in {c["name"] for c in sa.inspect(store.engine).get_columns(events.name)}
    assert Projects(store, A).create(["yamada-shoji.test"]).id > 0
