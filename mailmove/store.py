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
from typing import overload

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mailmove.errors import MailmoveError
from mailmove.jobs import migrate_jobs

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
    sa.Column("project_id", sa.Integer, nullable=True),  # added by migration 2
)


projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server", sa.String(255), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("old_host", sa.String(255), nullable=False, server_default=""),
    sa.Column("old_ip", sa.String(64), nullable=False, server_default=""),
    sa.Column("old_ttl_s", sa.Integer, nullable=True),
    sa.Column("ttl_lowered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("mx_switched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("gate_override_by", sa.String(255), nullable=True),
    sa.Column("gate_override_reason", sa.Text, nullable=True),
    sa.Column("gate_override_at", sa.DateTime(timezone=True), nullable=True),
)

project_domains = sa.Table(
    "project_domains",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("domain", sa.String(255), primary_key=True),
)

verified_addresses = sa.Table(
    "verified_addresses",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("present", sa.Boolean, nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

dns_checks = sa.Table(
    "dns_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("overall", sa.String(16), nullable=False),
    sa.Column("result", sa.Text, nullable=False),  # the check's JSON, as the CLI prints it
)

# What the propagation check saw of each domain's MX TTLs (migration 3): the first TTL
# published, and when the authoritative servers first served it lowered (≤300 s). The
# project's ttl_lowered_at / old_ttl_s are set from these once every domain is lowered.
dns_ttl_observations = sa.Table(
    "dns_ttl_observations",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("first_ttl_s", sa.Integer, nullable=True),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lowered_at", sa.DateTime(timezone=True), nullable=True),
)


def _v1(conn: Connection) -> None:
    """The audit log, as the first release had it (frozen: later columns come by migration)."""
    sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    ).create(conn)


def _v2(conn: Connection) -> None:
    """Migration projects; events learn which project they belong to."""
    for table in (projects, project_domains, verified_addresses, dns_checks):
        table.create(conn)
    conn.execute(sa.text("ALTER TABLE events ADD COLUMN project_id INTEGER"))


def _v3(conn: Connection) -> None:
    """The MX TTLs the propagation check observed, per project domain."""
    dns_ttl_observations.create(conn)


def _v4(conn: Connection) -> None:
    """Provisioning jobs and their per-item results (no passwords): mailmove.jobs."""
    migrate_jobs(conn)  # the job log owns its tables' shape


# Append only: a released migration is never edited, a new one is added.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (_v1, _v2, _v3, _v4)


class StoreError(MailmoveError):
    """The state database cannot be opened or written."""


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    domain: str
    detail: str
    project_id: int | None = None


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

    def migrate(self, *, upto: int | None = None) -> int:
        """Bring the schema up to date (or to ``upto``, for upgrade tests); returns the version."""
        try:
            with self.engine.begin() as conn:
                schema_version.create(conn, checkfirst=True)
                current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
                current = current or 0
                target = len(MIGRATIONS) if upto is None else upto
                for number, step in enumerate(MIGRATIONS[:target], start=1):
                    if number > current:
                        step(conn)
                        conn.execute(
                            schema_version.insert().values(version=number, applied_at=utc_now())
                        )
                return max(current, target)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the state database: {exc.orig}") from None

    def version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    def record_event(
        self,
        actor: str,
        action: str,
        *,
        domain: str = "",
        detail: str = "",
        project_id: int | None = None,
    ) -> None:
        """Append to the audit log; callers pass facts, never secrets."""
        with self.engine.begin() as conn:
            conn.execute(
                events.insert().values(
                    at=utc_now(),
                    actor=actor,
                    action=action,
                    domain=domain,
                    detail=detail,
                    project_id=project_id,
                )
            )

    def recent_events(
        self,
        limit: int = 50,
        *,
        domains: Sequence[str] | None = None,
        project_id: int | None = None,
    ) -> list[Event]:
        """Newest first; ``domains`` limits a customer to events of their own domains."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if domains is not None:
            query = query.where(events.c.domain.in_(list(domains)))
        if project_id is not None:
            query = query.where(events.c.project_id == project_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Event(as_utc(r.at), r.actor, r.action, r.domain, r.detail, r.project_id) for r in rows
        ]


def utc_now() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
