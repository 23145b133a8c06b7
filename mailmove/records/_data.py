"""Sources of current records: the live authoritative servers, or a zone given as text.

:class:`LiveDns` is what the CLI and the page use. :class:`StaticDns` serves the same
:class:`RRset` answers from master-file text, so the whole computation runs in unit tests
(and the very same zone texts are served by the real test bed in the integration tests).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zonefile

from mailmove.lookup import AuthoritativeView, Consensus, absolute
from mailmove.records._model import RRset


class LiveDns:
    """Current records as every authoritative server publishes them.

    Answers are remembered for one computation only (pyspf and the MX checks ask for the
    same names): a new computation gets a new instance, so nothing stale is ever shown.
    """

    def __init__(self, view: AuthoritativeView) -> None:
        self.view = view
        self._memo: dict[tuple[str, str], RRset] = {}

    def get(self, name: str, rdtype: str) -> RRset:
        key = (absolute(name), rdtype.upper())
        if key not in self._memo:
            self._memo[key] = to_rrset(self.view.ask(*key))
        return self._memo[key]

    @property
    def fetched(self) -> tuple[RRset, ...]:
        """Everything asked so far, in order (for "couldn't check" and disagreement notes)."""
        return tuple(self._memo.values())


def to_rrset(consensus: Consensus) -> RRset:
    """Reduce all authoritative answers to one :class:`RRset` (longest TTL wins)."""
    first = consensus.answer
    if first is None or first.status == "cname":
        reasons = sorted({f"{a.status} at {a.server.name}" for a in consensus.answers})
        return RRset(
            consensus.qname,
            consensus.rdtype,
            "unknown",
            cnames=consensus.cnames,
            detail="; ".join(reasons) or "no authoritative server found",
        )
    status = first.status if first.status in ("ok", "nxdomain", "nodata") else "unknown"
    return RRset(
        consensus.qname,
        consensus.rdtype,
        status,  # type: ignore[arg-type]
        values=first.values,
        ttl=consensus.ttl if status == "ok" else None,
        strings=first.txt_strings() if consensus.rdtype == "TXT" else (),
        cnames=consensus.cnames,
        negative_ttl=consensus.negative_ttl,
        disagree=not consensus.agree,
    )


class StaticDns:
    """Records from master-file texts: what the zones' authoritative servers would answer.

    ``zones`` maps each zone origin to its text. Names under an origin that its text does
    not define are NXDOMAIN (NODATA when the name owns other records or names below it);
    names outside every zone are ``unknown``, as if no server answered. CNAME chains are
    followed across the given zones.
    """

    def __init__(self, zones: Mapping[str, str]) -> None:
        self._sets: dict[tuple[str, str], tuple[int, list[str], list[tuple[str, ...]]]] = {}
        self._negative: dict[str, int | None] = {}
        for origin, text in zones.items():
            self._load(absolute(origin), text)
        self._names = {name for name, _ in self._sets}

    def _load(self, origin: str, text: str) -> None:
        grouped: dict[tuple[str, str], list[dns.rdata.Rdata]] = defaultdict(list)
        ttls: dict[tuple[str, str], int] = {}
        for rrset in _read(origin, text):
            key = (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype))
            grouped[key].extend(rrset)
            ttls[key] = rrset.ttl
        self._negative[origin] = None
        for (name, rdtype), rdatas in grouped.items():
            ordered = sorted(rdatas, key=lambda r: r.to_text())
            strings = [
                tuple(s.decode("utf-8", "replace") for s in r.strings)  # type: ignore[attr-defined]
                for r in rdatas
                if rdtype == "TXT"
            ]
            self._sets[(name, rdtype)] = (
                ttls[(name, rdtype)],
                [r.to_text() for r in ordered],
                strings,
            )
            if rdtype == "SOA" and name == origin:
                minimum = rdatas[0].minimum  # type: ignore[attr-defined]
                self._negative[origin] = min(ttls[(name, rdtype)], minimum)

    def _zone_of(self, name: str) -> str | None:
        owner = dns.name.from_text(name)
        found = [z for z in self._negative if owner.is_subdomain(dns.name.from_text(z))]
        return max(found, key=len, default=None)

    def get(self, name: str, rdtype: str) -> RRset:
        qname, rdtype = absolute(name), rdtype.upper()
        cnames: list[str] = []
        current = qname
        for _ in range(8):
            zone = self._zone_of(current)
            if zone is None:
                return RRset(qname, rdtype, "unknown", cnames=tuple(cnames), detail="no server")
            found = self._sets.get((current, rdtype))
            if found is not None:
                ttl, values, strings = found
                return RRset(qname, rdtype, "ok", tuple(values), ttl, tuple(strings), tuple(cnames))
            alias = self._sets.get((current, "CNAME"))
            if alias is None or rdtype == "CNAME":
                break
            current = alias[1][0].lower()
            cnames.append(current)
        exists = self._exists(current)
        if not exists:
            wildcard = self._wildcard(current, rdtype)
            if wildcard is not None:
                ttl, values, strings = wildcard
                return RRset(qname, rdtype, "ok", tuple(values), ttl, tuple(strings), tuple(cnames))
        return RRset(
            qname,
            rdtype,
            "nodata" if exists else "nxdomain",
            cnames=tuple(cnames),
            negative_ttl=self._negative.get(self._zone_of(current) or ""),
        )

    def _exists(self, name: str) -> bool:
        return any(n == name or n.endswith("." + name) for n in self._names)

    def _wildcard(
        self, name: str, rdtype: str
    ) -> tuple[int, list[str], list[tuple[str, ...]]] | None:
        """RFC 4592: ``*.<closest encloser>`` answers for names that do not exist."""
        labels = name.split(".")
        for i in range(1, len(labels) - 1):
            encloser = ".".join(labels[i:])
            if self._exists(encloser):
                return self._sets.get(("*." + encloser, rdtype))
        return None


def _read(origin: str, text: str) -> list[dns.rrset.RRset]:
    """Parse leniently: test zones are broken on purpose (CNAME next to other data)."""
    apex = dns.name.from_text(origin)
    manager = dns.zonefile.RRSetsReaderManager(apex, False, dns.rdataclass.IN)
    with manager.writer(True) as txn:
        txn.check_put_rdataset = lambda _check: None  # type: ignore[method-assign]
        tokens = dns.tokenizer.Tokenizer(text, f"<zone {origin}>")
        dns.zonefile.Reader(tokens, dns.rdataclass.IN, txn, allow_directives=True).read()
    return list(manager.rrsets)
