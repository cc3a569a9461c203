"""Events of certified units (``UnitEvent``): each kind's rule and priority, restores."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts import (
    CarePlan,
    Change,
    InactivitySettings,
    Priority,
    RuleKind,
    TechnicalSettings,
    apply_detection,
    evaluate,
    initial_state,
)
from alerts.rules.events import UNIT_RULES
from protocol import UnitEvent
from tests.alerts.helpers import HOME, RESIDENT, event, local

PLAN = CarePlan(RESIDENT, inactivity=InactivitySettings(enabled=False))

EXPECTED = {
    "panic": (RuleKind.PANIC, Priority.CRITICAL),
    "medical": (RuleKind.MEDICAL, Priority.CRITICAL),
    "fall": (RuleKind.FALL, Priority.CRITICAL),
    "fail_to_report": (RuleKind.MISSED_CHECK_IN, Priority.MEDIUM),
    "fire": (RuleKind.FIRE, Priority.CRITICAL),
    "heat": (RuleKind.FIRE, Priority.CRITICAL),
    "smoke": (RuleKind.SMOKE, Priority.CRITICAL),
    "co": (RuleKind.CO, Priority.CRITICAL),
    "gas": (RuleKind.GAS, Priority.CRITICAL),
    "water_leak": (RuleKind.FLOOD, Priority.CRITICAL),
    "temperature_high": (RuleKind.TEMPERATURE, Priority.MEDIUM),
    "temperature_low": (RuleKind.TEMPERATURE, Priority.MEDIUM),
    "power_lost": (RuleKind.POWER_LOST, Priority.TECHNICAL),
    "low_battery": (RuleKind.LOW_BATTERY, Priority.TECHNICAL),
    "rf_low_battery": (RuleKind.LOW_BATTERY, Priority.TECHNICAL),
    "tamper": (RuleKind.TAMPER, Priority.TECHNICAL),
    "rf_supervision": (RuleKind.DEVICE_OFFLINE, Priority.TECHNICAL),
    "unknown": (RuleKind.UNIT_EVENT, Priority.TECHNICAL),
}


def _unit(kind: str, restore: bool = False, code: str = "E999") -> UnitEvent:
    return UnitEvent(
        protocol="dc09",
        kind=kind,
        code=code,
        restore=restore,
        zone="003",  # type: ignore[arg-type]
        raw="ADM-CID 1999 01 003",
    )


def test_every_kind_but_test_has_a_rule() -> None:
    assert set(UNIT_RULES) == set(EXPECTED)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_kind_detects_its_rule_with_its_priority(kind: str) -> None:
    result = evaluate(
        PLAN, initial_state(PLAN, HOME, local(12, 6)), event(_unit(kind), local(12, 9))
    )
    (detection,) = result.detections
    assert (detection.rule, detection.priority) == EXPECTED[kind]
    assert not detection.restores
    text = detection.explanation.text("en")
    assert "DC-09 E999" in text
    assert "zone 003" in text
    assert dict(detection.explanation.params)["raw"] == "ADM-CID 1999 01 003"


def test_an_unknown_code_shows_the_raw_event() -> None:
    result = evaluate(
        PLAN, initial_state(PLAN, HOME, local(12, 6)), event(_unit("unknown"), local(12, 9))
    )
    assert "Unknown event «ADM-CID 1999 01 003»" in result.detections[0].explanation.text("en")


def test_a_periodic_test_raises_nothing() -> None:
    result = evaluate(
        PLAN, initial_state(PLAN, HOME, local(12, 6)), event(_unit("test"), local(12, 9))
    )
    assert result.detections == ()


def test_low_battery_follows_the_plan() -> None:
    quiet = replace(PLAN, technical=TechnicalSettings(low_battery=False))
    result = evaluate(
        quiet, initial_state(quiet, HOME, local(12, 6)), event(_unit("low_battery"), local(12, 9))
    )
    assert result.detections == ()


def test_a_restore_updates_the_open_alarm_and_alone_raises_nothing() -> None:
    state = initial_state(PLAN, HOME, local(12, 6))
    lost = evaluate(PLAN, state, event(_unit("power_lost", code="E301"), local(12, 9))).detections[
        0
    ]
    back = evaluate(
        PLAN, state, event(_unit("power_lost", restore=True, code="R301"), local(12, 9, 20))
    ).detections[0]
    assert back.restores
    assert back.explanation.key == "unit_restored"
    raised = apply_detection([], lost, lost.at, "a1")
    assert raised is not None
    assert raised.change is Change.RAISED
    updated = apply_detection([raised.alarm], back, back.at, "a2")
    assert updated is not None
    assert updated.change is Change.ATTACHED
    assert updated.alarm.id == "a1"
    assert updated.alarm.is_open
    assert dict(updated.alarm.history[-1].detail)["restores"] == "True"
    # Nothing open: a restore is no alarm.
    assert apply_detection([], back, back.at, "a3") is None
    # An open alarm of another rule is not touched by it.
    other = evaluate(PLAN, state, event(_unit("tamper"), local(12, 9))).detections[0]
    tamper = apply_detection([], other, other.at, "a4")
    assert tamper is not None
    assert apply_detection([tamper.alarm], back, back.at + timedelta(seconds=1), "a5") is None
