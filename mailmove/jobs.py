"""What a provisioning job leaves behind: per-item results and the final verification.

Why a separate log: items are saved one by one *as they complete*, so a crash, an
outage or a closed browser loses nothing, and a later resume or the cutover gate can
read exactly what happened. Two implementations of :class:`JobLog`: in memory (tests,
one-off CLI runs) and SQL (the app's store, tables created by :func:`migrate_jobs`).

Nothing here ever holds a password: records carry addresses, statuses and PFA's
messages, which the job scrubs before saving.

This module imports nothing from mailmove so that ``mailmove.store`` can register
:func:`migrate_jobs` without an import cycle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "SUCCESS_STATUSES",
    "AddressCheck",
    "CheckStatus",
    "ItemResult",
    "ItemStatus",
    "JobLog",
    "JobRecord",
    "JobState",
    "Kind",
    "MemoryJobLog",
    "Op",
    "SqlJobLog",
    "migrate_jobs",
]

Op = Literal[
    "create_domain", "create_mailbox", "update_mailbox", "create_alias", "update_alias", "skip"
]
Kind = Literal["domain", "mailbox", "alias"]
# created/updated/repaired changed PFA; skipped = already as listed; declined = a conflict
# the customer did not confirm; refused = out of the admin's scope (no request sent);
# blocked = depends on an item that failed; failed = PFA refused it or could not be reached.
ItemStatus = Literal[
    "created", "updated", "repaired", "skipped", "declined", "refused", "blocked", "failed"
]
SUCCESS_STATUSES: frozenset[str] = frozenset({"created", "updated", "repaired", "skipped"})
FAILURE_STATUSES: frozenset[str] = frozenset({"refused", "blocked", "failed"})
JobState = Literal[
    "pending",
    "reading",
    "running",
    "waiting",  # PostfixAdmin unreachable; retrying
    "verifying",
    "done",
    "refused",  # the plan cannot run (limits, scope, invalid rows); nothing was sent
    "interrupted",  # outage outlasted the wait; resume continues
    "cancelled",
    "failed",  # unexpected error; resume continues
]
FINAL_STATES: frozenset[str] = frozenset({"done", "refused", "interrupted", "cancelled", "failed"})
CheckStatus = Literal["present", "missing", "different"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one planned item; ``key`` is ``kind:object`` and unique per job."""

    key: str
    op: Op
    kind: Kind
    object: str
    domain: str
    status: ItemStatus
    message: str = ""
    warnings: tuple[str, ...] = ()
    row: int | None = None
    seq: int = 0
    at: datetime = field(default_factory=_now)

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    def to_json(self) -> dict[str, object]:
        return {
            "op": self.op,
            "object": self.object,
            "status": self.status,
            "message": self.message,
            "warnings": list(self.warnings),
            "row": self.row,
        }


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """Verification of one listed address against the live state after apply."""

    address: str
    kind: Literal["mailbox", "forward"]
    domain: str
    status: CheckStatus
    detail: str = ""
    row: int | None = None
    checked_at: datetime = field(default_factory=_now)

    def to_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "row": self.row,
        }


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    server: str
    actor: str
    fingerprint: str  # of the listed addresses (no passwords): a resume with other lists warns
    domains: tuple[str, ...] = ()
    state: JobState = "pending"
    total: int = 0
    done: int = 0
    failures: int = 0
    notes: tuple[str, ...] = ()  # job-level messages: warnings not tied to an item, errors
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)


class JobLog(Protocol):
    """Where a job saves its progress; every method is safe to call from any thread."""

    def open_job(self, record: JobRecord) -> JobRecord:
        """Create the job, or return the stored one with the same id (a resume)."""
        ...

    def update_job(
        self,
        job_id: str,
        *,
        state: JobState | None = None,
        total: int | None = None,
        done: int | None = None,
        failures: int | None = None,
        add_notes: Sequence[str] = (),
    ) -> None: ...

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def jobs(self, *, server: str | None = None, limit: int = 20) -> list[JobRecord]:
        """Newest first."""
        ...

    def record_item(self, job_id: str, result: ItemResult) -> None:
        """Save one result now; a later ``skipped`` never hides an earlier change."""
        ...

    def items(self, job_id: str) -> list[ItemResult]: ...

    def record_checks(self, job_id: str, checks: Sequence[AddressCheck]) -> None:
        """Replace the job's verification with ``checks``."""
        ...

    def checks(self, job_id: str) -> list[AddressCheck]: ...


def _merge(old: ItemResult | None, new: ItemResult) -> ItemResult:
    if (
        old is not None
        and new.status == "skipped"
        and old.status in ("created", "updated", "repaired")
    ):
        return old  # resume re-planned it as "already there": keep what we did
    return new


class MemoryJobLog:
    """A JobLog in a dict: for tests and CLI runs that keep no history."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}
        self._items: dict[str, dict[str, ItemResult]] = {}
        self._checks: dict[str, list[AddressCheck]] = {}

    def open_job(self, record: JobRecord) -> JobRecord:
        with self._lock:
            existing = self._jobs.get(record.id)
            if existing is not None:
                return existing
            self._jobs[record.id] = record
            self._items[record.id] = {}
            return record

    def update_job(
        self,
        job_id: str,
        *,
        state: JobState | None = None,
        total: int | None = None,
        done: int | None = None,
        failures: int | None = None,
        add_notes: Sequence[str] = (),
    ) -> None:
        with self._lock:
            job = self._jobs[job_id]
            self._jobs[job_id] = replace(
                job,
                state=state if state is not None else job.state,
                total=total if total is not None else job.total,
                done=done if done is not None else job.done,
                failures=failures if failures is not None else job.failures,
                notes=job.notes + tuple(add_notes),
                updated_at=_now(),
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, *, server: str | None = None, limit: int = 20) -> list[JobRecord]:
        with self._lock:
            found = [j for j in self._jobs.values() if server is None or j.server == server]
        return sorted(found, key=lambda j: j.created_at, reverse=True)[:limit]

    def record_item(self, job_id: str, result: ItemResult) -> None:
        with self._lock:
            items = self._items.setdefault(job_id, {})
            items[result.key] = _merge(items.get(result.key), result)

    def items(self, job_id: str) -> list[ItemResult]:
        with self._lock:
            return sorted(self._items.get(job_id, {}).values(), key=lambda r: r.seq)

    def record_checks(self, job_id: str, checks: Sequence[AddressCheck]) -> None:
        with self._lock:
            self._checks[job_id] = list(checks)

    def checks(self, job_id: str) -> list[AddressCheck]:
        with self._lock:
            return list(self._checks.get(job_id, []))


# -- SQL -----------------------------------------------------------------------------------

metadata = sa.MetaData()

provision_jobs = sa.Table(
    "provision_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("server", sa.String(255), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("domains", sa.Text, nullable=False, server_default=""),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("notes", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

provision_items = sa.Table(
    "provision_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("op", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("object", sa.String(320), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("warnings", sa.Text, nullable=False, server_default="[]"),
    sa.Column("row", sa.Integer, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("job_id", "key", name="uq_provision_items_job_key"),
)

provision_checks = sa.Table(
    "provision_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("row", sa.Integer, nullable=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("job_id", "kind", "address", name="uq_provision_checks_address"),
)


def migrate_jobs(conn: Connection) -> None:
    """Store migration: the three provisioning tables (append to store.MIGRATIONS)."""
    metadata.create_all(conn, checkfirst=True)


class SqlJobLog:
    """A JobLog in the app's SQL store (SQLite or PostgreSQL), one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open_job(self, record: JobRecord) -> JobRecord:
        with self.engine.begin() as conn:
            existing = self._job(conn, record.id)
            if existing is not None:
                return existing
            conn.execute(
                provision_jobs.insert().values(
                    id=record.id,
                    server=record.server,
                    actor=record.actor,
                    fingerprint=record.fingerprint,
                    domains=",".join(record.domains),
                    state=record.state,
                    total=record.total,
                    done=record.done,
                    failures=record.failures,
                    notes=json.dumps(list(record.notes), ensure_ascii=False),
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )
        return record

    def update_job(
        self,
        job_id: str,
        *,
        state: JobState | None = None,
        total: int | None = None,
        done: int | None = None,
        failures: int | None = None,
        add_notes: Sequence[str] = (),
    ) -> None:
        values: dict[str, object] = {"updated_at": _now()}
        for name, value in (("state", state), ("total", total), ("done", done)):
            if value is not None:
                values[name] = value
        if failures is not None:
            values["failures"] = failures
        with self.engine.begin() as conn:
            if add_notes:
                current = conn.execute(
                    sa.select(provision_jobs.c.notes).where(provision_jobs.c.id == job_id)
                ).scalar()
                notes = [*json.loads(current or "[]"), *add_notes]
                values["notes"] = json.dumps(notes, ensure_ascii=False)
            conn.execute(
                provision_jobs.update().where(provision_jobs.c.id == job_id).values(**values)
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            return self._job(conn, job_id)

    def jobs(self, *, server: str | None = None, limit: int = 20) -> list[JobRecord]:
        query = sa.select(provision_jobs).order_by(provision_jobs.c.created_at.desc()).limit(limit)
        if server is not None:
            query = query.where(provision_jobs.c.server == server)
        with self.engine.connect() as conn:
            return [_job_record(row) for row in conn.execute(query)]

    def record_item(self, job_id: str, result: ItemResult) -> None:
        where = sa.and_(provision_items.c.job_id == job_id, provision_items.c.key == result.key)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(provision_items).where(where)).first()
            merged = _merge(_item(row) if row is not None else None, result)
            values = {
                "seq": merged.seq,
                "op": merged.op,
                "kind": merged.kind,
                "object": merged.object,
                "domain": merged.domain,
                "status": merged.status,
                "message": merged.message,
                "warnings": json.dumps(list(merged.warnings), ensure_ascii=False),
                "row": merged.row,
                "at": merged.at,
            }
            if row is None:
                conn.execute(
                    provision_items.insert().values(job_id=job_id, key=result.key, **values)
                )
            elif merged is result:
                conn.execute(provision_items.update().where(where).values(**values))

    def items(self, job_id: str) -> list[ItemResult]:
        query = (
            sa.select(provision_items)
            .where(provision_items.c.job_id == job_id)
            .order_by(provision_items.c.seq)
        )
        with self.engine.connect() as conn:
            return [_item(row) for row in conn.execute(query)]

    def record_checks(self, job_id: str, checks: Sequence[AddressCheck]) -> None:
        with self.engine.begin() as conn:
            conn.execute(provision_checks.delete().where(provision_checks.c.job_id == job_id))
            if checks:
                conn.execute(
                    provision_checks.insert(),
                    [
                        {
                            "job_id": job_id,
                            "address": c.address,
                            "kind": c.kind,
                            "domain": c.domain,
                            "status": c.status,
                            "detail": c.detail,
                            "row": c.row,
                            "checked_at": c.checked_at,
                        }
                        for c in checks
                    ],
                )

    def checks(self, job_id: str) -> list[AddressCheck]:
        query = (
            sa.select(provision_checks)
            .where(provision_checks.c.job_id == job_id)
            .order_by(provision_checks.c.id)
        )
        with self.engine.connect() as conn:
            return [
                AddressCheck(
                    address=r.address,
                    kind=r.kind,
                    domain=r.domain,
                    status=r.status,
                    detail=r.detail,
                    row=r.row,
                    checked_at=_aware(r.checked_at),
                )
                for r in conn.execute(query)
            ]

    @staticmethod
    def _job(conn: Connection, job_id: str) -> JobRecord | None:
        row = conn.execute(sa.select(provision_jobs).where(provision_jobs.c.id == job_id)).first()
        return _job_record(row) if row is not None else None


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; we store UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _job_record(row: sa.Row[tuple[object, ...]]) -> JobRecord:
    m = row._mapping
    return JobRecord(
        id=str(m["id"]),
        server=str(m["server"]),
        actor=str(m["actor"]),
        fingerprint=str(m["fingerprint"]),
        domains=tuple(d for d in str(m["domains"]).split(",") if d),
        state=m["state"],  # type: ignore[arg-type]
        total=int(m["total"]),  # type: ignore[call-overload]
        done=int(m["done"]),  # type: ignore[call-overload]
        failures=int(m["failures"]),  # type: ignore[call-overload]
        notes=tuple(json.loads(str(m["notes"]) or "[]")),
        created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
        updated_at=_aware(m["updated_at"]),  # type: ignore[arg-type]
    )


def _item(row: sa.Row[tuple[object, ...]]) -> ItemResult:
    m = row._mapping
    return ItemResult(
        key=str(m["key"]),
        op=m["op"],  # type: ignore[arg-type]
        kind=m["kind"],  # type: ignore[arg-type]
        object=str(m["object"]),
        domain=str(m["domain"]),
        status=m["status"],  # type: ignore[arg-type]
        message=str(m["message"]),
        warnings=tuple(json.loads(str(m["warnings"]) or "[]")),
        row=m["row"],  # type: ignore[arg-type]
        seq=int(m["seq"]),  # type: ignore[call-overload]
        at=_aware(m["at"]),  # type: ignore[arg-type]
    )
