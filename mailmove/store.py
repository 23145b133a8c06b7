"""The app's own state: a SQL database (SQLite by default, PostgreSQL for replicas).

Schema changes are numbered migrations applied in order and recorded in
``schema_version``, so an upgrade never loses what is already stored. Nothing
secret is ever written here: no passwords, no session tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mailmove.errors import MailmoveError

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False, server_default=""),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)


def _v1(conn: Connection) -> None:
    events.create(conn)


# Append only: a released migration is never edited, a new one is added.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (_v1,)


class StoreError(MailmoveError):
    """The state database cannot be opened or written."""


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    domain: str
    detail: str


class Store:
    """One database; safe to share between Streamlit sessions (SQLAlchemy pools)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use store URL: {type(exc).__name__}") from None

    def migrate(self) -> int:
        """Bring the schema up to date; returns the version now in force."""
        try:
            with self.engine.begin() as conn:
                schema_version.create(conn, checkfirst=True)
                current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
                current = current or 0
                for number, step in enumerate(MIGRATIONS, start=1):
                    if number > current:
                        step(conn)
                        conn.execute(
                            schema_version.insert().values(version=number, applied_at=_now())
                        )
                return len(MIGRATIONS)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the state database: {exc.orig}") from None

    def version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    def record_event(self, actor: str, action: str, *, domain: str = "", detail: str = "") -> None:
        """Append to the audit log; callers pass facts, never secrets."""
        with self.engine.begin() as conn:
            conn.execute(
                events.insert().values(
                    at=_now(), actor=actor, action=action, domain=domain, detail=detail
                )
            )

    def recent_events(
        self, limit: int = 50, *, domains: Sequence[str] | None = None
    ) -> list[Event]:
        """Newest first; ``domains`` limits a customer to events of their own domains."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if domains is not None:
            query = query.where(events.c.domain.in_(list(domains)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Event(r.at, r.actor, r.action, r.domain, r.detail) for r in rows]


def _now() -> datetime:
    return datetime.now(UTC)
