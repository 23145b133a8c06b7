"""The cutover gate names every unmet condition and opens only when all hold."""

from datetime import UTC, datetime, timedelta

from mailmove.gate import GateFacts, evaluate

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def facts(**changes: object) -> GateFacts:
    base: dict[str, object] = {
        "addresses_listed": 3,
        "addresses_missing": (),
        "verified_at": NOW - timedelta(hours=1),
        "ttl_lowered_at": NOW - timedelta(days=2),
        "old_ttl_s": 86_400,
        "dmarc_strict": False,
        "auth_visible": None,
    }
    base.update(changes)
    return GateFacts(**base)  # type: ignore[arg-type]


def codes(f: GateFacts) -> list[str]:
    return [u.code for u in evaluate(f, NOW).unmet]


def test_all_conditions_met_opens() -> None:
    decision = evaluate(facts(), NOW)
    assert decision.open
    assert decision.unmet == ()
    assert decision.switch_from == NOW - timedelta(days=1)


def test_never_verified_or_nothing_listed_stays_closed() -> None:
    assert codes(facts(verified_at=None)) == ["gate.not_verified"]
    assert codes(facts(addresses_listed=0)) == ["gate.not_verified"]


def test_missing_addresses_are_counted_and_named() -> None:
    missing = ("a@x.test", "b@x.test", "c@x.test", "d@x.test")
    (unmet,) = evaluate(facts(addresses_missing=missing), NOW).unmet
    assert unmet.code == "gate.addresses_missing"
    assert unmet.params == {"count": "4", "examples": "a@x.test, b@x.test, c@x.test (+1)"}


def test_ttl_must_be_lowered_and_the_old_ttl_waited_out() -> None:
    assert codes(facts(ttl_lowered_at=None)) == ["gate.ttl_not_lowered"]
    lowered = NOW - timedelta(hours=23)
    decision = evaluate(facts(ttl_lowered_at=lowered), NOW)
    assert not decision.open
    assert decision.unmet[0].code == "gate.ttl_wait"
    assert decision.switch_from == lowered + timedelta(days=1)
    # One second after the old TTL has run out, the condition holds.
    assert evaluate(facts(ttl_lowered_at=lowered), lowered + timedelta(days=1, seconds=1)).open


def test_strict_dmarc_needs_spf_and_dkim_visible() -> None:
    assert codes(facts(dmarc_strict=True, auth_visible=None)) == ["gate.auth_not_visible"]
    assert codes(facts(dmarc_strict=True, auth_visible=False)) == ["gate.auth_not_visible"]
    assert codes(facts(dmarc_strict=True, auth_visible=True)) == []
    assert codes(facts(dmarc_strict=False, auth_visible=False)) == []


def test_every_unmet_condition_is_listed_at_once() -> None:
    assert codes(facts(verified_at=None, ttl_lowered_at=None, dmarc_strict=True)) == [
        "gate.not_verified",
        "gate.ttl_not_lowered",
        "gate.auth_not_visible",
    ]


def test_staff_override_opens_but_keeps_the_reasons() -> None:
    decision = evaluate(
        facts(verified_at=None), NOW, override_by="staff@x.test", override_reason="phone OK"
    )
    assert decision.open
    assert decision.overridden_by == "staff@x.test"
    assert [u.code for u in decision.unmet] == ["gate.not_verified"]
