"""The DNS test bed behaves like real DNS: AA answers, a cache that counts TTLs down, timeouts.

Run alone with ``pytest -p tests.fixtures.dns tests/integration/test_dns_testbed.py``.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from mailmove.testbed.dns import (
    AuthoritativeServer,
    CachingResolver,
    make_zone,
    packaged_zones,
)
from tests.fixtures.dns import AUTH_ADDRESS, ZoneFactory

pytestmark = pytest.mark.integration


def _answer(response: dns.message.Message, rdtype: str = "A") -> tuple[list[str], int]:
    """(rdata texts, TTL) of the answer RRset of ``rdtype`` in ``response``."""
    wanted = dns.rdatatype.from_text(rdtype)
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            return sorted(rdata.to_text() for rdata in rrset), rrset.ttl
    raise AssertionError(f"no {rdtype} in answer:\n{response}")


def test_authoritative_answers_with_aa_and_configured_ttl(
    dns_auth: AuthoritativeServer, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone("www 300 IN A 192.0.2.80", soa_minimum=60)

    response = dns_auth.query(f"www.{zone}")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert _answer(response) == (["192.0.2.80"], 300)

    missing = dns_auth.query(f"_dmarc.{zone}", "TXT")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.flags & dns.flags.AA
    soa = missing.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa[0].minimum == 60  # the negative-caching bound (RFC 2308) is visible


def test_set_zone_changes_the_authoritative_answer_at_once(
    dns_auth: AuthoritativeServer, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone("@ 3600 IN MX 10 mail\nmail 3600 IN A 192.0.2.25")
    assert _answer(dns_auth.query(zone, "MX"), "MX")[0] == [f"10 mail.{zone}."]

    dns_auth.set_zone(zone, make_zone(zone, "@ 300 IN MX 10 mx.example.net."))

    assert _answer(dns_auth.query(zone, "MX"), "MX") == (["10 mx.example.net."], 300)
    assert dns_auth.query(f"mail.{zone}").rcode() == dns.rcode.NXDOMAIN


def test_cache_keeps_old_answer_until_its_ttl_runs_out(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone("mail 3 IN A 192.0.2.25")
    name = f"mail.{zone}"
    assert _answer(dns_cache.query(name))[0] == ["192.0.2.25"]  # now cached

    dns_auth.set_zone(zone, make_zone(zone, "mail 3 IN A 198.51.100.25"))
    assert _answer(dns_auth.query(name))[0] == ["198.51.100.25"]

    old, first_ttl = _answer(dns_cache.query(name))
    assert old == ["192.0.2.25"]
    assert 0 < first_ttl <= 3
    time.sleep(1.1)
    old_again, second_ttl = _answer(dns_cache.query(name))
    assert old_again == ["192.0.2.25"]
    assert second_ttl < first_ttl  # the cache reports the remaining TTL, counting down

    seen = old_again
    deadline = time.monotonic() + 10
    while seen == ["192.0.2.25"] and time.monotonic() < deadline:
        time.sleep(0.25)
        seen = _answer(dns_cache.query(name))[0]
    assert seen == ["198.51.100.25"]


def test_cache_flush_fetches_the_new_answer(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    zone = dns_zone("www 3600 IN A 192.0.2.80")
    assert _answer(dns_cache.query(f"www.{zone}"))[0] == ["192.0.2.80"]
    dns_auth.set_zone(zone, make_zone(zone, "www 3600 IN A 198.51.100.80"))
    assert _answer(dns_cache.query(f"www.{zone}"))[0] == ["192.0.2.80"]

    dns_cache.flush(zone)

    assert _answer(dns_cache.query(f"www.{zone}")) == (["198.51.100.80"], 3600)


def test_cache_refuses_names_outside_the_test_zones(dns_cache: CachingResolver) -> None:
    # Nothing may go to the internet, and nothing may hang waiting for a root that isn't there.
    assert dns_cache.query("example.com", timeout=2).rcode() == dns.rcode.REFUSED


def test_stopped_authoritative_times_out_and_comes_back_on_the_same_port(
    tmp_path: Path,
) -> None:
    zone = "down.test"
    with AuthoritativeServer(
        tmp_path, {zone: make_zone(zone, "www IN A 192.0.2.80")}, address=AUTH_ADDRESS
    ) as server:
        port = server.port
        assert server.query(f"www.{zone}").rcode() == dns.rcode.NOERROR

        server.stop()
        with pytest.raises(dns.exception.Timeout):
            server.query(f"www.{zone}", timeout=0.5)

        server.start()
        assert server.port == port
        assert _answer(server.query(f"www.{zone}"))[0] == ["192.0.2.80"]
    assert not server.running


def _dkim_2048_chunks() -> list[str]:
    """A DKIM record as long as a 2048-bit RSA key, split into 255-octet strings."""
    key = base64.b64encode(bytes(range(256)) + bytes(38)).decode()  # 294-byte SPKI -> 392
    record = f"v=DKIM1; k=rsa; p={key}"
    return [record[i : i + 255] for i in range(0, len(record), 255)]


def test_intentionally_odd_zone_loads_and_is_served_as_written(
    dns_auth: AuthoritativeServer, dns_cache: CachingResolver, dns_zone: ZoneFactory
) -> None:
    chunks = _dkim_2048_chunks()
    assert [len(c) for c in chunks] == [255, 155]
    dkim_txt = " ".join(f'"{c}"' for c in chunks)
    zone = dns_zone(
        "\n".join(
            [
                '@ IN TXT "v=spf1 a mx ~all"',
                '@ IN TXT "v=spf1 include:_spf.example.net ~all"',
                "@ IN MX 10 alias",  # MX pointing at a CNAME (RFC 2181 10.3 says don't)
                "alias IN CNAME mail",
                "mail IN A 192.0.2.25",
                "nomail IN MX 0 .",  # null MX (RFC 7505)
                f"sel1._domainkey IN TXT {dkim_txt}",
                "both IN CNAME mail",  # CNAME and other data: only loads with soft checks
                'both IN TXT "oops"',
            ]
        )
    )

    spf = _answer(dns_auth.query(zone, "TXT"), "TXT")[0]
    assert spf == ['"v=spf1 a mx ~all"', '"v=spf1 include:_spf.example.net ~all"']
    assert _answer(dns_auth.query(zone, "MX"), "MX")[0] == [f"10 alias.{zone}."]
    assert _answer(dns_auth.query(f"alias.{zone}", "CNAME"), "CNAME")[0] == [f"mail.{zone}."]
    assert _answer(dns_auth.query(f"nomail.{zone}", "MX"), "MX")[0] == ["0 ."]

    for server in (dns_auth, dns_cache):
        response = server.query(f"sel1._domainkey.{zone}", "TXT")
        txt = next(r for r in response.answer if r.rdtype == dns.rdatatype.TXT)
        assert [s.decode() for s in txt[0].strings] == chunks


def test_demo_zones_load(tmp_path: Path) -> None:
    zones = packaged_zones()
    assert set(zones) == {"yamada-shoji.test", "sato-design.test"}
    with AuthoritativeServer(tmp_path, zones, address=AUTH_ADDRESS) as server:
        assert _answer(server.query("yamada-shoji.test", "MX"), "MX") == (
            ["10 mail.yamada-shoji.test."],
            3600,
        )
        assert _answer(server.query("mail.sato-design.test")) == (["192.0.2.25"], 3600)
        assert _answer(server.query("yamada-shoji.test", "TXT"), "TXT")[0] == ['"v=spf1 a mx ~all"']
        no_spf = server.query("sato-design.test", "TXT")
        assert no_spf.rcode() == dns.rcode.NOERROR
        assert not no_spf.answer
        assert no_spf.authority[0][0].minimum == 300
