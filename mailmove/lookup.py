"""Talking to DNS: one question to one server, answered as plain data.

Why a thin layer of our own over dnspython rather than a stub resolver: the records generator
and the propagation checker must see exactly what ONE server says (an authoritative's AA
answer, a public cache's remaining TTL); must tell NXDOMAIN, NODATA, SERVFAIL, REFUSED and a
timeout apart (a timeout is "couldn't check", never "missing"); must never reuse an answer from
a cache of our own; and must never let resolv.conf or a search list rewrite a name (reference
sheet §1, §11 #2, #5, #12). So: absolute names, no cache, the configured per-query timeout,
UDP with TCP fallback on truncation, and every server asked directly.

Building blocks, meant for reuse by the propagation checker:

* :func:`query` / :func:`aquery` ask one vantage point once and return an :class:`Answer`;
* :func:`query_many` fans one question out to many vantage points concurrently;
* :func:`find_authoritatives` finds a name's authoritative servers (configured, or "auto":
  walked down from the root through the parents' delegations);
* :class:`AuthoritativeView` asks every authoritative server of a name and reduces the answers
  to a :class:`Consensus`, following CNAME chains across zones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset

from mailmove.config import DnsSettings, Nameserver
from mailmove.errors import MailmoveError

Status = Literal[
    "ok",  # the RRset is there (values, ttl)
    "cname",  # the name is an alias whose target this server did not answer for: follow it
    "nxdomain",  # the name does not exist
    "nodata",  # the name exists, but has no RRset of this type
    "referral",  # the server is not authoritative for the name and points elsewhere
    "timeout",
    "servfail",
    "refused",
    "error",  # anything else: network error, FORMERR, NOTIMP, a malformed reply
]
# The answers that say something about the zone; the others only say "couldn't check".
DEFINITIVE: frozenset[Status] = frozenset({"ok", "cname", "nxdomain", "nodata"})
MAX_CNAME_CHAIN = 8
MAX_DELEGATION_DEPTH = 16
# Servers tried per zone level before giving up on it: a dead server costs a full timeout.
SERVERS_PER_LEVEL = 3

# IANA root servers (IPv4), the starting point of the "auto" walk. Stable for decades; a stale
# entry only costs one timeout because the other twelve answer the same.
ROOT_HINTS: tuple[Nameserver, ...] = tuple(
    Nameserver(f"{letter}.root-servers.net", address)
    for letter, address in (
        ("a", "198.41.0.4"),
        ("b", "170.247.170.2"),
        ("c", "192.33.4.12"),
        ("d", "199.7.91.13"),
        ("e", "192.203.230.10"),
        ("f", "192.5.5.241"),
        ("g", "192.112.36.4"),
        ("h", "198.97.190.53"),
        ("i", "192.36.148.17"),
        ("j", "192.58.128.30"),
        ("k", "193.0.14.129"),
        ("l", "199.7.83.42"),
        ("m", "202.12.27.33"),
    )
)


class DnsUnavailable(MailmoveError):
    """No server that could answer did: nothing can be said about the name."""


@functools.lru_cache(maxsize=4096)  # pure, and called for every question a check asks
def absolute(name: str) -> str:
    """``Example.JP`` -> ``example.jp.``; an IDN becomes its ASCII (A-label) form.

    Always absolute so no search list can ever be appended (reference sheet §1 rule 8).
    """
    text = name.strip().rstrip(".")
    if not text:
        return "."
    return dns.name.from_text(text + ".").to_text().lower()


def plain(name: str) -> str:
    """An absolute name without its trailing dot, for display (``example.jp``)."""
    return absolute(name).rstrip(".") or "."


@functools.lru_cache(maxsize=4096)
def is_subdomain(name: str, parent: str) -> bool:
    """True when ``name`` equals ``parent`` or lies below it."""
    return dns.name.from_text(absolute(name)).is_subdomain(dns.name.from_text(absolute(parent)))


@dataclass(frozen=True)
class Answer:
    """What one server said about (qname, rdtype), or why it said nothing usable."""

    server: Nameserver
    qname: str  # absolute, lower case
    rdtype: str
    status: Status
    rcode: str | None = None  # None when no response arrived
    values: tuple[str, ...] = ()  # rdata presentation texts, sorted
    rdatas: tuple[dns.rdata.Rdata, ...] = field(default=(), repr=False)
    ttl: int | None = None  # the configured TTL at an authoritative, the remaining one at a cache
    cnames: tuple[str, ...] = ()  # alias targets followed, in order
    negative_ttl: int | None = None  # NXDOMAIN/NODATA: min(SOA TTL, SOA MINIMUM), RFC 2308 §5
    authoritative: bool = False  # the AA flag
    transport: str = "udp"  # what was really used (udp may have fallen back to tcp)
    elapsed_s: float = 0.0
    queried_at: float = 0.0  # time.time() when the question was sent
    detail: str = ""  # a short reason for error statuses

    @property
    def definitive(self) -> bool:
        """True when the answer says something about the zone (not a timeout or refusal)."""
        return self.status in DEFINITIVE

    @property
    def target(self) -> str:
        """The name the data belongs to: the end of the CNAME chain, or the name asked."""
        return self.cnames[-1] if self.cnames else self.qname

    def texts(self) -> tuple[str, ...]:
        """TXT records with their character-strings joined without spaces (RFC 7208 §3.3)."""
        return tuple("".join(strings) for strings in self.txt_strings())

    def txt_strings(self) -> tuple[tuple[str, ...], ...]:
        """TXT records as their separate character-strings, in answer order."""
        return tuple(
            tuple(s.decode("utf-8", errors="replace") for s in rdata.strings)  # type: ignore[attr-defined]
            for rdata in self.rdatas
            if rdata.rdtype == dns.rdatatype.TXT
        )


def make_query(qname: str, rdtype: str, *, rd: bool) -> dns.message.QueryMessage:
    """A plain question (EDNS 1232 bytes, so large TXT sets rarely need TCP)."""
    msg = dns.message.make_query(absolute(qname), rdtype, use_edns=0, payload=1232)
    if not rd:
        msg.flags &= ~dns.flags.RD
    return msg


def interpret(
    response: dns.message.Message,
    server: Nameserver,
    qname: str,
    rdtype: str,
    *,
    transport: str = "udp",
    elapsed_s: float = 0.0,
    queried_at: float = 0.0,
) -> Answer:
    """Turn a DNS response into an :class:`Answer` (pure: unit-testable with built messages)."""
    qname = absolute(qname)
    wanted = dns.rdatatype.from_text(rdtype)
    rcode = response.rcode()
    common = {
        "server": server,
        "qname": qname,
        "rdtype": rdtype.upper(),
        "rcode": dns.rcode.to_text(rcode),
        "authoritative": bool(response.flags & dns.flags.AA),
        "transport": transport,
        "elapsed_s": elapsed_s,
        "queried_at": queried_at,
    }
    if rcode == dns.rcode.SERVFAIL:
        return Answer(status="servfail", **common)  # type: ignore[arg-type]
    if rcode == dns.rcode.REFUSED:
        return Answer(status="refused", **common)  # type: ignore[arg-type]
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Answer(status="error", detail=dns.rcode.to_text(rcode), **common)  # type: ignore[arg-type]

    # Follow the CNAME chain inside the answer section.
    name = dns.name.from_text(qname)
    cnames: list[str] = []
    data: dns.rrset.RRset | None = None
    for _ in range(MAX_CNAME_CHAIN + 1):
        data = _find(response.answer, name, wanted)
        if data is not None or wanted == dns.rdatatype.CNAME:
            break
        alias = _find(response.answer, name, dns.rdatatype.CNAME)
        if alias is None:
            break
        name = alias[0].target  # type: ignore[attr-defined]
        cnames.append(name.to_text().lower())
    negative = _negative_ttl(response)
    common["cnames"] = tuple(cnames)
    if data is not None:
        rdatas = tuple(sorted(data, key=lambda r: r.to_text()))
        return Answer(
            status="ok",
            values=tuple(r.to_text() for r in rdatas),
            rdatas=rdatas,
            ttl=data.ttl,
            **common,  # type: ignore[arg-type]
        )
    if rcode == dns.rcode.NXDOMAIN:
        return Answer(status="nxdomain", negative_ttl=negative, **common)  # type: ignore[arg-type]
    if cnames and negative is None:
        return Answer(status="cname", **common)  # type: ignore[arg-type]
    if not response.flags & dns.flags.AA and _referral(response) is not None and not cnames:
        return Answer(status="referral", **common)  # type: ignore[arg-type]
    return Answer(status="nodata", negative_ttl=negative, **common)  # type: ignore[arg-type]


def _find(
    section: Iterable[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype:
            return rrset
    return None


def _negative_ttl(response: dns.message.Message) -> int | None:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(rrset.ttl, rrset[0].minimum)  # type: ignore[attr-defined]
    return None


def _referral(response: dns.message.Message) -> dns.rrset.RRset | None:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.NS:
            return rrset
    return None


def _failure(
    server: Nameserver,
    qname: str,
    rdtype: str,
    exc: BaseException,
    *,
    transport: str,
    started: float,
    queried_at: float,
) -> Answer:
    timed_out = isinstance(exc, (dns.exception.Timeout, TimeoutError, *_HTTP_TIMEOUTS))
    status: Status = "timeout" if timed_out else "error"
    detail = "" if status == "timeout" else (type(exc).__name__ + (f": {exc}" if str(exc) else ""))
    return Answer(
        server=server,
        qname=absolute(qname),
        rdtype=rdtype.upper(),
        status=status,
        transport=transport,
        elapsed_s=time.monotonic() - started,
        queried_at=queried_at,
        detail=detail[:200],
    )


# DNS over HTTPS goes through httpx2 (dnspython's ``doh`` extra), whose errors are its own:
# a DoH resolver that cannot be reached must be "couldn't check" like any other.
try:
    import httpx2

    _HTTP_ERRORS: tuple[type[BaseException], ...] = (
        httpx2.HTTPError,
        httpx2.InvalidURL,
        httpx2.StreamError,
    )
    _HTTP_TIMEOUTS: tuple[type[BaseException], ...] = (httpx2.TimeoutException,)
except ImportError:  # without the extra, dnspython raises its own NoDOH (a DNSException)
    _HTTP_ERRORS = _HTTP_TIMEOUTS = ()

_QUERY_ERRORS = (
    dns.exception.DNSException,
    OSError,
    ValueError,
    ImportError,
    EOFError,
    *_HTTP_ERRORS,
)


def query(server: Nameserver, qname: str, rdtype: str, *, timeout: float, rd: bool) -> Answer:
    """Ask ``server`` once. ``rd=False`` for authoritatives, ``rd=True`` for caches.

    Never raises for DNS or network trouble: a timeout or an error is an :class:`Answer` too,
    so a checker can show "couldn't check" per server.
    """
    msg = make_query(qname, rdtype, rd=rd)
    queried_at, started = time.time(), time.monotonic()
    transport: str = server.transport
    try:
        if server.transport == "udp":
            response, used_tcp = dns.query.udp_with_fallback(
                msg, server.address, timeout=timeout, port=server.port
            )
            transport = "tcp" if used_tcp else "udp"
        elif server.transport == "tcp":
            response = dns.query.tcp(msg, server.address, timeout=timeout, port=server.port)
        else:
            response = dns.query.https(msg, server.address, timeout=timeout, port=server.port)
    except _QUERY_ERRORS as exc:
        return _failure(
            server, qname, rdtype, exc, transport=transport, started=started, queried_at=queried_at
        )
    return interpret(
        response,
        server,
        qname,
        rdtype,
        transport=transport,
        elapsed_s=time.monotonic() - started,
        queried_at=queried_at,
    )


async def aquery(
    server: Nameserver, qname: str, rdtype: str, *, timeout: float, rd: bool
) -> Answer:
    """:func:`query` for asyncio callers (same semantics, same :class:`Answer`)."""
    msg = make_query(qname, rdtype, rd=rd)
    queried_at, started = time.time(), time.monotonic()
    transport: str = server.transport
    try:
        if server.transport == "udp":
            response, used_tcp = await dns.asyncquery.udp_with_fallback(
                msg, server.address, timeout=timeout, port=server.port
            )
            transport = "tcp" if used_tcp else "udp"
        elif server.transport == "tcp":
            response = await dns.asyncquery.tcp(
                msg, server.address, timeout=timeout, port=server.port
            )
        else:
            response = await dns.asyncquery.https(
                msg, server.address, timeout=timeout, port=server.port
            )
    except _QUERY_ERRORS as exc:
        return _failure(
            server, qname, rdtype, exc, transport=transport, started=started, queried_at=queried_at
        )
    return interpret(
        response,
        server,
        qname,
        rdtype,
        transport=transport,
        elapsed_s=time.monotonic() - started,
        queried_at=queried_at,
    )


def query_many(
    servers: Sequence[Nameserver], qname: str, rdtype: str, *, timeout: float, rd: bool
) -> tuple[Answer, ...]:
    """Ask every server at once (threads, so it works inside and outside an event loop).

    Answers come back in the order of ``servers``; the whole call takes about one timeout.
    """
    if not servers:
        return ()
    if len(servers) == 1:
        return (query(servers[0], qname, rdtype, timeout=timeout, rd=rd),)
    with ThreadPoolExecutor(max_workers=min(len(servers), 16)) as pool:
        futures = [pool.submit(query, s, qname, rdtype, timeout=timeout, rd=rd) for s in servers]
        return tuple(f.result() for f in futures)


async def aquery_many(
    servers: Sequence[Nameserver], qname: str, rdtype: str, *, timeout: float, rd: bool
) -> tuple[Answer, ...]:
    """:func:`query_many` for asyncio callers."""
    return tuple(
        await asyncio.gather(*(aquery(s, qname, rdtype, timeout=timeout, rd=rd) for s in servers))
    )


# -- authoritative servers -------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    """The servers authoritative for ``zone`` (the zone that holds the name asked about).

    ``source``: ``configured`` (dns.authoritative in the configuration), ``parent`` (the
    referral the parent zone hands out, what the registry says) or ``zone`` (the servers that
    answered authoritatively when no referral was seen on the way).
    """

    zone: str
    nameservers: tuple[Nameserver, ...]
    source: Literal["configured", "parent", "zone"]


def find_authoritatives(
    name: str,
    settings: DnsSettings,
    *,
    hints: Sequence[Nameserver] = ROOT_HINTS,
    start_zone: str = ".",
) -> Delegation:
    """The configured authoritative list, or (``auto``) the delegation found from the parent.

    Auto starts at ``hints`` (the root servers) and follows referrals down to the zone that
    holds ``name``, asking without recursion: the parent's referral is what the registry
    publishes, which is what the world's resolvers will use (reference sheet §9.1, §11 #6).
    """
    if settings.authoritative is not None:
        return Delegation(".", settings.authoritative, "configured")
    return walk_delegation(name, hints=hints, start_zone=start_zone, timeout=settings.timeout_s)


def walk_delegation(
    name: str,
    *,
    hints: Sequence[Nameserver] = ROOT_HINTS,
    start_zone: str = ".",
    timeout: float = 2.0,
    _depth: int = 0,
) -> Delegation:
    """Follow referrals from ``hints`` (servers of ``start_zone``) to the zone holding ``name``.

    Glue addresses take the port of the hints (53 on the internet; the test bed runs its
    authoritative server on a free port). Only IPv4 addresses are used: plenty of hosts that
    run mailmove have no IPv6 route, and a zone served only over IPv6 is very rare.
    """
    qname = absolute(name)
    target = dns.name.from_text(qname)
    zone = dns.name.from_text(absolute(start_zone))
    servers: tuple[Nameserver, ...] = tuple(hints)
    port = servers[0].port if servers else 53
    source: Literal["parent", "zone"] = "zone"
    for _ in range(MAX_DELEGATION_DEPTH):
        response = _first_response(servers, qname, "NS", timeout)
        if response is None:
            raise DnsUnavailable(f"no answer from any server of {zone.to_text()} for {qname}")
        rcode = response.rcode()
        if response.flags & dns.flags.AA:
            ns = _find(response.answer, target, dns.rdatatype.NS)
            if ns is not None:  # asked a server of the zone itself: its own NS set
                found = _nameservers(ns, response, port, timeout, _depth)
                return Delegation(qname, found or servers, "zone")
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                soa = next((r for r in response.authority if r.rdtype == dns.rdatatype.SOA), None)
                owner = soa.name if soa is not None else zone
                if soa is None:  # a CNAME answer, say: the name lives in the zone we asked
                    owner = zone
                return Delegation(owner.to_text().lower(), servers, source)
        referral = _referral(response)
        if (
            rcode == dns.rcode.NOERROR
            and referral is not None
            and target.is_subdomain(referral.name)
            and referral.name.is_subdomain(zone)
            and referral.name != zone
        ):
            zone = referral.name
            found = _nameservers(referral, response, port, timeout, _depth)
            if not found:
                raise DnsUnavailable(f"no usable address for the servers of {zone.to_text()}")
            servers, source = found, "parent"
            if zone == target:
                return Delegation(qname, servers, "parent")
            continue
        raise DnsUnavailable(
            f"unexpected answer ({dns.rcode.to_text(rcode)}) for {qname} from {zone.to_text()}"
        )
    raise DnsUnavailable(f"delegation chain for {qname} is too deep")


def _first_response(
    servers: Sequence[Nameserver], qname: str, rdtype: str, timeout: float
) -> dns.message.Message | None:
    msg = make_query(qname, rdtype, rd=False)
    for server in list(servers)[:SERVERS_PER_LEVEL]:
        try:
            response, _tcp = dns.query.udp_with_fallback(
                msg, server.address, timeout=timeout, port=server.port
            )
        except _QUERY_ERRORS:
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response
    return None


def _nameservers(
    ns: dns.rrset.RRset, response: dns.message.Message, port: int, timeout: float, depth: int
) -> tuple[Nameserver, ...]:
    """One :class:`Nameserver` per NS host: glue first, else the host's A looked up itself."""
    found: list[Nameserver] = []
    for rdata in sorted(ns, key=lambda r: r.to_text()):
        host = rdata.target  # type: ignore[attr-defined]
        glue = _find(response.additional, host, dns.rdatatype.A)
        addresses = sorted(r.address for r in glue) if glue is not None else []  # type: ignore[attr-defined]
        if not addresses and depth < 2 and not host.is_subdomain(ns.name):
            addresses = _resolve_a(host.to_text(), port, timeout, depth + 1)
        if addresses:
            found.append(Nameserver(host.to_text().rstrip(".").lower(), addresses[0], port))
    return tuple(found)


def _resolve_a(host: str, port: int, timeout: float, depth: int) -> list[str]:
    """A glueless NS host's addresses, found the same way (from the root, bounded depth)."""
    hints = tuple(dataclasses.replace(h, port=port) for h in ROOT_HINTS)
    try:
        delegation = walk_delegation(host, hints=hints, timeout=timeout, _depth=depth)
    except DnsUnavailable:
        return []
    for answer in query_many(
        delegation.nameservers[:SERVERS_PER_LEVEL], host, "A", timeout=timeout, rd=False
    ):
        if answer.status == "ok":
            return sorted(answer.values)
    return []


@dataclass(frozen=True)
class Consensus:
    """Every authoritative server's answer to one question, and what they agree on."""

    qname: str
    rdtype: str
    answers: tuple[Answer, ...]
    cnames: tuple[str, ...] = ()  # the alias chain followed to reach the data, across zones

    @property
    def definitive(self) -> tuple[Answer, ...]:
        return tuple(a for a in self.answers if a.definitive)

    @property
    def answered(self) -> bool:
        """At least one authoritative server said something about the name."""
        return bool(self.definitive)

    @property
    def answer(self) -> Answer | None:
        """The first definitive answer, in the order of the servers (None: nobody answered)."""
        definitive = self.definitive
        return definitive[0] if definitive else None

    @property
    def agree(self) -> bool:
        """All definitive answers say the same (status and values); TTLs may differ."""
        seen = {(a.status, a.values) for a in self.definitive}
        return len(seen) <= 1

    @property
    def status(self) -> Status | Literal["unanswered"]:
        first = self.answer
        return first.status if first is not None else "unanswered"

    @property
    def ttl(self) -> int | None:
        """The longest TTL any authoritative publishes: what a cache may have been handed."""
        ttls = [a.ttl for a in self.definitive if a.ttl is not None]
        return max(ttls) if ttls else None

    @property
    def negative_ttl(self) -> int | None:
        ttls = [a.negative_ttl for a in self.definitive if a.negative_ttl is not None]
        return max(ttls) if ttls else None


class AuthoritativeView:
    """What the authoritative servers publish for any name: all of them asked, nothing cached.

    One view per computation: it remembers delegations (where to ask), never answers.
    """

    def __init__(
        self,
        settings: DnsSettings,
        *,
        hints: Sequence[Nameserver] = ROOT_HINTS,
    ) -> None:
        self.settings = settings
        self.hints = tuple(hints)
        self._delegations: dict[str, Delegation] = {}

    def servers_for(self, name: str) -> Delegation:
        """The authoritative servers for ``name``'s zone (the walk resumes at a known zone)."""
        if self.settings.authoritative is not None:
            return Delegation(".", self.settings.authoritative, "configured")
        qname = absolute(name)
        known = [z for z in self._delegations if is_subdomain(qname, z)]
        start = max(known, key=lambda z: len(dns.name.from_text(z)), default=None)
        if start is not None and start == qname:
            return self._delegations[start]
        hints = self._delegations[start].nameservers if start is not None else self.hints
        delegation = walk_delegation(
            qname, hints=hints, start_zone=start or ".", timeout=self.settings.timeout_s
        )
        self._delegations[delegation.zone] = delegation
        return delegation

    def ask(self, name: str, rdtype: str) -> Consensus:
        """Ask each authoritative server; an alias to another zone is followed there."""
        qname = absolute(name)
        chain: list[str] = []
        current = qname
        for _ in range(MAX_CNAME_CHAIN):
            try:
                servers = self.servers_for(current).nameservers
            except DnsUnavailable:
                return Consensus(qname, rdtype.upper(), (), tuple(chain))
            answers = query_many(
                servers, current, rdtype, timeout=self.settings.timeout_s, rd=False
            )
            first = next((a for a in answers if a.definitive), None)
            if first is None or first.status != "cname" or first.target in chain:
                merged = tuple(
                    dataclasses.replace(a, qname=qname, cnames=(*chain, *a.cnames)) for a in answers
                )
                return Consensus(
                    qname, rdtype.upper(), merged, (*chain, *(first.cnames if first else ()))
                )
            chain.extend(first.cnames)
            current = first.target
        return Consensus(qname, rdtype.upper(), (), tuple(chain))
