"""Propagation over days: share of green per check, and when each light changed.

Both read the checks as they are stored with the project (the CLI contract's JSON), so a
customer coming back the next day sees how the change spread while they were away. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailmove.lookup import absolute
from mailmove.propagation._model import CheckResult, CheckState, Light

# A stored check newer than this may stand in for "the previous check" after a page reload
# (green needs two consecutive checks; an older one says nothing about what happened since).
PREVIOUS_MAX_AGE_S = 10 * 60


@dataclass(frozen=True)
class LightChange:
    """A light that changed between two stored checks (``vantage`` None: the record's light)."""

    at: datetime
    purpose: str
    name: str
    rdtype: str
    vantage: str | None
    before: Light | None  # None: the first check seen
    after: Light


def parse(result_json: str | Mapping[str, Any]) -> dict[str, Any]:
    data = json.loads(result_json) if isinstance(result_json, str) else dict(result_json)
    return data if isinstance(data, dict) else {}


def share_green(result: Mapping[str, Any]) -> float:
    """Share of (record, vantage point) lights that are green, 0.0 to 1.0."""
    lights = [v.get("light") for r in result.get("records", []) for v in r.get("vantages", [])]
    return sum(1 for light in lights if light == "green") / len(lights) if lights else 0.0


def _lights(result: Mapping[str, Any]) -> dict[tuple[str, str, str, str | None], Light]:
    out: dict[tuple[str, str, str, str | None], Light] = {}
    for r in result.get("records", []):
        key = (str(r.get("purpose")), str(r.get("name")), str(r.get("type")))
        out[(*key, None)] = r.get("light")
        for v in r.get("vantages", []):
            out[(*key, str(v.get("name")))] = v.get("light")
    return out


def light_changes(
    history: Sequence[tuple[datetime, Mapping[str, Any]]], *, vantages: bool = True
) -> list[LightChange]:
    """Every light change across ``history`` (oldest first), newest change first."""
    changes: list[LightChange] = []
    before: dict[tuple[str, str, str, str | None], Light] = {}
    for at, result in history:
        now = _lights(result)
        for key, light in now.items():
            if key[3] is not None and not vantages:
                continue
            if before.get(key) != light:
                changes.append(LightChange(at, *key, before.get(key), light))
        before = now
    return list(reversed(changes))


def result_lights(result: CheckResult) -> dict[tuple[str, str, str, str | None], Light]:
    """The lights of a fresh result, keyed like the stored JSON (to see if anything changed)."""
    out: dict[tuple[str, str, str, str | None], Light] = {}
    for r in result.records:
        key = (r.purpose, r.expectation.name.rstrip("."), r.expectation.rdtype)
        out[(*key, None)] = r.light
        for v in r.vantages:
            out[(*key, v.vantage.name)] = v.light
    return out


def state_from_json(result: Mapping[str, Any], at: datetime) -> CheckState:
    """A stored check as the previous one: green lights count as matched, names as asked."""
    matched = frozenset(
        (str(r["purpose"]), absolute(str(r["name"])), str(r["type"]), str(v["name"]))
        for r in result.get("records", [])
        for v in r.get("vantages", [])
        if v.get("light") == "green"
    )
    names = frozenset((absolute(str(r["name"])), str(r["type"])) for r in result.get("records", []))
    return CheckState(at=at, matched=matched, names=names)
