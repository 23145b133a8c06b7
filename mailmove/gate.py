"""The cutover gate: may the customer point MX (or its A record) at the new server yet?

Switching too early is the one mistake that loses mail: addresses missing on the
new server bounce, a TTL that is still long keeps mail going to the old server
for a day, and a strict DMARC policy rejects mail the new server signs before its
SPF and DKIM are visible. The gate names every condition that is not met yet;
staff may override it with a reason, which the caller logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class GateFacts:
    """What is known now; None means 'not checked yet', which never opens the gate."""

    addresses_listed: int
    addresses_missing: tuple[str, ...]
    verified_at: datetime | None
    ttl_lowered_at: datetime | None
    old_ttl_s: int | None
    dmarc_strict: bool = False  # the domain's DMARC says quarantine or reject
    auth_visible: bool | None = None  # new server's SPF and DKIM at every authoritative server


@dataclass(frozen=True)
class Unmet:
    """One reason the gate is closed: a catalog key and its parameters."""

    code: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    open: bool
    unmet: tuple[Unmet, ...]
    switch_from: datetime | None  # when the TTL condition is (or will be) met
    overridden_by: str | None = None
    override_reason: str | None = None


def evaluate(
    facts: GateFacts,
    now: datetime,
    *,
    override_by: str | None = None,
    override_reason: str | None = None,
) -> GateDecision:
    unmet: list[Unmet] = []

    if facts.verified_at is None or facts.addresses_listed == 0:
        unmet.append(Unmet("gate.not_verified"))
    elif facts.addresses_missing:
        shown = ", ".join(facts.addresses_missing[:3])
        more = len(facts.addresses_missing) - 3
        unmet.append(
            Unmet(
                "gate.addresses_missing",
                {
                    "count": str(len(facts.addresses_missing)),
                    "examples": shown + (f" (+{more})" if more > 0 else ""),
                },
            )
        )

    switch_from: datetime | None = None
    if facts.ttl_lowered_at is None or facts.old_ttl_s is None:
        unmet.append(Unmet("gate.ttl_not_lowered"))
    else:
        # Caches that fetched the record just before the change keep it for the old TTL.
        switch_from = facts.ttl_lowered_at + timedelta(seconds=facts.old_ttl_s)
        if now < switch_from:
            unmet.append(Unmet("gate.ttl_wait", {"until": switch_from.isoformat()}))

    if facts.dmarc_strict and facts.auth_visible is not True:
        unmet.append(Unmet("gate.auth_not_visible"))

    if unmet and override_by:
        return GateDecision(True, tuple(unmet), switch_from, override_by, override_reason)
    return GateDecision(not unmet, tuple(unmet), switch_from)
