"""Where the check asks: every authoritative server, then the configured public caches.

The authoritative servers say whether the customer did it right; the public resolvers (and
the new server's own resolver, configured among them) say how far the change has spread
(reference sheet §1 rule 1, §9). Authoritatives come from the parent's delegation (what the
registry publishes, §11 #6) unless the configuration lists them. Never an ISP resolver meant
for its own customers only: only what the operator configured is asked.
"""

from __future__ import annotations

import time

from mailmove.config import DnsSettings, Nameserver
from mailmove.lookup import find_authoritatives
from mailmove.propagation._model import CheckState, Vantage

# The delegation rarely changes during a migration; walking it on every 30 s refresh would
# only add latency, so a check reuses what the previous one found for this long.
DELEGATION_REUSE_S = 15 * 60


def authoritatives(
    domain: str, settings: DnsSettings, previous: CheckState | None = None
) -> tuple[Nameserver, ...]:
    """The domain's authoritative servers; raises ``DnsUnavailable`` if none can be found."""
    if (
        settings.authoritative is None
        and previous is not None
        and previous.authoritatives
        and time.monotonic() - previous.authoritatives_found_at < DELEGATION_REUSE_S
    ):
        return previous.authoritatives
    return find_authoritatives(domain, settings).nameservers


def vantage_points(
    authoritative: tuple[Nameserver, ...], settings: DnsSettings
) -> tuple[Vantage, ...]:
    """Authoritatives first, then the public resolvers; names made unique (they are keys)."""
    seen: set[str] = set()
    out: list[Vantage] = []
    for server, kind in [(s, "authoritative") for s in authoritative] + [
        (s, "public") for s in settings.resolvers
    ]:
        name, n = server.name, 1
        while name in seen:
            n += 1
            name = f"{server.name}#{n}"
        seen.add(name)
        if name != server.name:
            server = Nameserver(name, server.address, server.port, server.transport)
        out.append(Vantage(server, kind))  # type: ignore[arg-type]
    return tuple(out)
