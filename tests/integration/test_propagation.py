"""The live propagation check against real DNS: Knot (authoritative) and Unbound (a cache).

Short TTLs (2-4 s) let the tests watch a cache count down and refetch. Public resolvers that
misbehave (SERVFAIL, silence) or that must prove what they were asked are tiny UDP servers
started here on 127.0.0.x.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dns.message
import dns.query
import dns.rcode
import pytest

from mailmove.config import Config, DnsSettings, Nameserver
from mailmove.propagation import CheckResult, check, result_json
from mailmove.propagation.cli import run_check
from mailmove.testbed.dns import AuthoritativeServer, CachingResolver, free_port, make_zone
from tests.fixtures.dns import AUTH_ADDRESS, ZoneFactory
from tests.unit.test_records_cases import KEY, make_server

pytestmark = pytest.mark.integration

NEW_IP = "198.51.100.25"
OLD_IP = "192.0.2.25"
RESPONDER_ADDRESS = "127.0.0.14"
CONTRACT_RECORD = {"purpose", "name", "type", "light", "vantages"}
CONTRACT_VANTAGE = {"name", "address", "kind", "light", "values", "ttl_remaining", "detail"}


class UdpResponder:
    """A tiny DNS server: ``handler(query)`` answers (or None: silence); questions are kept."""

    def __init__(
        self, handler: Callable[[dns.message.Message], dns.message.Message | None]
    ) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((RESPONDER_ADDRESS, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.questions: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def nameserver(self, name: str) -> Nameserver:
        return Nameserver(name, RESPONDER_ADDRESS, self.port)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            q = query.question[0]
            self.questions.append((q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)))
            response = self.handler(query)
            if response is not None:
                self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def servfail(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.SERVFAIL)
    return response


@pytest.fixture
def responders() -> Iterator[Callable[..., UdpResponder]]:
    started: list[UdpResponder] = []

    def start(handler: Callable[[dns.message.Message], dns.message.Message | None]) -> UdpResponder:
        started.append(UdpResponder(handler))
        return started[-1]

    yield start
    for responder in started:
        responder.close()


def make_config(
    dns_auth: AuthoritativeServer,
    resolvers: tuple[Nameserver, ...],
    *,
    authoritative: tuple[Nameserver, ...] | None = None,
    dkim: str = "none",
    timeout: float = 0.5,
) -> Config:
    settings = DnsSettings(
        timeout_s=timeout,
        resolvers=resolvers,
        authoritative=authoritative or (Nameserver("knot", AUTH_ADDRESS, dns_auth.port),),
    )
    return Config(servers=(make_server({"dkim": dkim}),), dns=settings, store="sqlite://")


def cache_ns(dns_cache: CachingResolver) -> Nameserver:
    return Nameserver("unbound", dns_cache.address, dns_cache.port)


def good_zone(ttl: int = 3, address: str = NEW_IP, extra: str = "") -> str:
    return (
        f"@ {ttl} IN MX 10 mail\n"
        f"mail {ttl} IN A {address}\n"
        f'@ {ttl} IN TXT "v=spf1 ip4:{NEW_IP} -all"\n'
        f'_dmarc {ttl} IN TXT "v=DMARC1; p=none"\n' + extra
    )


def twice(config: Config, domain: str) -> CheckResult:
    """Two consecutive checks: the second is the one that may be green."""
    first = check(config, config.servers[0], domain)
    return check(config, config.servers[0], domain, previous=first.state)


def vantage(result: CheckResult, purpose: str, name: str, rdtype: str | None = None):  # type: ignore[no-untyped-def]
    for row in result.records:
        if row.purpose == purpose and (rdtype is None or row.expectation.rdtype == rdtype):
            return next(v for v in row.vantages if v.vantage.name == name)
    raise KeyError((purpose, name))


def test_cache_with_the_old_mx_host_address_is_amber_counting_down_then_green(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone(good_zone(ttl=4, address=OLD_IP), soa_minimum=2)
    config = make_config(dns_auth, (cache_ns(dns_cache),))
    before = check(config, config.servers[0], zone)
    assert before.record("mx-host").light == "red"  # the old address, at the authoritative
    assert "192.0.2.25" in result_json(before, "en")["records"][-1]["vantages"][0]["values"]

    dns_auth.set_zone(zone, make_zone(zone, good_zone(ttl=4), soa_minimum=2))
    first = check(config, config.servers[0], zone, previous=before.state)
    host = first.record("mx-host")
    cached = vantage(first, "mx-host", "unbound")
    assert host.light == "amber"
    assert (cached.light, cached.verdict.values) == ("amber", (OLD_IP,))
    assert vantage(first, "mx", "unbound").light == "amber"  # the MX host still resolves old
    assert first.overall == "amber"
    assert first.eta is not None
    assert first.eta > first.checked_at
    remaining = cached.ttl_remaining
    assert remaining is not None
    assert 0 < remaining <= 4

    time.sleep(1.2)
    second = check(config, config.servers[0], zone, previous=first.state)
    again = vantage(second, "mx-host", "unbound")
    assert again.light == "amber"
    assert again.ttl_remaining is not None
    assert again.ttl_remaining < remaining
    shown = result_json(second, "en")
    row = next(r for r in shown["records"] if r["purpose"] == "mx-host")
    assert row["vantages"][1]["ttl_remaining"] == again.ttl_remaining
    assert "within" in row["vantages"][1]["detail"]
    assert shown["eta"] is not None

    # After the TTL runs out the cache refetches; green only on two consecutive checks.
    wait = (second.eta - datetime.now(UTC)).total_seconds() if second.eta else 0
    time.sleep(max(0.0, wait) + 1.1)
    refreshed = check(config, config.servers[0], zone, previous=second.state)
    assert vantage(refreshed, "mx-host", "unbound").verdict.values == (NEW_IP,)
    assert refreshed.overall == "amber"  # confirming
    confirmed = check(config, config.servers[0], zone, previous=refreshed.state)
    assert confirmed.overall == "green", [(r.purpose, r.light) for r in confirmed.records]


def test_wrong_value_at_the_authoritative_is_red_and_says_what_to_set(
    dns_auth: AuthoritativeServer,
    dns_cache: CachingResolver,
    dns_zone: ZoneFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zone = dns_zone(
        '@ 300 IN MX 10 mail\nmail 300 IN A 192.0.2.99\n@ 300 IN TXT "v=spf1 mx -all"\n'
        '_dmarc 300 IN TXT "p=reject; v=DMARC1"\n'
    )
    config = make_config(dns_auth, (cache_ns(dns_cache),))
    result = twice(config, zone)
    assert result.overall == "red"
    for purpose in ("spf", "dmarc", "mx", "mx-host"):
        assert result.record(purpose).light == "red", purpose
    spf = result.record("spf").fix
    assert spf is not None
    assert spf.verdict.code == "spf_not_authorised"
    data = result_json(result, "en")
    details = {r["purpose"]: r["vantages"][0]["detail"] for r in data["records"]}
    assert f"ip4:{NEW_IP}" in details["spf"]  # what to set
    assert "192.0.2.99" in details["mx-host"]
    assert NEW_IP in details["mx-host"]
    assert "v=DMARC1" in details["dmarc"]
    assert data["eta"] is None
    japanese = result_json(result, "ja")["records"][0]["vantages"][0]["detail"]
    assert japanese != data["records"][0]["vantages"][0]["detail"]

    monkeypatch.setenv("MAILMOVE_LANG", "en")
    args = argparse.Namespace(domain=zone, server=None, json=True, watch=None)
    assert run_check(args, config) == 1
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"domain", "overall", "eta", "records"}
    assert printed["overall"] == "red"
    for record in printed["records"]:
        assert set(record) == CONTRACT_RECORD
        for v in record["vantages"]:
            assert set(v) == CONTRACT_VANTAGE
            assert v["kind"] in ("authoritative", "public")
            assert v["light"] in ("green", "amber", "red", "grey")


def test_cli_exit_codes(
    dns_auth: AuthoritativeServer,
    dns_cache: CachingResolver,
    dns_zone: ZoneFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mailmove.propagation.cli.CONFIRM_PAUSE_S", 0.2)
    zone = dns_zone(good_zone(ttl=60))
    config = make_config(dns_auth, (cache_ns(dns_cache),))
    ok = argparse.Namespace(domain=zone, server=None, json=False, watch=None)
    assert run_check(ok, config) == 0  # a single run confirms with a second check
    assert "[green]" in capsys.readouterr().out
    for bad in (
        argparse.Namespace(domain="not a domain", server=None, json=True, watch=None),
        argparse.Namespace(domain=zone, server="nope", json=True, watch=None),
        argparse.Namespace(domain=zone, server=None, json=True, watch=0),
    ):
        assert run_check(bad, config) == 2
    watch = argparse.Namespace(domain=zone, server=None, json=True, watch=0.3)
    assert run_check(watch, config) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["overall"] for line in lines][-1] == "green"


def test_servers_that_do_not_answer_are_grey_never_red(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone(good_zone(ttl=60))
    dead = Nameserver("dead", "127.0.0.15", free_port("127.0.0.15"))
    config = make_config(dns_auth, (cache_ns(dns_cache), dead), timeout=0.4)
    started = time.monotonic()
    first = check(config, config.servers[0], zone)
    elapsed = time.monotonic() - started
    for row in first.records:
        silent = next(v for v in row.vantages if v.vantage.name == "dead")
        assert (silent.light, silent.verdict.code) == ("grey", "timeout"), row.purpose
    assert elapsed < 0.4 * 1.5 + 0.3  # about one timeout for all its questions, not one each
    assert "dead" in first.state.demoted

    # The next check leaves the silent server out for a while instead of waiting again.
    started = time.monotonic()
    second = check(config, config.servers[0], zone, previous=first.state)
    assert time.monotonic() - started < 0.4
    for row in second.records:
        silent = next(v for v in row.vantages if v.vantage.name == "dead")
        assert (silent.light, silent.verdict.code) == ("grey", "demoted"), row.purpose
    assert second.overall == "green"  # one silent resolver does not hide the others
    assert "left out" in result_json(second, "en")["records"][0]["vantages"][-1]["detail"]

    # An authoritative server that does not answer: "couldn't check", never "missing".
    knot = Nameserver("knot", AUTH_ADDRESS, dns_auth.port)
    config = make_config(dns_auth, (cache_ns(dns_cache),), authoritative=(knot, dead), timeout=0.4)
    result = twice(config, zone)
    assert {r.light for r in result.records} == {"grey"}
    assert result.overall == "grey"
    for row in result.records:
        assert next(v for v in row.vantages if v.vantage.name == "dead").light == "grey"


def test_servfail_is_grey(
    dns_auth: AuthoritativeServer,
    dns_cache: CachingResolver,
    dns_zone: ZoneFactory,
    responders: Callable[..., UdpResponder],
) -> None:
    zone = dns_zone(good_zone(ttl=60))
    failing = responders(servfail)
    config = make_config(dns_auth, (cache_ns(dns_cache), failing.nameserver("failing")))
    result = twice(config, zone)
    for row in result.records:
        v = next(v for v in row.vantages if v.vantage.name == "failing")
        assert (v.light, v.verdict.code) == ("grey", "servfail")
    assert "SERVFAIL" in result_json(result, "en")["records"][0]["vantages"][-1]["detail"]
    assert result.overall == "green"

    config = make_config(dns_auth, (), authoritative=(failing.nameserver("failing-auth"),))
    only = check(config, config.servers[0], zone)
    assert only.overall == "grey"
    assert all(r.light == "grey" for r in only.records)


def test_a_record_reached_through_a_cname_is_followed(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    vendor = dns_zone(f'key 60 IN TXT "v=DKIM1; k=rsa; " "p={KEY[:200]}" "{KEY[200:]}"')
    zone = dns_zone(good_zone(ttl=60, extra=f"mm2026._domainkey 60 IN CNAME key.{vendor}.\n"))
    config = make_config(dns_auth, (cache_ns(dns_cache),), dkim="2048")
    result = twice(config, zone)
    dkim = result.record("dkim")
    assert dkim.light == "green", [(v.vantage.name, v.verdict.code) for v in dkim.vantages]
    assert all(v.verdict.code == "dkim_ok" for v in dkim.vantages)
    assert result.overall == "green"


@pytest.mark.parametrize("how", ["include", "cidr"])
def test_spf_that_authorises_through_an_include_or_a_cidr_is_green(
    how: str, dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    if how == "include":
        provider = dns_zone('_spf 60 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"')
        spf = f"v=spf1 include:_spf.{provider} -all"
    else:
        spf = "v=spf1 mx ip4:198.51.100.16/28 ~all"
    zone = dns_zone(
        f'@ 60 IN MX 10 mail\nmail 60 IN A {NEW_IP}\n@ 60 IN TXT "{spf}"\n'
        '_dmarc 60 IN TXT "v=DMARC1; p=quarantine"\n'
    )
    config = make_config(dns_auth, (cache_ns(dns_cache),))
    result = twice(config, zone)
    row = result.record("spf")
    assert row.light == "green", [(v.vantage.name, v.verdict.code) for v in row.vantages]
    assert all(v.verdict.values == (spf,) for v in row.vantages)


def test_negative_cache_guard_sends_no_public_query_for_a_missing_name(
    dns_auth: AuthoritativeServer,
    dns_cache: CachingResolver,
    dns_zone: ZoneFactory,
    responders: Callable[..., UdpResponder],
) -> None:
    zone = dns_zone(f"@ 60 IN MX 10 mail\nmail 60 IN A {NEW_IP}\n")  # no SPF, DMARC, DKIM yet

    def forward(query: dns.message.Message) -> dns.message.Message:
        return dns.query.udp(query, dns_cache.address, port=dns_cache.port, timeout=2)

    public = responders(forward)
    config = make_config(dns_auth, (public.nameserver("public"),), dkim="2048")
    result = twice(config, zone)
    asked = {name for name, _type in public.questions}
    assert f"{zone}." in asked  # the resolver is asked about what exists
    assert f"_dmarc.{zone}." not in asked
    assert f"mm2026._domainkey.{zone}." not in asked
    dmarc = result.record("dmarc")
    assert dmarc.light == "red"
    guarded = next(v for v in dmarc.vantages if v.vantage.name == "public")
    assert (guarded.light, guarded.verdict.status) == ("grey", "guarded")

    # Once the authoritative server has it, the resolver is asked (and has it at once).
    dns_auth.set_zone(
        zone,
        make_zone(
            zone, f'@ 60 IN MX 10 mail\nmail 60 IN A {NEW_IP}\n_dmarc 60 IN TXT "v=DMARC1; p=none"'
        ),
    )
    after = check(config, config.servers[0], zone, previous=result.state)
    assert (f"_dmarc.{zone}.", "TXT") in public.questions
    assert (
        next(v for v in after.record("dmarc").vantages if v.vantage.name == "public").verdict.status
        == "match"
    )


def test_questions_found_last_time_are_asked_at_once_and_stale_ones_dropped(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    provider = dns_zone('_spf 60 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"')
    include = (f"_spf.{provider}.", "TXT")
    zone = dns_zone(good_zone(ttl=60).replace(f"ip4:{NEW_IP}", f"include:_spf.{provider}"))
    config = make_config(dns_auth, (cache_ns(dns_cache),))
    first = check(config, config.servers[0], zone)
    assert include in first.state.names  # found from the SPF answer, remembered
    assert (f"mail.{zone}.", "A") in first.state.cleared  # caches may be asked at once next time
    dns_auth.set_zone(zone, make_zone(zone, good_zone(ttl=60)))
    dns_cache.flush(zone)
    second = check(config, config.servers[0], zone, previous=first.state)
    assert second.record("spf").light == "green"  # authorised both times: same meaning
    assert include not in second.state.names  # the include is gone: no longer asked
