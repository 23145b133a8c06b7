"""The DNS half of the cutover gate, driven by real authoritative servers (Knot).

Each gate condition the DNS decides is flipped by changing the served zone: the MX TTL not
lowered (closed), lowered but the old TTL not waited out (closed, with the time), a strict
DMARC with the new server's SPF/DKIM missing at one authoritative (closed), then present.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailmove.auth import Identity
from mailmove.config import Config, DnsSettings, Nameserver
from mailmove.gate import evaluate
from mailmove.projects import Project, Projects
from mailmove.propagation import dns_gate_facts, project_gate_dns
from mailmove.store import Store
from mailmove.testbed.dns import AuthoritativeServer, make_zone
from tests.fixtures.dns import AUTH_ADDRESS, ZoneFactory
from tests.unit.test_records_cases import KEY, make_server

pytestmark = pytest.mark.integration

NEW_IP = "198.51.100.25"
SECOND_AUTH = "127.0.0.16"


def records(ttl: int, spf: str = f"v=spf1 ip4:{NEW_IP} -all", extra: str = "") -> str:
    return f'@ {ttl} IN MX 10 mail\nmail {ttl} IN A 192.0.2.25\n@ 3600 IN TXT "{spf}"\n' + extra


def config_for(*servers: Nameserver, dkim: str = "none") -> Config:
    settings = DnsSettings(timeout_s=0.5, authoritative=servers)
    return Config(servers=(make_server({"dkim": dkim}),), dns=settings, store="sqlite://")


@pytest.fixture
def projects(tmp_path: Path) -> Iterator[tuple[Projects, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    yield Projects(store, Identity("staff@mailmove.test", "test-1", True, ())), store
    store.engine.dispose()


def unmet(projects: Projects, project: Project, config: Config, now_offset: float = 0.0) -> dict:  # type: ignore[type-arg]
    strict, visible = project_gate_dns(config, projects, project)
    current = projects.get(project.id)
    facts = projects.gate_facts(project.id, dmarc_strict=strict, auth_visible=visible)
    moment = (current.ttl_lowered_at or current.created_at) + timedelta(seconds=now_offset)
    decision = evaluate(facts, moment)
    return {u.code: u.params for u in decision.unmet}


def test_ttl_not_lowered_then_lowered_with_the_wait_then_waited_out(
    dns_auth: AuthoritativeServer, dns_zone: ZoneFactory, projects: tuple[Projects, Store]
) -> None:
    store_projects, _store = projects
    zone = dns_zone(records(3600))
    config = config_for(Nameserver("knot", AUTH_ADDRESS, dns_auth.port))
    project = store_projects.create([zone])

    facts = dns_gate_facts(config, config.servers[0], zone)
    assert (facts.mx_ttl_lowered, facts.published_ttl) == (False, 3600)
    assert facts.dmarc_strict is False  # no DMARC record
    closed = unmet(store_projects, project, config)
    assert "gate.ttl_not_lowered" in closed
    assert "gate.auth_not_visible" not in closed
    assert store_projects.get(project.id).ttl_lowered_at is None

    dns_auth.set_zone(zone, make_zone(zone, records(300)))
    waiting = unmet(store_projects, project, config, now_offset=60)
    lowered = store_projects.get(project.id)
    assert lowered.ttl_lowered_at is not None
    assert lowered.old_ttl_s == 3600  # the TTL published before, first observed
    assert "gate.ttl_not_lowered" not in waiting
    until = lowered.ttl_lowered_at + timedelta(seconds=3600)
    assert waiting["gate.ttl_wait"] == {"until": until.isoformat()}

    # Later checks keep the first lowering time; once the old TTL has passed, that is met.
    done = unmet(store_projects, project, config, now_offset=3601)
    assert store_projects.get(project.id).ttl_lowered_at == lowered.ttl_lowered_at
    assert "gate.ttl_wait" not in done
    assert "gate.ttl_not_lowered" not in done


def test_strict_dmarc_waits_for_spf_and_dkim_at_every_authoritative(
    dns_auth: AuthoritativeServer,
    dns_zone: ZoneFactory,
    projects: tuple[Projects, Store],
    tmp_path: Path,
) -> None:
    store_projects, _store = projects
    dkim = f'mm2026._domainkey 300 IN TXT "v=DKIM1; k=rsa; " "p={KEY[:200]}" "{KEY[200:]}"\n'
    dmarc = '_dmarc 300 IN TXT "v=DMARC1; p=reject"\n'
    before = records(300, spf="v=spf1 mx -all", extra=dmarc)
    after = records(300, spf=f"v=spf1 ip4:{NEW_IP} mx -all", extra=dmarc + dkim)
    zone = dns_zone(before)
    with AuthoritativeServer(
        tmp_path / "second", {zone: make_zone(zone, before)}, address=SECOND_AUTH
    ) as second:
        config = config_for(
            Nameserver("knot", AUTH_ADDRESS, dns_auth.port),
            Nameserver("second", SECOND_AUTH, second.port),
            dkim="2048",
        )
        project = store_projects.create([zone])

        facts = dns_gate_facts(config, config.servers[0], zone)
        assert (facts.dmarc_strict, facts.auth_visible) == (True, False)
        assert "gate.auth_not_visible" in unmet(store_projects, project, config)

        # The first server has the new SPF and DKIM, the second not yet: still closed.
        dns_auth.set_zone(zone, make_zone(zone, after))
        facts = dns_gate_facts(config, config.servers[0], zone)
        assert (facts.dmarc_strict, facts.auth_visible) == (True, False)
        assert "gate.auth_not_visible" in unmet(store_projects, project, config)

        second.set_zone(zone, make_zone(zone, after))
        facts = dns_gate_facts(config, config.servers[0], zone)
        assert (facts.dmarc_strict, facts.auth_visible) == (True, True)
        assert "gate.auth_not_visible" not in unmet(store_projects, project, config)

        # One authoritative that cannot be asked: not visible for sure, so still closed.
        second.stop()
        facts = dns_gate_facts(config, config.servers[0], zone)
        assert (facts.dmarc_strict, facts.auth_visible) == (True, None)
        assert "gate.auth_not_visible" in unmet(store_projects, project, config)
