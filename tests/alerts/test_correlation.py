"""Related events attach to the home's open alarm; a resident's cancel closes a fall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import (
    Actor,
    ActorKind,
    AlarmState,
    Change,
    Detection,
    Explanation,
    Outcome,
    RuleKind,
    accept,
    apply_detection,
)

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ANNA = Actor(ActorKind.OPERATOR, "op-anna")


def det(rule: RuleKind, home: str = "home-1", cancels: bool = False, n: int = 0) -> Detection:
    return Detection(
        rule=rule,
        home_id=home,
        resident_id="res-1",
        at=T0 + timedelta(seconds=n),
        explanation=Explanation.of("never"),
        event_ids=(f"e{n}",),
        cancels=cancels,
    )


def test_second_press_and_other_sensor_attach_to_the_open_alarm() -> None:
    first = apply_detection([], det(RuleKind.PANIC), T0, "a1")
    assert first is not None
    assert first.change is Change.RAISED
    second = apply_detection(
        [first.alarm], det(RuleKind.PANIC, n=5), T0 + timedelta(seconds=5), "a2"
    )
    assert second is not None
    assert second.change is Change.ATTACHED
    assert second.alarm.id == "a1"
    smoke = apply_detection(
        [second.alarm], det(RuleKind.SMOKE, n=9), T0 + timedelta(seconds=9), "a3"
    )
    assert smoke is not None
    assert smoke.alarm.id == "a1"
    assert smoke.alarm.rules == (RuleKind.PANIC, RuleKind.SMOKE)


def test_other_home_and_technical_alarms_open_their_own() -> None:
    first = apply_detection([], det(RuleKind.PANIC), T0, "a1")
    assert first is not None
    other = apply_detection([first.alarm], det(RuleKind.PANIC, home="home-2"), T0, "a2")
    assert other is not None
    assert other.change is Change.RAISED
    battery = apply_detection([first.alarm], det(RuleKind.LOW_BATTERY), T0, "a3")
    assert battery is not None
    assert battery.alarm.id == "a3"


def test_fall_cancelled_resolves_an_untouched_fall_alarm() -> None:
    fall = apply_detection([], det(RuleKind.FALL), T0, "a1")
    assert fall is not None
    cancel = apply_detection(
        [fall.alarm], det(RuleKind.FALL, cancels=True, n=20), T0 + timedelta(seconds=20), "a2"
    )
    assert cancel is not None
    assert cancel.change is Change.CANCELLED
    assert cancel.alarm.state is AlarmState.RESOLVED
    assert cancel.alarm.outcome is Outcome.RESIDENT_CANCELLED
    assert cancel.alarm.history[-1].actor.kind is ActorKind.RESIDENT


def test_fall_cancelled_after_acceptance_only_attaches() -> None:
    fall = apply_detection([], det(RuleKind.FALL), T0, "a1")
    assert fall is not None
    taken = accept(fall.alarm, ANNA, T0 + timedelta(seconds=10))
    cancel = apply_detection(
        [taken], det(RuleKind.FALL, cancels=True, n=20), T0 + timedelta(seconds=20), "a2"
    )
    assert cancel is not None
    assert cancel.change is Change.ATTACHED
    assert cancel.alarm.is_open


def test_fall_cancelled_does_not_close_a_panic_and_with_nothing_open_does_nothing() -> None:
    panic = apply_detection([], det(RuleKind.PANIC), T0, "a1")
    assert panic is not None
    cancel = apply_detection(
        [panic.alarm], det(RuleKind.FALL, cancels=True, n=3), T0 + timedelta(seconds=3), "a2"
    )
    assert cancel is not None
    assert cancel.alarm.is_open
    assert apply_detection([], det(RuleKind.FALL, cancels=True), T0, "a3") is None
