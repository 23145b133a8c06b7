"""The records generator against the real authoritative DNS server of the test bed (Knot).

Every zone case of tests/data/records/cases.yaml is served by Knot and computed through the
live path (lookup -> LiveDns -> compute_records), then the CLI contract is checked end to end.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dns.rdataclass
import dns.zonefile
import pytest

from mailmove.config import Config, DnsSettings, Nameserver
from mailmove.lookup import AuthoritativeView
from mailmove.records import LiveDns, records_for
from mailmove.records.cli import run_records
from mailmove.testbed.dns import AuthoritativeServer, free_port, make_zone
from tests.fixtures.dns import AUTH_ADDRESS, ZoneFactory
from tests.unit.test_records_cases import CASES, NOW, check_plan, fill, make_server, zone_texts

pytestmark = pytest.mark.integration


def make_config(
    dns_auth: AuthoritativeServer, case: dict[str, Any] | None = None, **dns_kw: Any
) -> Config:
    settings = DnsSettings(
        timeout_s=dns_kw.pop("timeout_s", 1.0),
        authoritative=dns_kw.pop(
            "authoritative", (Nameserver("knot", AUTH_ADDRESS, dns_auth.port),)
        ),
    )
    return Config(
        servers=(make_server((case or {}).get("server")),), dns=settings, store="sqlite://"
    )


def serve(
    case: dict[str, Any], dns_zone: ZoneFactory, dns_auth: AuthoritativeServer
) -> dict[str, str]:
    """Create the case's zones on Knot; their names are only known once created."""
    names = {"domain": dns_zone()}
    for placeholder in case.get("zones") or {}:
        names[placeholder] = dns_zone()
    for name, text in zone_texts(case, names).items():
        dns_auth.set_zone(name, text)
    return names


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_served_by_knot(
    case: dict[str, Any], dns_zone: ZoneFactory, dns_auth: AuthoritativeServer
) -> None:
    names = serve(case, dns_zone, dns_auth)
    config = make_config(dns_auth, case)
    rua = fill(case["rua"], names) if case.get("rua") else None
    plan = records_for(config, names["domain"], config.servers[0], rua=rua, now=NOW)
    check_plan(plan, case, names)


def _args(domain: str, fmt: str = "json") -> argparse.Namespace:
    return argparse.Namespace(command="records", domain=domain, server=None, format=fmt)


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def test_cli_json_follows_the_contract(
    dns_zone: ZoneFactory, dns_auth: AuthoritativeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    names = serve(_case("no-spf"), dns_zone, dns_auth)
    assert run_records(_args(names["domain"]), make_config(dns_auth)) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"domain", "records", "switch_not_before", "warnings"} <= set(out)
    assert out["domain"] == names["domain"]
    for record in out["records"]:
        assert {
            "step",
            "purpose",
            "host",
            "name",
            "type",
            "value",
            "strings",
            "ttl",
            "action",
            "current",
        } <= set(record)
        assert record["purpose"] in {"ttl", "spf", "dkim", "dmarc", "mx", "mx-host"}
        assert record["action"] in {"add", "change", "delete", "keep"}
    assert out["switch_not_before"].endswith("+09:00")  # Asia/Tokyo by default
    assert all({"code", "severity", "text"} <= set(w) for w in out["warnings"])


def test_cli_zone_output_is_a_loadable_zone(
    dns_zone: ZoneFactory, dns_auth: AuthoritativeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    names = serve(_case("spf-includes-softfail"), dns_zone, dns_auth)
    assert run_records(_args(names["domain"], "zone"), make_config(dns_auth)) == 0
    text = capsys.readouterr().out
    rrsets = dns.zonefile.read_rrsets(text, origin=names["domain"] + ".", rdclass=None)  # type: ignore[arg-type]
    active = {
        (r.name.to_text(), dns.rdatatype.to_text(r.rdtype), r.ttl, r[0].to_text()) for r in rrsets
    }
    domain = names["domain"] + "."
    spf = '"v=spf1 ip4:198.51.100.25 include:_spf.' + names["domain"]
    assert any(t == "TXT" and v.startswith(spf) for _, t, _, v in active)
    # step 1 lowers the TTL of the old address; step 3 (the new address) is commented out
    assert ("mail." + domain, "A", 300, "192.0.2.25") in active
    assert not any(v == "198.51.100.25" for *_, v in active)
    assert f";   mail.{domain} 300 IN A 198.51.100.25" in text


def test_cli_table_is_the_default_and_readable(
    dns_zone: ZoneFactory,
    dns_auth: AuthoritativeServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILMOVE_LANG", "en")
    names = serve(_case("ttl-86400-on-mx-host"), dns_zone, dns_auth)
    assert run_records(_args(names["domain"], "table"), make_config(dns_auth)) == 0
    text = capsys.readouterr().out
    assert "TTL 86400 -> 300" in text
    shown = re.search(r"Earliest safe switch: (\d{4}-\d\d-\d\d \d\d:\d\d) JST", text)
    assert shown is not None, text
    switch = datetime.strptime(shown[1], "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Asia/Tokyo"))
    assert abs(switch - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=2)
    assert "two days" in text


def test_cli_two_spf_records_block_with_exit_1(
    dns_zone: ZoneFactory, dns_auth: AuthoritativeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    names = serve(_case("two-spf-records"), dns_zone, dns_auth)
    assert run_records(_args(names["domain"]), make_config(dns_auth)) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["blocked"] is True
    assert captured.err.startswith("mailmove records: ")
    assert captured.err.count("\n") == 1


def test_cli_exit_2_when_no_authoritative_answers(
    dns_auth: AuthoritativeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Knot answers REFUSED for a zone it does not serve ...
    assert run_records(_args("not-served.test"), make_config(dns_auth)) == 2
    assert "no authoritative server answered" in capsys.readouterr().err
    # ... and a server that is not running does not answer at all.
    dead = (Nameserver("dead", AUTH_ADDRESS, free_port(AUTH_ADDRESS)),)
    config = make_config(dns_auth, authoritative=dead, timeout_s=0.2)
    assert run_records(_args("not-served.test"), config) == 2


@pytest.mark.parametrize(
    ("domain", "server"),
    [("not a domain", None), ("example..test", None), ("t1.test", "no-such-server")],
)
def test_cli_usage_errors_exit_2(
    dns_auth: AuthoritativeServer,
    capsys: pytest.CaptureFixture[str],
    domain: str,
    server: str | None,
) -> None:
    args = argparse.Namespace(command="records", domain=domain, server=server, format="json")
    assert run_records(args, make_config(dns_auth)) == 2
    err = capsys.readouterr().err
    assert err.startswith("mailmove records: ")
    assert "Traceback" not in err


def test_auto_mode_finds_the_servers_from_the_delegation(
    dns_zone: ZoneFactory, dns_auth: AuthoritativeServer
) -> None:
    """authoritative: auto, with the walk starting at Knot instead of the root servers."""
    case = _case("backup-mx-at-old-host")
    names = {"domain": dns_zone(ns={"ns1": AUTH_ADDRESS})}
    dns_auth.set_zone(
        names["domain"],
        make_zone(names["domain"], fill(case["zone"], names), ns={"ns1": AUTH_ADDRESS}),
    )
    config = make_config(dns_auth, authoritative=None)
    view = AuthoritativeView(config.dns, hints=(Nameserver("knot", AUTH_ADDRESS, dns_auth.port),))
    plan = records_for(config, names["domain"], config.servers[0], now=NOW, data=LiveDns(view))
    check_plan(plan, case, names)
    delegation = view.servers_for(names["domain"])
    assert [(n.name, n.address) for n in delegation.nameservers] == [
        (f"ns1.{names['domain']}", AUTH_ADDRESS)
    ]
