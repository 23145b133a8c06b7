"""The zone cases of tests/data/records/cases.yaml, computed from zone text (no DNS server).

The same cases run against the real Knot test bed in
tests/integration/test_records_cases.py; the helpers here are shared with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
import yaml

from mailmove.config import DkimSettings, MxSettings, PostfixAdminSettings, Server
from mailmove.i18n import LANGS
from mailmove.records import (
    RecordPlan,
    StaticDns,
    compute_records,
    notice_text,
    plan_json,
    zone_snippet,
    zone_value,
)
from mailmove.records._dkim import ConfiguredDkimKey, normalise_key
from mailmove.testbed.dns import make_zone

DATA = Path(__file__).parents[1] / "data" / "records"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "cases.yaml").read_text(encoding="utf-8"))
KEY = normalise_key((DATA / "dkim-2048.pub.pem").read_text())
OTHER_KEY = normalise_key((DATA / "dkim-2048-other.pub.pem").read_text())
KEY_1024 = (DATA / "dkim-1024.pub.pem").read_text()
NOW = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
SERVER_MX_HOST = "mx.mailmove-test.test"


def make_server(overrides: Mapping[str, Any] | None = None) -> Server:
    """The server of the cases: 198.51.100.25, keep-host, DKIM selector mm2026 (2048 bits)."""
    o = dict(overrides or {})
    dkim = o.get("dkim", "2048")
    keys = {"2048": (DATA / "dkim-2048.pub.pem").read_text(), "1024": KEY_1024}
    return Server(
        name="test-1",
        postfixadmin=PostfixAdminSettings("http://127.0.0.1:1/"),
        ipv4="198.51.100.25",
        ipv6=o.get("ipv6"),
        mx=MxSettings(o.get("strategy", "keep-host"), o.get("mx_host", SERVER_MX_HOST)),
        dkim=DkimSettings() if dkim == "none" else DkimSettings("mm2026", keys[str(dkim)]),
    )


def placeholders(names: Mapping[str, str]) -> dict[str, str]:
    return {
        **names,
        "key": KEY,
        "key_part1": KEY[:200],
        "key_part2": KEY[200:],
        "other_key_part1": OTHER_KEY[:200],
        "other_key_part2": OTHER_KEY[200:],
    }


def fill(value: Any, names: Mapping[str, str]) -> Any:
    """Replace ``{name}`` placeholders in every string of ``value`` (nested lists and dicts)."""
    if isinstance(value, str):
        for key, text in placeholders(names).items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


def zone_texts(case: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    """Zone name -> full zone text (SOA and NS added) for the case's zones."""
    texts = {
        names["domain"]: make_zone(
            names["domain"], fill(case["zone"], names), **case.get("zone_args", {})
        )
    }
    for placeholder, records in (case.get("zones") or {}).items():
        texts[names[placeholder]] = make_zone(names[placeholder], fill(records, names))
    return texts


def _matches(record: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "strings_lengths":
            if [len(s.encode()) for s in record["strings"]] != value:
                return False
        elif record.get(key) != value:
            return False
    return True


def check_plan(plan: RecordPlan, case: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """Assert the case's expectations and the invariants every plan must keep."""
    expect = fill(case["expect"], names)
    data = plan_json(plan)
    records = data["records"]
    shown = json.dumps(records, ensure_ascii=False, indent=1)
    for wanted in expect.get("records", []):
        assert any(_matches(r, wanted) for r in records), f"missing {wanted}\nin {shown}"
    for unwanted in expect.get("absent", []):
        assert not any(_matches(r, unwanted) for r in records), f"unexpected {unwanted}\nin {shown}"
    codes = [n.code for n in plan.notices]
    for code in expect.get("notices", []):
        assert code in codes, f"notice {code} missing, got {codes}"
    for code in expect.get("no_notices", []):
        assert code not in codes, f"notice {code} unexpected: {plan.notices}"
    for code, params in (expect.get("notice_params") or {}).items():
        found = [n for n in plan.notices if n.code == code]
        assert any(all(n.params.get(k) == v for k, v in params.items()) for n in found), found
    if "blocked" in expect:
        assert plan.blocked is expect["blocked"]
    if "wait" in expect:
        assert plan.wait_s == expect["wait"]
    check_invariants(plan)


def check_invariants(plan: RecordPlan) -> None:
    """What holds for any plan: order, splitting, zone syntax, one SPF, renderable notices."""
    steps = [r.step for r in plan.records]
    assert steps == sorted(steps)
    assert plan.switch_not_before == plan.computed_at + timedelta(seconds=plan.wait_s)
    assert plan.switch_not_before.tzinfo is not None
    assert sum(1 for r in plan.records if r.purpose == "spf" and r.action != "delete") <= 1
    assert plan.blocked == any(n.severity == "block" for n in plan.notices)
    for r in plan.records:
        assert not r.value.startswith('"'), r
        assert not r.name.endswith("."), r
        if r.type == "TXT":
            assert "".join(r.strings) == r.value
            assert all(len(s.encode()) <= 255 for s in r.strings)
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.from_text(r.type),
            zone_value(r.type, r.value, r.strings),
        )
        if r.type == "TXT":
            assert b"".join(rdata.strings).decode() == r.value  # type: ignore[attr-defined]
        if r.type == "MX":
            target = rdata.exchange.to_text().rstrip(".") or "."  # type: ignore[attr-defined]
            assert f"{rdata.preference} {target}" == r.value  # type: ignore[attr-defined]
    for notice in plan.notices:
        for lang in LANGS:
            assert notice_text(notice, lang)
    json.dumps(plan_json(plan), ensure_ascii=False)
    for lang in LANGS:
        assert plan.domain in zone_snippet(plan, lang)


UNIT_NAMES = {"domain": "case.test", "reports": "reports-example.test"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_from_zone_text(case: dict[str, Any]) -> None:
    server = make_server(case.get("server"))
    data = StaticDns(zone_texts(case, UNIT_NAMES))
    plan = compute_records(
        data,
        UNIT_NAMES["domain"],
        server,
        dkim_key=ConfiguredDkimKey(server).key_for(UNIT_NAMES["domain"]),
        now=NOW,
        rua=fill(case["rua"], UNIT_NAMES) if case.get("rua") else None,
    )
    check_plan(plan, case, UNIT_NAMES)
