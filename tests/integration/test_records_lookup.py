"""mailmove.lookup against real servers: what one vantage point says, and where to ask.

Knot is the authoritative server here; the propagation checker (next issue) reuses the same
functions against caches, so the statuses must be exact: NXDOMAIN, NODATA, REFUSED and a
timeout are different things.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from mailmove.config import DnsSettings, Nameserver
from mailmove.lookup import (
    AuthoritativeView,
    aquery,
    find_authoritatives,
    query,
    query_many,
    walk_delegation,
)
from mailmove.testbed.dns import AuthoritativeServer, CachingResolver, free_port
from tests.fixtures.dns import AUTH_ADDRESS, ZoneFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def knot(dns_auth: AuthoritativeServer) -> Nameserver:
    return Nameserver("knot", AUTH_ADDRESS, dns_auth.port)


def test_one_question_one_structured_answer(dns_zone: ZoneFactory, knot: Nameserver) -> None:
    zone = dns_zone(
        '@ 3600 IN MX 10 mail\nmail 86400 IN A 192.0.2.25\n@ 600 IN TXT "v=spf1" " mx ~all"',
        soa_minimum=120,
        ttl=3600,
    )
    mx = query(knot, zone, "MX", timeout=1, rd=False)
    assert (mx.status, mx.values, mx.ttl, mx.authoritative) == (
        "ok",
        (f"10 mail.{zone}.",),
        3600,
        True,
    )
    assert mx.rcode == "NOERROR"
    assert mx.qname == zone + "."
    a = query(knot, f"MAIL.{zone.upper()}", "A", timeout=1, rd=False)  # names are normalised
    assert (a.status, a.ttl, a.values) == ("ok", 86400, ("192.0.2.25",))
    txt = query(knot, zone, "TXT", timeout=1, rd=False)
    assert txt.txt_strings() == (("v=spf1", " mx ~all"),)
    assert txt.texts() == ("v=spf1 mx ~all",)

    missing = query(knot, f"_dmarc.{zone}", "TXT", timeout=1, rd=False)
    assert (missing.status, missing.rcode, missing.negative_ttl) == ("nxdomain", "NXDOMAIN", 120)
    nodata = query(knot, f"mail.{zone}", "AAAA", timeout=1, rd=False)
    assert (nodata.status, nodata.values, nodata.negative_ttl) == ("nodata", (), 120)
    assert nodata.definitive


def test_refused_timeout_and_tcp_fallback(dns_zone: ZoneFactory, knot: Nameserver) -> None:
    refused = query(knot, "not-served.test", "SOA", timeout=1, rd=False)
    assert (refused.status, refused.definitive) == ("refused", False)

    dead = Nameserver("dead", AUTH_ADDRESS, free_port(AUTH_ADDRESS))
    silent = query(dead, "not-served.test", "SOA", timeout=0.2, rd=False)
    assert silent.status in {"timeout", "error"}
    assert silent.rcode is None
    assert not silent.definitive

    # 40 TXT records do not fit in 1232 bytes: truncated over UDP, then fetched over TCP.
    big = "\n".join(f'many 300 IN TXT "token-{i:02d}-{"x" * 40}"' for i in range(40))
    zone = dns_zone(big)
    answer = query(knot, f"many.{zone}", "TXT", timeout=1, rd=False)
    assert (answer.status, answer.transport, len(answer.values)) == ("ok", "tcp", 40)

    both = query_many([knot, dead], f"many.{zone}", "TXT", timeout=0.2, rd=False)
    assert both[0].status == "ok"
    assert both[1].server == dead
    assert both[1].status in {"timeout", "error"}


def test_async_query_and_cache_vantage(
    dns_zone: ZoneFactory, knot: Nameserver, dns_cache: CachingResolver
) -> None:
    zone = dns_zone("mail 300 IN A 192.0.2.25")
    # In its own thread: other tests (Playwright) may leave an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            asyncio.run, aquery(knot, f"mail.{zone}", "A", timeout=1, rd=False)
        ).result()
    assert (answer.status, answer.values, answer.authoritative) == ("ok", ("192.0.2.25",), True)
    cache = Nameserver("unbound", dns_cache.address, dns_cache.port)
    cached = query(cache, f"mail.{zone}", "A", timeout=1, rd=True)
    assert cached.status == "ok"
    assert not cached.authoritative
    assert cached.ttl is not None
    assert cached.ttl <= 300


def test_cname_chain_is_followed_across_zones(dns_zone: ZoneFactory, knot: Nameserver) -> None:
    vendor = dns_zone('dm 300 IN TXT "v=DMARC1; p=none"')
    zone = dns_zone(f"_dmarc 300 IN CNAME dm.{vendor}.")
    direct = query(knot, f"_dmarc.{zone}", "TXT", timeout=1, rd=False)
    assert (direct.status, direct.cnames) == ("cname", (f"dm.{vendor}.",))
    view = AuthoritativeView(DnsSettings(timeout_s=1, authoritative=(knot,)))
    consensus = view.ask(f"_dmarc.{zone}", "TXT")
    assert consensus.status == "ok"
    assert consensus.cnames == (f"dm.{vendor}.",)
    assert consensus.answer is not None
    assert consensus.answer.texts() == ("v=DMARC1; p=none",)
    assert consensus.agree


def test_delegation_walk_uses_the_parent_referral(dns_zone: ZoneFactory, knot: Nameserver) -> None:
    """A child zone delegated (with glue) in its parent: the walk stops at the referral."""
    parent = dns_zone(
        f"child 3600 IN NS ns.child\nns.child 3600 IN A {AUTH_ADDRESS}",
        ns={"ns1": AUTH_ADDRESS},
    )
    found = walk_delegation(f"child.{parent}", hints=[knot], timeout=1)
    assert found.source == "parent"
    assert found.zone == f"child.{parent}."
    assert found.nameservers == (Nameserver(f"ns.child.{parent}", AUTH_ADDRESS, knot.port),)
    # a name inside the parent zone: the servers already asked are its authoritatives
    inside = walk_delegation(f"_dmarc.{parent}", hints=[knot], timeout=1)
    assert inside.zone == f"{parent}."
    assert inside.nameservers == (knot,)
    # the configured list wins over the walk
    configured = find_authoritatives(parent, DnsSettings(authoritative=(knot,)))
    assert (configured.source, configured.nameservers) == ("configured", (knot,))
