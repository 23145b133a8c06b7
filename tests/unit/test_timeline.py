"""The Overview's timeline: lights, dates in the customer's zone, the one next step."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mailmove.gate import GateFacts, evaluate
from mailmove.i18n import catalog
from mailmove.projects import Project, VerifiedAddress
from mailmove.timeline import build

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
START = Project(
    id=1,
    server="tokyo-1",
    domains=("yamada-shoji.test",),
    created_by="admin@yamada-shoji.test",
    created_at=NOW - timedelta(hours=2),
    updated_at=NOW,
    old_host="pop.old-host.test",
    old_ip="192.0.2.25",
    old_ttl_s=None,
    ttl_lowered_at=None,
    verified_at=None,
    mx_switched_at=None,
    done_at=None,
    gate_override_by=None,
    gate_override_reason=None,
)


def timeline(project: Project, verified: list[VerifiedAddress], now: datetime = NOW):
    facts = GateFacts(
        addresses_listed=len(verified),
        addresses_missing=tuple(v.address for v in verified if not v.present),
        verified_at=project.verified_at,
        ttl_lowered_at=project.ttl_lowered_at,
        old_ttl_s=project.old_ttl_s,
    )
    return build(project, verified, evaluate(facts, now), now)


def lights(tl) -> dict[str, str]:
    return {s.key: s.light for s in tl.steps}


def test_a_new_project_starts_with_the_addresses() -> None:
    tl = timeline(START, [])
    assert lights(tl) == {"addresses": "red", "ttl": "red", "switch": "red", "old_mail": "grey"}
    assert tl.next_key == "timeline.next_addresses"


def test_waiting_out_the_old_ttl_shows_both_dates_in_tokyo_time() -> None:
    ok = [VerifiedAddress("taro@yamada-shoji.test", True, NOW)]
    project = replace(START, verified_at=NOW, ttl_lowered_at=NOW, old_ttl_s=86_400)
    tl = timeline(project, ok)
    ttl = next(s for s in tl.steps if s.key == "ttl")
    assert ttl.light == "amber"
    assert ttl.params == {"at": "2026-12-01 10:00", "from": "2026-12-02 10:00"}
    assert tl.next_key == "timeline.next_wait"
    assert [m.key for m in tl.milestones] == ["created", "verified", "ttl_lowered", "switch_from"]
    assert tl.milestones[-1].planned


def test_after_the_wait_the_switch_is_ready_then_old_mail() -> None:
    ok = [VerifiedAddress("taro@yamada-shoji.test", True, NOW)]
    project = replace(START, verified_at=NOW, ttl_lowered_at=NOW, old_ttl_s=3600)
    later = NOW + timedelta(hours=2)
    tl = timeline(project, ok, later)
    assert lights(tl)["switch"] == "amber"
    assert tl.next_key == "timeline.next_switch"
    switched = replace(project, mx_switched_at=later)
    tl = timeline(switched, ok, later)
    assert lights(tl)["switch"] == "green"
    assert tl.next_key == "timeline.next_old_mail"


def test_missing_addresses_keep_the_first_step_amber() -> None:
    mixed = [
        VerifiedAddress("taro@yamada-shoji.test", True, NOW),
        VerifiedAddress("hanako@yamada-shoji.test", False, NOW),
    ]
    tl = timeline(replace(START, verified_at=NOW), mixed)
    assert lights(tl)["addresses"] == "amber"
    assert tl.steps[0].params == {"count": "1"}


def test_every_status_key_is_in_the_catalog() -> None:
    keys = {k for k in catalog() if k.startswith("timeline.")}
    for tl in (timeline(START, []),):
        for step in tl.steps:
            assert step.status_key in keys
        assert tl.next_key in keys
