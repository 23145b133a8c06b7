"""Migration projects: one per customer migration, lasting days, scoped to who asks.

Every read and write goes through :class:`Projects`, bound to the signed-in
:class:`~mailmove.auth.Identity`. A customer sees a project only when every one of
its domains is a domain PostfixAdmin lists for their admin account; anything else
is reported as "not found", exactly like a project that does not exist, so ids
leak nothing. Staff see every project. Nothing secret is stored here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mailmove.auth import Identity
from mailmove.errors import MailmoveError
from mailmove.gate import GateFacts
from mailmove.store import (
    Event,
    Store,
    as_utc,
    dns_checks,
    dns_ttl_observations,
    project_domains,
    projects,
    utc_now,
    verified_addresses,
)


class ProjectError(MailmoveError):
    """A project action that cannot be done; ``code`` is a catalog key."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class ProjectNotFound(ProjectError):
    def __init__(self) -> None:
        super().__init__("projects.not_found")


@dataclass(frozen=True)
class Project:
    id: int
    server: str
    domains: tuple[str, ...]
    created_by: str
    created_at: datetime
    updated_at: datetime
    old_host: str
    old_ip: str
    old_ttl_s: int | None
    ttl_lowered_at: datetime | None
    verified_at: datetime | None
    mx_switched_at: datetime | None
    done_at: datetime | None
    gate_override_by: str | None
    gate_override_reason: str | None


@dataclass(frozen=True)
class VerifiedAddress:
    address: str
    present: bool
    checked_at: datetime


class Projects:
    """The project store as one user may see it."""

    def __init__(self, store: Store, who: Identity) -> None:
        self.store = store
        self.who = who

    # -- reading ---------------------------------------------------------------------

    def list(self) -> list[Project]:
        """Projects this user may see, newest activity first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(projects).order_by(projects.c.updated_at.desc())).all()
            domains = self._domains(conn, [r.id for r in rows])
        found = [self._project(r, domains.get(r.id, ())) for r in rows]
        return [p for p in found if self._visible(p)]

    def get(self, project_id: int) -> Project:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(projects).where(projects.c.id == project_id)).first()
            if row is None:
                raise ProjectNotFound
            project = self._project(row, self._domains(conn, [project_id]).get(project_id, ()))
        if not self._visible(project):
            raise ProjectNotFound
        return project

    def for_domain(self, domain: str) -> Project | None:
        """The open project holding ``domain``, if this user may see it."""
        for project in self.list():
            if domain in project.domains and project.done_at is None:
                return project
        return None

    def verified(self, project_id: int) -> list[VerifiedAddress]:
        self.get(project_id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(verified_addresses)
                .where(verified_addresses.c.project_id == project_id)
                .order_by(verified_addresses.c.address)
            ).all()
        return [
            VerifiedAddress(r.address, r.present, as_utc(r.checked_at) or utc_now()) for r in rows
        ]

    def audit(self, project_id: int, limit: int = 200) -> list[Event]:
        self.get(project_id)
        return self.store.recent_events(limit, project_id=project_id)

    def gate_facts(
        self, project_id: int, *, dmarc_strict: bool = False, auth_visible: bool | None = None
    ) -> GateFacts:
        """The stored half of the gate; DNS facts come from a live check."""
        project = self.get(project_id)
        listed = self.verified(project_id)
        return GateFacts(
            addresses_listed=len(listed),
            addresses_missing=tuple(v.address for v in listed if not v.present),
            verified_at=project.verified_at,
            ttl_lowered_at=project.ttl_lowered_at,
            old_ttl_s=project.old_ttl_s,
            dmarc_strict=dmarc_strict,
            auth_visible=auth_visible,
        )

    # -- writing ---------------------------------------------------------------------

    def create(
        self,
        domains: Iterable[str],
        *,
        old_host: str = "",
        old_ip: str = "",
    ) -> Project:
        wanted = tuple(sorted({d.strip().lower() for d in domains if d.strip()}))
        if not wanted:
            raise ProjectError("projects.no_domains")
        for domain in wanted:
            if not self.who.may_act_on(domain):
                # Same words as for a domain nobody has: no hint about other customers.
                raise ProjectError("projects.domain_not_yours", domain=domain)
        now = utc_now()
        with self.store.engine.begin() as conn:
            busy = conn.execute(
                sa.select(project_domains.c.domain)
                .join(projects, projects.c.id == project_domains.c.project_id)
                .where(project_domains.c.domain.in_(wanted), projects.c.done_at.is_(None))
            ).first()
            if busy is not None:
                raise ProjectError("projects.domain_in_project", domain=busy.domain)
            project_id = conn.execute(
                projects.insert().values(
                    server=self.who.server,
                    created_by=self.who.username,
                    created_at=now,
                    updated_at=now,
                    old_host=old_host.strip(),
                    old_ip=old_ip.strip(),
                )
            ).inserted_primary_key[0]
            conn.execute(
                project_domains.insert(), [{"project_id": project_id, "domain": d} for d in wanted]
            )
        self._log(int(project_id), "project_created", ", ".join(wanted))
        return self.get(int(project_id))

    def update_old_server(self, project_id: int, *, old_host: str, old_ip: str) -> Project:
        self._update(project_id, old_host=old_host.strip(), old_ip=old_ip.strip())
        self._log(project_id, "old_server_set", f"host={old_host} ip={old_ip}")
        return self.get(project_id)

    def record_ttl_lowered(self, project_id: int, *, old_ttl_s: int, at: datetime) -> Project:
        """The first time the authoritative servers were seen serving the lowered TTL."""
        project = self.get(project_id)
        if project.ttl_lowered_at is None:
            self._update(project_id, ttl_lowered_at=at, old_ttl_s=old_ttl_s)
            self._log(project_id, "ttl_lowered", f"old_ttl={old_ttl_s}s at={at.isoformat()}")
        return self.get(project_id)

    def record_verification(
        self, project_id: int, results: Mapping[str, bool], *, at: datetime | None = None
    ) -> Project:
        """Replace the verified address list with a fresh read-back from the server."""
        project = self.get(project_id)
        for address in results:
            domain = address.rpartition("@")[2]
            if domain not in project.domains:
                raise ProjectError("projects.address_outside", address=address)
        when = at or utc_now()
        with self.store.engine.begin() as conn:
            conn.execute(
                verified_addresses.delete().where(verified_addresses.c.project_id == project_id)
            )
            if results:
                conn.execute(
                    verified_addresses.insert(),
                    [
                        {"project_id": project_id, "address": a, "present": p, "checked_at": when}
                        for a, p in sorted(results.items())
                    ],
                )
        self._update(project_id, verified_at=when)
        missing = sum(1 for p in results.values() if not p)
        self._log(project_id, "verified", f"{len(results)} listed, {missing} missing")
        return self.get(project_id)

    def record_dns_check(
        self, project_id: int, domain: str, overall: str, result_json: str
    ) -> None:
        project = self.get(project_id)
        if domain not in project.domains:
            raise ProjectNotFound
        with self.store.engine.begin() as conn:
            conn.execute(
                dns_checks.insert().values(
                    project_id=project_id,
                    domain=domain,
                    at=utc_now(),
                    overall=overall,
                    result=result_json,
                )
            )
        self._update(project_id)

    def dns_history(self, project_id: int, limit: int = 500) -> list[tuple[datetime, str, str]]:
        """(when, domain, overall light), oldest first."""
        self.get(project_id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(dns_checks.c.at, dns_checks.c.domain, dns_checks.c.overall)
                .where(dns_checks.c.project_id == project_id)
                .order_by(dns_checks.c.id.desc())
                .limit(limit)
            ).all()
        return [(as_utc(r.at) or utc_now(), r.domain, r.overall) for r in reversed(rows)]

    def dns_results(
        self, project_id: int, domain: str, limit: int = 500
    ) -> list[tuple[datetime, str]]:
        """(when, the check's JSON) for one domain, oldest first: the propagation history."""
        self.get(project_id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(dns_checks.c.at, dns_checks.c.result)
                .where(dns_checks.c.project_id == project_id, dns_checks.c.domain == domain)
                .order_by(dns_checks.c.id.desc())
                .limit(limit)
            ).all()
        return [(as_utc(r.at) or utc_now(), r.result) for r in reversed(rows)]

    def observe_ttl(
        self,
        project_id: int,
        domain: str,
        *,
        published_ttl: int | None,
        lowered: bool,
        at: datetime,
    ) -> Project:
        """Remember a domain's first published MX TTL and when it was first seen ≤300 s.

        Once every domain of the project is lowered, the project records the TTL lowered
        (:meth:`record_ttl_lowered`) with the highest first TTL as the old one: caches that
        fetched before the change may keep the record that long.
        """
        project = self.get(project_id)
        if domain not in project.domains:
            raise ProjectNotFound
        key = (dns_ttl_observations.c.project_id == project_id) & (
            dns_ttl_observations.c.domain == domain
        )
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(dns_ttl_observations).where(key)).first()
            if row is None:
                conn.execute(
                    dns_ttl_observations.insert().values(
                        project_id=project_id,
                        domain=domain,
                        first_ttl_s=published_ttl,
                        first_seen_at=at,
                        lowered_at=at if lowered else None,
                    )
                )
            elif lowered and row.lowered_at is None:
                conn.execute(dns_ttl_observations.update().where(key).values(lowered_at=at))
            rows = conn.execute(
                sa.select(dns_ttl_observations).where(
                    dns_ttl_observations.c.project_id == project_id
                )
            ).all()
        seen = {r.domain: r for r in rows}
        if project.ttl_lowered_at is None and all(
            d in seen and seen[d].lowered_at is not None for d in project.domains
        ):
            old = max((seen[d].first_ttl_s or 0) for d in project.domains)
            when = max(as_utc(seen[d].lowered_at) or at for d in project.domains)
            return self.record_ttl_lowered(project_id, old_ttl_s=old, at=when)
        return self.get(project_id)

    def mark_switched(self, project_id: int, *, at: datetime | None = None) -> Project:
        self._update(project_id, mx_switched_at=at or utc_now())
        self._log(project_id, "mx_switched")
        return self.get(project_id)

    def mark_done(self, project_id: int, *, at: datetime | None = None) -> Project:
        self._update(project_id, done_at=at or utc_now())
        self._log(project_id, "done")
        return self.get(project_id)

    def override_gate(self, project_id: int, reason: str) -> Project:
        """Staff only, with a reason that goes to the audit log."""
        if not self.who.is_staff:
            raise ProjectError("projects.staff_only")
        if not reason.strip():
            raise ProjectError("projects.reason_required")
        self._update(
            project_id,
            gate_override_by=self.who.username,
            gate_override_reason=reason.strip(),
            gate_override_at=utc_now(),
        )
        self._log(project_id, "gate_override", reason.strip())
        return self.get(project_id)

    def log(self, project_id: int, action: str, detail: str = "") -> None:
        """Audit an action done elsewhere (plan, apply, sweep...); never pass secrets."""
        self.get(project_id)
        self._log(project_id, action, detail)

    # -- internals -------------------------------------------------------------------

    def _visible(self, project: Project) -> bool:
        if self.who.is_staff:
            return True
        return project.server == self.who.server and all(
            self.who.may_act_on(d) for d in project.domains
        )

    def _update(self, project_id: int, **values: object) -> None:
        self.get(project_id)  # raises for projects this user may not touch
        with self.store.engine.begin() as conn:
            conn.execute(
                projects.update()
                .where(projects.c.id == project_id)
                .values(updated_at=utc_now(), **values)
            )

    def _log(self, project_id: int, action: str, detail: str = "") -> None:
        domains = self.get(project_id).domains
        self.store.record_event(
            self.who.username,
            action,
            domain=domains[0] if len(domains) == 1 else "",
            detail=detail,
            project_id=project_id,
        )

    @staticmethod
    def _domains(conn: sa.Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        rows = conn.execute(
            sa.select(project_domains).where(project_domains.c.project_id.in_(ids))
        ).all()
        found: dict[int, list[str]] = {}
        for r in rows:
            found.setdefault(r.project_id, []).append(r.domain)
        return {k: tuple(sorted(v)) for k, v in found.items()}

    @staticmethod
    def _project(row: sa.Row[tuple[object, ...]], domains: tuple[str, ...]) -> Project:
        m = row._mapping
        return Project(
            id=int(m["id"]),
            server=str(m["server"]),
            domains=domains,
            created_by=str(m["created_by"]),
            created_at=as_utc(m["created_at"]) or utc_now(),
            updated_at=as_utc(m["updated_at"]) or utc_now(),
            old_host=str(m["old_host"]),
            old_ip=str(m["old_ip"]),
            old_ttl_s=m["old_ttl_s"],
            ttl_lowered_at=as_utc(m["ttl_lowered_at"]),
            verified_at=as_utc(m["verified_at"]),
            mx_switched_at=as_utc(m["mx_switched_at"]),
            done_at=as_utc(m["done_at"]),
            gate_override_by=m["gate_override_by"],
            gate_override_reason=m["gate_override_reason"],
        )
