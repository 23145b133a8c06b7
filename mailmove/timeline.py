"""The migration's timeline: each step's light, its dates, and the one next thing to do.

The Overview shows this so a customer coming back after two days sees at once
where they are ("TTL lowered 1 Dec 10:00, switch from 2 Dec 10:00") and what to
do now, in the FAQ's order. Pure: it reads a project and a gate decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from mailmove.gate import GateDecision
from mailmove.projects import Project, VerifiedAddress

Light = Literal["green", "amber", "red", "grey"]


@dataclass(frozen=True)
class TimelineStep:
    key: str  # addresses | ttl | switch | old_mail
    light: Light
    status_key: str  # catalog key of a one-line status
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Milestone:
    """A dated point for the chart: what happened (or will be possible) when."""

    key: str
    at: datetime
    planned: bool  # True: a time that is not reached yet (e.g. "switch from")


@dataclass(frozen=True)
class Timeline:
    steps: tuple[TimelineStep, ...]
    next_key: str
    next_params: dict[str, str]
    milestones: tuple[Milestone, ...]


def local(at: datetime, tz: str) -> str:
    """A date and time as customers read it, in their time zone: 2026-12-02 10:00."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def build(
    project: Project,
    verified: list[VerifiedAddress],
    gate: GateDecision,
    now: datetime,
    tz: str = "Asia/Tokyo",
) -> Timeline:
    missing = [v.address for v in verified if not v.present]
    steps: list[TimelineStep] = []

    if project.verified_at is None or not verified:
        steps.append(TimelineStep("addresses", "red", "timeline.addresses_todo"))
    elif missing:
        steps.append(
            TimelineStep(
                "addresses", "amber", "timeline.addresses_missing", {"count": str(len(missing))}
            )
        )
    else:
        steps.append(
            TimelineStep(
                "addresses",
                "green",
                "timeline.addresses_done",
                {"count": str(len(verified)), "at": local(project.verified_at, tz)},
            )
        )

    if project.ttl_lowered_at is None:
        steps.append(TimelineStep("ttl", "red", "timeline.ttl_todo"))
    else:
        params = {"at": local(project.ttl_lowered_at, tz)}
        if gate.switch_from is not None:
            params["from"] = local(gate.switch_from, tz)
        waiting = gate.switch_from is not None and now < gate.switch_from
        steps.append(
            TimelineStep(
                "ttl",
                "amber" if waiting else "green",
                "timeline.ttl_waiting" if waiting else "timeline.ttl_done",
                params,
            )
        )

    if project.mx_switched_at is not None:
        steps.append(
            TimelineStep(
                "switch", "green", "timeline.switched", {"at": local(project.mx_switched_at, tz)}
            )
        )
    elif gate.open:
        steps.append(TimelineStep("switch", "amber", "timeline.switch_ready"))
    else:
        steps.append(
            TimelineStep(
                "switch", "red", "timeline.switch_blocked", {"count": str(len(gate.unmet))}
            )
        )

    if project.done_at is not None:
        steps.append(
            TimelineStep("old_mail", "green", "timeline.done", {"at": local(project.done_at, tz)})
        )
    elif project.mx_switched_at is not None:
        steps.append(TimelineStep("old_mail", "amber", "timeline.old_mail_now"))
    else:
        steps.append(TimelineStep("old_mail", "grey", "timeline.old_mail_later"))

    next_key, next_params = _next(steps, gate, tz)
    return Timeline(tuple(steps), next_key, next_params, tuple(_milestones(project, gate, now)))


def _next(steps: list[TimelineStep], gate: GateDecision, tz: str) -> tuple[str, dict[str, str]]:
    by_key = {s.key: s for s in steps}
    if by_key["addresses"].light != "green":
        return "timeline.next_addresses", {}
    if by_key["ttl"].light == "red":
        return "timeline.next_ttl", {}
    if by_key["switch"].light == "red":
        if by_key["ttl"].light == "amber" and gate.switch_from is not None:
            return "timeline.next_wait", {"from": local(gate.switch_from, tz)}
        return "timeline.next_gate", {}
    if by_key["switch"].light == "amber":
        return "timeline.next_switch", {}
    if by_key["old_mail"].light != "green":
        return "timeline.next_old_mail", {}
    return "timeline.next_done", {}


def _milestones(project: Project, gate: GateDecision, now: datetime) -> list[Milestone]:
    points = [Milestone("created", project.created_at, False)]
    if project.verified_at is not None:
        points.append(Milestone("verified", project.verified_at, False))
    if project.ttl_lowered_at is not None:
        points.append(Milestone("ttl_lowered", project.ttl_lowered_at, False))
    if gate.switch_from is not None and project.mx_switched_at is None:
        points.append(Milestone("switch_from", gate.switch_from, gate.switch_from > now))
    if project.mx_switched_at is not None:
        points.append(Milestone("switched", project.mx_switched_at, False))
    if project.done_at is not None:
        points.append(Milestone("done", project.done_at, False))
    return sorted(points, key=lambda m: m.at)
