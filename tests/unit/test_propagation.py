"""The propagation check's pure parts: lights, comparison by meaning, JSON, history, DoH."""

from __future__ import annotations

import ast
import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from mailmove import lookup
from mailmove.auth import Identity
from mailmove.config import ConfigError, Nameserver, parse_config
from mailmove.i18n import catalog
from mailmove.lookup import Answer
from mailmove.projects import Projects
from mailmove.propagation import (
    CheckResult,
    CheckState,
    Expectation,
    Vantage,
    Verdict,
    facts_from_result,
    light_changes,
    result_json,
    share_green,
    state_from_json,
)
from mailmove.propagation.compare import Context, compare
from mailmove.propagation.expect import expectations
from mailmove.propagation.lights import (
    judge,
    overall_eta,
    overall_light,
    refresh_at,
    row_light,
    vantage_light,
)
from mailmove.propagation.report import detail_text, text_report
from mailmove.propagation.schedule import due
from mailmove.records import RRset, StaticDns, compute_records
from mailmove.records._dkim import ConfiguredDkimKey
from mailmove.store import Store
from mailmove.testbed.dns import make_zone
from tests.unit.test_records_cases import KEY, NOW, OTHER_KEY, make_server

ROOT = Path(__file__).parents[2]
AUTH = Vantage(Nameserver("ns1", "192.0.2.53"), "authoritative")
AUTH2 = Vantage(Nameserver("ns2", "192.0.2.54"), "authoritative")
CACHE = Vantage(Nameserver("Google", "8.8.8.8"), "public")
CACHE2 = Vantage(Nameserver("Cloudflare", "1.1.1.1"), "public")
ROW = Expectation("mx-host", "mail.example.jp.", "A", "mail", "198.51.100.25")
T0 = 1_800_000_000.0


def v(status: str, ttl: int | None = None, code: str = "x") -> Verdict:
    return Verdict(status, code, {}, (), ttl, T0)  # type: ignore[arg-type]


# -- lights ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "before", "auth_ok", "light", "confirming"),
    [
        ("match", "authoritative", True, True, "green", False),
        ("match", "authoritative", False, True, "amber", True),  # seen once: confirming
        ("mismatch", "authoritative", False, False, "red", False),
        ("missing", "authoritative", False, False, "red", False),
        ("unknown", "authoritative", False, None, "grey", False),  # timeout/SERVFAIL: never red
        ("match", "public", True, True, "green", False),
        ("mismatch", "public", False, True, "amber", False),  # old answer in a cache: wait
        ("missing", "public", False, True, "amber", False),  # cached "does not exist"
        ("mismatch", "public", False, False, "red", False),  # authoritatives wrong too
        ("mismatch", "public", False, None, "grey", False),
        ("guarded", "public", False, False, "grey", False),
        ("unknown", "public", True, True, "grey", False),
    ],
)
def test_vantage_light(
    status: str, kind: str, before: bool, auth_ok: bool | None, light: str, confirming: bool
) -> None:
    got = vantage_light(v(status), kind, matched_before=before, authoritatives_ok=auth_ok)  # type: ignore[arg-type]
    assert got == (light, confirming)


def results(*pairs: tuple[Vantage, Verdict], previous: CheckState | None = None):  # type: ignore[no-untyped-def]
    return judge(ROW, list(pairs), previous)


def matched(*vantages: Vantage) -> CheckState:
    return CheckState(datetime.now(UTC), frozenset((*ROW.key, x.name) for x in vantages))


def test_green_needs_two_consecutive_matches_everywhere() -> None:
    everything = [(AUTH, v("match")), (CACHE, v("match", 200))]
    assert results(*everything).light == "amber"
    assert results(*everything, previous=matched(AUTH)).light == "amber"
    assert results(*everything, previous=matched(AUTH, CACHE)).light == "green"


def test_row_lights_red_amber_grey() -> None:
    stale = results((AUTH, v("match")), (CACHE, v("mismatch", 120)), previous=matched(AUTH))
    assert stale.light == "amber"
    assert stale.eta == datetime.fromtimestamp(T0 + 120, UTC)
    cached = next(r for r in stale.vantages if r.vantage is CACHE)
    assert cached.ttl_remaining == 120
    assert cached.refresh_at == stale.eta
    wrong = results((AUTH, v("match")), (AUTH2, v("mismatch")), (CACHE, v("match")))
    assert wrong.light == "red"  # one authoritative still has the old value
    silent = results((AUTH, v("unknown")), (CACHE, v("match")))
    assert silent.light == "grey"
    half = results(
        (AUTH, v("match")),
        (AUTH2, v("unknown")),
        (CACHE, v("match")),
        previous=matched(AUTH, CACHE),
    )
    assert half.light == "grey"  # could not confirm every authoritative server
    one_cache_down = results(
        (AUTH, v("match")),
        (CACHE, v("match")),
        (CACHE2, v("unknown")),
        previous=matched(AUTH, CACHE),
    )
    assert one_cache_down.light == "green"
    all_caches_down = results(
        (AUTH, v("match")), (CACHE, v("unknown")), (CACHE2, v("unknown")), previous=matched(AUTH)
    )
    assert all_caches_down.light == "grey"


def test_overall_order_and_eta() -> None:
    now = datetime.now(UTC)
    red = results((AUTH, v("mismatch")), (CACHE, v("mismatch", 50)))
    amber = results((AUTH, v("match")), (CACHE, v("mismatch", 50)), previous=matched(AUTH))
    grey = results((AUTH, v("unknown")))
    green = results((AUTH, v("match")), previous=matched(AUTH))
    assert overall_light([green, grey, amber, red]) == "red"
    assert overall_light([green, grey, amber]) == "amber"
    assert overall_light([green, grey]) == "grey"
    assert overall_light([green]) == "green"
    assert overall_eta([amber, green], "amber", now) == amber.eta
    assert overall_eta([green], "green", now) == now
    assert overall_eta([red, amber], "red", now) is None
    assert row_light([]) == "grey"
    assert refresh_at(v("mismatch", 10), "authoritative", "red", False) is None


# -- comparison by meaning ------------------------------------------------------------------


class Fake:
    """A vantage point's answers from zone text (no server)."""

    def __init__(self, zones: dict[str, str], guarded: set[tuple[str, str]] = frozenset()) -> None:  # type: ignore[assignment]
        self.static = StaticDns(zones)
        self.guarded = guarded

    def get(self, name: str, rdtype: str) -> RRset:
        return self.static.get(name, rdtype)

    def answer(self, name: str, rdtype: str) -> Answer | None:
        return None

    def is_guarded(self, name: str, rdtype: str) -> bool:
        return (lookup.absolute(name), rdtype) in self.guarded


def ctx(kind: str = "authoritative", dkim: str = "2048", reference: Fake | None = None) -> Context:
    server = make_server({"dkim": dkim})
    return Context(
        domain="example.jp.",
        server=server,
        helo="mx.mailmove-test.test",
        dkim_key=ConfiguredDkimKey(server).key_for("example.jp"),
        kind=kind,  # type: ignore[arg-type]
        reference=reference,
    )


def zone(records: str, origin: str = "example.jp") -> dict[str, str]:
    return {origin: make_zone(origin, records, serial=1)}


SPF = Expectation("spf", "example.jp.", "TXT", "@", "v=spf1 ip4:198.51.100.25 -all")


@pytest.mark.parametrize(
    ("txt", "extra", "status", "code"),
    [
        ('"v=spf1 ip4:198.51.100.0/24 -all"', {}, "match", "spf_ok"),
        ('"v=spf1 a:mail.example.jp ~all"\nmail IN A 198.51.100.25', {}, "match", "spf_ok"),
        (
            '"v=spf1 include:_spf.provider.test -all"',
            {"provider.test": '_spf IN TXT "v=spf1 ip4:198.51.100.16/28 -all"'},
            "match",
            "spf_ok",
        ),
        (
            '"v=spf1 mx -all"\n@ IN MX 10 mail\nmail IN A 192.0.2.25',
            {},
            "mismatch",
            "spf_not_authorised",
        ),
        (
            '"v=spf1 ip4:198.51.100.25 -all"\n@ IN TXT "v=spf1 mx -all"',
            {},
            "invalid",
            "spf_multiple",
        ),
        ('"\\"v=spf1 ip4:198.51.100.25 -all\\""', {}, "invalid", "spf_literal_quotes"),
        ('"v=spf1" "ip4:198.51.100.25" "-all"', {}, "invalid", "spf_split_at_spaces"),
        ('"google-site-verification=abc"', {}, "missing", "spf_missing"),
    ],
)
def test_spf_is_judged_by_what_it_authorises(
    txt: str, extra: dict[str, str], status: str, code: str
) -> None:
    zones = {**zone(f"@ IN TXT {txt}"), **{k: make_zone(k, r, serial=1) for k, r in extra.items()}}
    verdict = compare(SPF, Fake(zones), ctx())
    assert (verdict.status, verdict.code) == (status, code)
    if status != "match":
        assert verdict.params["wanted"] == SPF.wanted


DKIM = Expectation(
    "dkim", "mm2026._domainkey.example.jp.", "TXT", "mm2026._domainkey", "v=DKIM1; p=..."
)


@pytest.mark.parametrize(
    ("txt", "status", "code"),
    [
        (f'"v=DKIM1; k=rsa; p={KEY[:200]}" "{KEY[200:]}"', "match", "dkim_ok"),
        (
            f'"p={KEY[:100]} " "{KEY[100:300]}" "{KEY[300:]}; t=s; k=rsa; v=DKIM1"',
            "match",
            "dkim_ok",
        ),
        (f'"v=DKIM1; p={OTHER_KEY[:200]}" "{OTHER_KEY[200:]}"', "mismatch", "dkim_other_key"),
        ('"v=DKIM1; k=rsa; p="', "invalid", "dkim_revoked"),
        ('"v=DKIM1; p=not*base64"', "invalid", "dkim_bad_key"),
    ],
)
def test_dkim_compares_the_decoded_key(txt: str, status: str, code: str) -> None:
    verdict = compare(DKIM, Fake(zone(f"mm2026._domainkey IN TXT {txt}")), ctx())
    assert (verdict.status, verdict.code) == (status, code)


DMARC = Expectation("dmarc", "_dmarc.example.jp.", "TXT", "_dmarc", "v=DMARC1; p=none")


@pytest.mark.parametrize(
    ("txt", "status", "code"),
    [
        ('"v=DMARC1;p=Reject; rua=mailto:d@example.jp"', "match", "dmarc_ok"),
        ('"p=reject; v=DMARC1"', "invalid", "dmarc_not_first"),
        ('"v=DMARC1; p=none"\n_dmarc IN TXT "v=DMARC1; p=reject"', "invalid", "dmarc_multiple"),
        ('"v=DMARC1; rua=mailto:d@example.jp"', "invalid", "dmarc_no_policy"),
    ],
)
def test_dmarc_is_parsed(txt: str, status: str, code: str) -> None:
    verdict = compare(DMARC, Fake(zone(f"_dmarc IN TXT {txt}")), ctx())
    assert (verdict.status, verdict.code) == (status, code)


def test_a_cache_with_an_older_dmarc_is_not_yet_right() -> None:
    published = Fake(zone('_dmarc IN TXT "v=DMARC1; p=reject"'))
    older = Fake(zone('_dmarc IN TXT "v=DMARC1; p=none"'))
    same = Fake(zone('_dmarc IN TXT "v=DMARC1;  P=REJECT"'))
    assert compare(DMARC, older, ctx("public", reference=published)).code == "dmarc_old"
    assert compare(DMARC, same, ctx("public", reference=published)).status == "match"


MX = Expectation("mx", "example.jp.", "MX", "@", "10 mail.example.jp")


@pytest.mark.parametrize(
    ("records", "status", "code"),
    [
        ("@ IN MX 10 mail\nmail IN A 198.51.100.25", "match", "mx_ok"),
        (
            "@ IN MX 10 mail\n@ IN MX 20 backup\nmail IN A 198.51.100.25\nbackup IN A 192.0.2.26",
            "mismatch",
            "mx_wrong_address",
        ),
        (
            "@ IN MX 10 mail\nmail IN A 198.51.100.25\nmail IN AAAA 2001:db8::25",
            "mismatch",
            "mx_wrong_address",
        ),
        ("@ IN MX 0 .", "invalid", "mx_null"),
        ("@ IN MX 10 198.51.100.25.example.jp.", "invalid", "mx_ip_literal"),
        ("@ IN MX 10 mail\nmail IN CNAME host\nhost IN A 198.51.100.25", "invalid", "mx_alias"),
        ("@ IN MX 10 mail", "missing", "mx_target_unresolved"),
        ("www IN A 192.0.2.80", "missing", "mx_missing"),
    ],
)
def test_mx_is_judged_by_the_address_its_hosts_resolve_to(
    records: str, status: str, code: str
) -> None:
    verdict = compare(MX, Fake(zone(records)), ctx())
    assert (verdict.status, verdict.code) == (status, code)


def test_mx_host_and_absent_aaaa() -> None:
    aaaa = Expectation("mx-host", "mail.example.jp.", "AAAA", "mail", "", absent=True)
    assert compare(aaaa, Fake(zone("mail IN A 198.51.100.25")), ctx()).code == "host_absent_ok"
    extra = compare(aaaa, Fake(zone("mail IN AAAA 2001:db8::25")), ctx())
    assert (extra.status, extra.code) == ("mismatch", "host_extra")
    wrong = compare(ROW, Fake(zone("mail IN A 192.0.2.25")), ctx())
    assert (wrong.status, wrong.params["current"], wrong.params["wanted"]) == (
        "mismatch",
        "192.0.2.25",
        "198.51.100.25",
    )
    guarded = Fake(zone("www IN A 192.0.2.80"), {("mail.example.jp.", "A")})
    assert compare(ROW, guarded, ctx("public")).status == "guarded"


def test_a_name_typed_in_full_into_the_host_box_is_recognised() -> None:
    doubled = Fake(zone('_dmarc.example.jp IN TXT "v=DMARC1; p=none"'))  # relative: doubled
    verdict = compare(DMARC, doubled, ctx())
    assert (verdict.status, verdict.code) == ("missing", "doubled_name")
    assert verdict.params["doubled"] == "_dmarc.example.jp.example.jp"
    assert compare(DMARC, doubled, ctx("public")).code == "dmarc_missing"


def test_ttl_rows() -> None:
    row = Expectation("ttl", "example.jp.", "MX", "@", "10 mail.example.jp")
    low = compare(row, Fake(zone("@ 300 IN MX 10 mail")), ctx())
    high = compare(row, Fake(zone("@ 3600 IN MX 10 mail")), ctx())
    cached = compare(row, Fake(zone("@ 3600 IN MX 10 mail")), ctx("public"))
    assert (low.status, high.status, high.code, cached.code) == (
        "match",
        "mismatch",
        "ttl_high",
        "ttl_cached_long",
    )


def test_expectations_come_from_the_records_plan() -> None:
    data = StaticDns(
        zone('@ 3600 IN MX 10 mail\nmail 3600 IN A 192.0.2.25\n@ IN TXT "v=spf1 mx ~all"')
    )
    server = make_server()
    key = ConfiguredDkimKey(server).key_for("example.jp")
    plan = compute_records(data, "example.jp", server, dkim_key=key, now=NOW)
    rows = expectations(plan, "example.jp", server, key)
    assert [(r.purpose, r.name, r.rdtype) for r in rows] == [
        ("ttl", "example.jp.", "MX"),
        ("ttl", "mail.example.jp.", "A"),
        ("spf", "example.jp.", "TXT"),
        ("dkim", "mm2026._domainkey.example.jp.", "TXT"),
        ("dmarc", "_dmarc.example.jp.", "TXT"),
        ("mx", "example.jp.", "MX"),
        ("mx-host", "mail.example.jp.", "A"),
    ]
    wanted = {r.purpose: r.wanted for r in rows}
    assert wanted["spf"] == "v=spf1 ip4:198.51.100.25 mx ~all"  # merged, never replaced
    assert wanted["mx-host"] == "198.51.100.25"
    assert wanted["dkim"].endswith(KEY)
    assert [r.purpose for r in expectations(None, "example.jp", server, None)] == [
        "spf",
        "dmarc",
        "mx",
    ]


# -- the JSON contract, texts, history ------------------------------------------------------


def fake_result(*rows, overall: str = "amber", at: datetime | None = None) -> CheckResult:  # type: ignore[no-untyped-def]
    at = at or datetime.fromtimestamp(T0, UTC)
    return CheckResult(
        domain="example.jp",
        server="test-1",
        overall=overall,  # type: ignore[arg-type]
        eta=at + timedelta(seconds=120) if overall == "amber" else None,
        records=tuple(rows),
        checked_at=at,
        elapsed_s=0.1,
        state=CheckState(at),
    )


def test_json_follows_the_cli_contract_and_texts_count_down() -> None:
    stale = results(
        (
            AUTH,
            Verdict(
                "match",
                "host_ok",
                {"name": "mail.example.jp", "wanted": "198.51.100.25"},
                ("198.51.100.25",),
                300,
                T0,
            ),
        ),
        (CACHE, Verdict("mismatch", "host_wrong", {}, ("192.0.2.25",), 120, T0)),
        previous=matched(AUTH),
    )
    data = result_json(fake_result(stale), "en", "Asia/Tokyo")
    assert list(data) == ["domain", "overall", "eta", "records"]
    assert data["eta"] == "2027-01-15 17:02:00+09:00".replace(" ", "T")
    (record,) = data["records"]
    assert list(record) == ["purpose", "name", "type", "light", "vantages"]
    assert (record["name"], record["type"], record["light"]) == ("mail.example.jp", "A", "amber")
    auth, cache = record["vantages"]
    assert list(auth) == ["name", "address", "kind", "light", "values", "ttl_remaining", "detail"]
    assert (auth["kind"], auth["ttl_remaining"], auth["light"]) == ("authoritative", None, "green")
    assert (cache["kind"], cache["ttl_remaining"], cache["values"]) == (
        "public",
        120,
        ["192.0.2.25"],
    )
    assert "still remembers the old value" in cache["detail"]
    assert "120 s (by 17:02:00)" in cache["detail"]
    ja = result_json(fake_result(stale), "ja")["records"][0]["vantages"][1]["detail"]
    assert "120 秒" in ja
    assert "Google" in text_report(fake_result(stale), "en")


def test_every_detail_code_is_in_the_catalog() -> None:
    tree = ast.parse((ROOT / "mailmove/propagation/compare.py").read_text(encoding="utf-8"))
    codes = {"timeout", "servfail", "refused", "error", "guarded", "demoted"}
    codes |= {"spf_literal_quotes", "spf_split_at_spaces"}  # from records._spf.repaired
    codes |= {"cache_old", "cache_negative", "cache_wrong", "confirming", "refresh"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            position = {"_verdict": 1, "Verdict": 1, "_missing": 2}.get(node.func.id)
            if position is not None and len(node.args) > position:
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.add(arg.value)
    assert len(codes) > 40
    missing = sorted(c for c in codes if f"propagation.detail.{c}" not in catalog())
    assert not missing


def test_history_share_of_green_and_light_changes() -> None:
    def stored(*lights: str) -> dict:  # type: ignore[type-arg]
        return {
            "records": [
                {
                    "purpose": "mx-host",
                    "name": "mail.example.jp",
                    "type": "A",
                    "light": lights[0],
                    "vantages": [
                        {"name": "ns1", "light": lights[1]},
                        {"name": "Google", "light": lights[2]},
                    ],
                }
            ]
        }

    t = [datetime(2026, 5, 1, h, tzinfo=UTC) for h in range(3)]
    history = [
        (t[0], stored("red", "red", "red")),
        (t[1], stored("amber", "green", "amber")),
        (t[2], stored("green", "green", "green")),
    ]
    assert [share_green(r) for _, r in history] == [0.0, 0.5, 1.0]
    changes = light_changes(history)
    assert changes[0].at == t[2]
    assert {(c.vantage, c.before, c.after) for c in changes if c.at == t[1]} == {
        (None, "red", "amber"),
        ("ns1", "red", "green"),
        ("Google", "red", "amber"),
    }
    assert len([c for c in changes if c.before is None]) == 3  # the first check
    assert len(light_changes(history, vantages=False)) == 3
    state = state_from_json(history[2][1], t[2])
    assert ("mx-host", "mail.example.jp.", "A", "ns1") in state.matched
    assert ("mail.example.jp.", "A") in state.names


def test_gate_facts_from_a_result() -> None:
    dmarc_row = Expectation("dmarc", "_dmarc.example.jp.", "TXT", "_dmarc", "")
    spf_row = Expectation("spf", "example.jp.", "TXT", "@", "")
    ttl_row = Expectation("ttl", "example.jp.", "MX", "@", "")
    strict = judge(dmarc_row, [(AUTH, Verdict("match", "dmarc_ok", {"policy": "reject"}))], None)
    unread = judge(dmarc_row, [(AUTH, v("unknown"))], None)
    spf_ok = judge(spf_row, [(AUTH, v("match")), (AUTH2, v("mismatch"))], None)
    ttl = judge(ttl_row, [(AUTH, v("mismatch", 3600)), (AUTH2, v("match", 300))], None)
    facts = facts_from_result(fake_result(strict, spf_ok, ttl))
    assert facts == (True, False, False, 3600)
    assert facts_from_result(fake_result(unread)).dmarc_strict is True  # cannot rule it out


def test_detail_text_of_a_confirming_match() -> None:
    row = results((AUTH, Verdict("match", "host_ok", {"name": "m", "wanted": "1"})))
    assert "next check" in detail_text(row.vantages[0], "en")


# -- transport and configuration ------------------------------------------------------------


class _DoH(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        query = dns.message.from_wire(self.rfile.read(int(self.headers["Content-Length"])))
        response = dns.message.make_response(query)
        name = query.question[0].name
        response.answer.append(dns.rrset.from_text(name, 120, "IN", "A", "198.51.100.25"))
        wire = response.to_wire()
        self.send_response(200)
        self.send_header("Content-Type", "application/dns-message")
        self.send_header("Content-Length", str(len(wire)))
        self.end_headers()
        self.wfile.write(wire)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def doh_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _DoH)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dns-query"
    server.shutdown()
    server.server_close()


def run_async(coroutine: Coroutine[object, object, Answer]) -> Answer:
    """asyncio.run in a thread of its own (Playwright may run a loop in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_doh_transport_answers_and_an_unreachable_one_is_grey(doh_url: str) -> None:
    """IIJ has no port 53: DoH must work, and fail as "couldn't check", never as a crash."""
    local = Nameserver("doh", doh_url, 443, "doh")
    answer = run_async(lookup.aquery(local, "mail.example.jp", "A", timeout=2, rd=True))
    assert (answer.status, answer.values, answer.transport) == ("ok", ("198.51.100.25",), "doh")
    down = Nameserver("IIJ", "https://127.0.0.1:9/dns-query", 443, "doh")
    failed = run_async(lookup.aquery(down, "mail.example.jp", "A", timeout=1, rd=True))
    assert failed.status == "error"
    assert not failed.definitive
    assert lookup.query(down, "mail.example.jp", "A", timeout=1, rd=True).status == "error"


def test_refresh_interval_is_configurable() -> None:
    base = {"servers": [{"name": "s", "postfixadmin": {"url": "http://x/"}, "ipv4": "192.0.2.1"}]}
    assert parse_config(base).dns.refresh_s == 30.0
    assert parse_config({**base, "dns": {"refresh_s": 2}}).dns.refresh_s == 2.0
    with pytest.raises(ConfigError, match=r"dns\.refresh_s"):
        parse_config({**base, "dns": {"refresh_s": 0}})
    example = (ROOT / "mailmove.example.yaml").read_text(encoding="utf-8")
    assert "refresh_s: 30" in example


def test_check_now_is_throttled_and_the_page_rechecks_by_itself() -> None:
    assert due(None, 100.0, 30.0, clicked=False) == (True, 0)  # first visit
    assert due(100.0, 101.0, 30.0, clicked=False) == (False, 0)
    assert due(100.0, 125.0, 30.0, clicked=False) == (True, 0)  # the fragment's own re-run
    assert due(100.0, 102.0, 30.0, clicked=True) == (False, 3)  # "just checked, 3 s"
    assert due(100.0, 105.0, 30.0, clicked=True) == (True, 0)
    assert due(100.0, 102.0, 2.0, clicked=True) == (True, 3)  # due anyway by its interval


def test_ttl_lowered_once_every_domain_of_the_project_is(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    projects = Projects(store, Identity("admin@a.test", "test-1", False, ("a.test", "b.test")))
    project = projects.create(["a.test", "b.test"])
    t0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    projects.observe_ttl(project.id, "a.test", published_ttl=3600, lowered=False, at=t0)
    projects.observe_ttl(project.id, "b.test", published_ttl=86400, lowered=False, at=t0)
    later = t0 + timedelta(hours=1)
    projects.observe_ttl(project.id, "a.test", published_ttl=300, lowered=True, at=later)
    assert projects.get(project.id).ttl_lowered_at is None  # b.test is not lowered yet
    last = t0 + timedelta(hours=2)
    done = projects.observe_ttl(project.id, "b.test", published_ttl=300, lowered=True, at=last)
    assert (done.ttl_lowered_at, done.old_ttl_s) == (last, 86400)  # the longest first TTL
    again = projects.observe_ttl(
        project.id, "a.test", published_ttl=300, lowered=True, at=last + timedelta(hours=1)
    )
    assert again.ttl_lowered_at == last  # the first time counts
    store.engine.dispose()
