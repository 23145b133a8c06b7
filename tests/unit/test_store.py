"""The state database: versioned migrations keep what is stored."""

from pathlib import Path

import sqlalchemy as sa

from mailmove.store import MIGRATIONS, Store


def test_migrate_is_idempotent_and_data_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'mailmove.db'}"
    store = Store(url)
    assert store.migrate() == len(MIGRATIONS)
    store.record_event("admin@yamada-shoji.test", "sign_in", domain="yamada-shoji.test")
    store.engine.dispose()

    again = Store(url)
    assert again.migrate() == len(MIGRATIONS)
    assert again.version() == len(MIGRATIONS)
    events = again.recent_events()
    assert [(e.actor, e.action) for e in events] == [("admin@yamada-shoji.test", "sign_in")]
    with again.engine.connect() as conn:
        versions = conn.execute(sa.text("select count(*) from schema_version")).scalar()
    assert versions == len(MIGRATIONS)


def test_customer_sees_only_events_of_their_domains(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    store.record_event("a@yamada-shoji.test", "plan", domain="yamada-shoji.test")
    store.record_event("b@sato-design.test", "plan", domain="sato-design.test")
    mine = store.recent_events(domains=["yamada-shoji.test"])
    assert [e.actor for e in mine] == ["a@yamada-shoji.test"]
    assert len(store.recent_events()) == 2
