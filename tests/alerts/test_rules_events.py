"""Event-driven rules: panic, fall, hazards, night door, technical, prompts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import (
    ACTIVITY_EVENT_TYPES,
    AlertsValueError,
    CarePlan,
    InactivitySettings,
    Priority,
    RuleKind,
    evaluate,
    initial_state,
)
from alerts.rules import events as events_module
from protocol import (
    BedExit,
    BedReturn,
    CarbonMonoxide,
    CheckIn,
    DeviceFault,
    DoorClose,
    DoorOpen,
    Fall,
    FallCancelled,
    Flood,
    Gas,
    LowBattery,
    MedicationMissed,
    MedicationTaken,
    Motion,
    Panic,
    PowerLost,
    PromptAnswer,
    Smoke,
    Tamper,
    Temperature,
    UnitEvent,
    event_type,
)
from tests.alerts.helpers import HOME, RESIDENT, event, local

# Event rules are tested alone; the timer rules have their own tests.
PLAN = CarePlan(RESIDENT, inactivity=InactivitySettings(enabled=False))


def _state():
    return initial_state(PLAN, HOME, local(12, 6, 0))


@pytest.mark.parametrize(
    ("body", "rule", "priority"),
    [
        (Panic(), RuleKind.PANIC, Priority.CRITICAL),
        (Fall(room="bathroom"), RuleKind.FALL, Priority.CRITICAL),
        (Smoke(room="kitchen"), RuleKind.SMOKE, Priority.CRITICAL),
        (CarbonMonoxide(ppm=120.0), RuleKind.CO, Priority.CRITICAL),
        (Flood(), RuleKind.FLOOD, Priority.CRITICAL),
        (Gas(room="kitchen"), RuleKind.GAS, Priority.CRITICAL),
        (LowBattery(percent=8), RuleKind.LOW_BATTERY, Priority.TECHNICAL),
        (LowBattery(), RuleKind.LOW_BATTERY, Priority.TECHNICAL),
        (DeviceFault(fault="trouble"), RuleKind.DEVICE_FAULT, Priority.TECHNICAL),
        (DeviceFault(fault="battery_defect"), RuleKind.DEVICE_FAULT, Priority.TECHNICAL),
        (
            DeviceFault(fault="unknown_action", detail="disarm"),
            RuleKind.DEVICE_FAULT,
            Priority.TECHNICAL,
        ),
        (Tamper(), RuleKind.TAMPER, Priority.TECHNICAL),
        (PowerLost(), RuleKind.POWER_LOST, Priority.TECHNICAL),
        (MedicationMissed(schedule="morning"), RuleKind.MEDICATION, Priority.LOW),
    ],
)
def test_immediate_rules_detect_at_once_with_priority(body, rule, priority) -> None:
    item = event(body, local(12, 9, 30))
    result = evaluate(PLAN, _state(), item)
    assert len(result.detections) == 1
    found = result.detections[0]
    assert found.rule is rule
    assert found.priority is priority
    assert found.event_ids == (item.message_id,)
    assert found.at == item.at
    for language in ("ca", "es", "en"):
        assert found.explanation.text(language)


def test_panic_explanation_in_three_languages() -> None:
    result = evaluate(PLAN, _state(), event(Panic(source="pendant"), local(12, 9, 30)))
    explanation = result.detections[0].explanation
    assert explanation.text("en") == "Help button pressed (pendant) at 09:30"
    assert explanation.text("ca") == "Botó d'ajuda premut (penjoll) a les 09:30"
    assert explanation.text("es") == "Botón de ayuda pulsado (colgante) a las 09:30"


def test_fall_cancelled_is_a_cancelling_detection() -> None:
    result = evaluate(PLAN, _state(), event(FallCancelled(), local(12, 9, 30)))
    (found,) = result.detections
    assert found.rule is RuleKind.FALL
    assert found.cancels


@pytest.mark.parametrize("body", [Smoke(cleared=True), Gas(cleared=True), Flood(cleared=True)])
def test_cleared_hazard_raises_nothing(body) -> None:
    result = evaluate(PLAN, _state(), event(body, local(12, 9, 30)))
    assert result.detections == ()


def test_gas_is_a_fire_type_alarm_and_its_texts_name_it() -> None:
    from alerts.model import FIRE_TYPE_RULES

    assert RuleKind.GAS in FIRE_TYPE_RULES
    (found,) = evaluate(PLAN, _state(), event(Gas(room="kitchen"), local(12, 9, 30))).detections
    assert found.explanation.text("en") == "Gas leak detected (kitchen) at 09:30"
    assert found.explanation.text("ca") == "Fuita de gas detectada (cuina) a les 09:30"
    assert found.explanation.text("es") == "Fuga de gas detectada (cocina) a las 09:30"


def test_low_battery_flag_shows_no_invented_level() -> None:
    (found,) = evaluate(PLAN, _state(), event(LowBattery(), local(12, 9, 30))).detections
    assert "%" not in found.explanation.text("en")
    (level,) = evaluate(PLAN, _state(), event(LowBattery(percent=8), local(12, 9))).detections
    assert "8 %" in level.explanation.text("en")


def test_unknown_action_names_the_action_for_the_operator() -> None:
    body = DeviceFault(fault="unknown_action", detail="arm_all_zones")
    (found,) = evaluate(PLAN, _state(), event(body, local(12, 9, 30))).detections
    assert found.category.value == "technical"
    for language in ("ca", "es", "en"):
        assert "arm_all_zones" in found.explanation.text(language)


def test_front_door_at_night_is_night_wandering_but_not_by_day() -> None:
    at_night = initial_state(PLAN, HOME, local(13, 0, 0))
    night = evaluate(PLAN, at_night, event(DoorOpen(door="front"), local(13, 2, 10)))
    assert [d.rule for d in night.detections] == [RuleKind.NIGHT_DOOR]
    assert "02:10" in night.detections[0].explanation.text("en")
    day = evaluate(PLAN, _state(), event(DoorOpen(door="front"), local(12, 11, 0)))
    assert day.detections == ()
    fridge = evaluate(PLAN, at_night, event(DoorOpen(door="fridge"), local(13, 2, 10)))
    assert fridge.detections == ()


def test_prompt_help_answer_is_never_ignored_even_without_a_pending_prompt() -> None:
    answer = PromptAnswer(prompt_id="unknown", answer="help")
    result = evaluate(PLAN, _state(), event(answer, local(12, 9, 0)))
    assert [d.rule for d in result.detections] == [RuleKind.PROMPT_HELP]
    assert result.detections[0].priority is Priority.CRITICAL


def test_low_battery_can_be_switched_off() -> None:
    from alerts import TechnicalSettings

    plan = CarePlan(RESIDENT, technical=TechnicalSettings(low_battery=False))
    state = initial_state(plan, HOME, local(12, 6))
    assert evaluate(plan, state, event(LowBattery(percent=5), local(12, 9))).detections == ()


def test_event_for_another_resident_is_refused() -> None:
    from alerts import DeviceType, HomeEvent

    other = HomeEvent(
        home_id=HOME,
        resident_id="someone-else",
        device_id="d",
        device_type=DeviceType.MOTION,
        message_id="m",
        at=local(12, 9),
        body=Motion(),
    )
    with pytest.raises(AlertsValueError, match="someone-else"):
        evaluate(PLAN, _state(), other)


def test_naive_times_are_refused() -> None:
    from datetime import datetime

    with pytest.raises(AlertsValueError, match="timezone-aware"):
        initial_state(PLAN, HOME, datetime(2026, 1, 12, 9))
    with pytest.raises(AlertsValueError, match="timezone-aware"):
        event(Motion(), datetime(2026, 1, 12, 9))


def test_late_event_is_applied_at_the_cursor_not_dropped() -> None:
    state = evaluate(PLAN, _state(), event(Motion(), local(12, 10))).state
    late = evaluate(PLAN, state, event(Panic(), local(12, 9)))
    (found,) = late.detections
    assert found.rule is RuleKind.PANIC
    assert found.at == local(12, 10)
    assert late.state.cursor == local(12, 10)


def test_rules_do_not_mutate_their_input() -> None:
    state = _state()
    before = (state, state.today)
    evaluate(PLAN, state, event(Motion(), local(12, 9)))
    assert (state, state.today) == before
    assert state.last_activity_at is None
    assert timedelta(0) == state.cursor - local(12, 6)


# One of each event the rules know, but a carephone's unit event (only some of its kinds are
# someone at home).
_ONE_OF_EACH = (
    Panic(), Fall(), FallCancelled(), Smoke(), CarbonMonoxide(ppm=120.0), Gas(), Flood(),
    CheckIn(), DoorOpen(), DoorClose(), Motion(), BedExit(), BedReturn(),
    Temperature(celsius=21.0), LowBattery(), Tamper(), PowerLost(),
    DeviceFault(fault="trouble"), MedicationTaken(schedule="insulina 08:00"),
    MedicationMissed(schedule="insulina 08:00"), PromptAnswer(prompt_id="p1", answer="fine"),
)  # fmt: skip


def test_activity_event_types_are_the_events_that_restart_the_inactivity_timers() -> None:
    """``ACTIVITY_EVENT_TYPES`` (what the family's "last seen active" counts) is exactly the
    events whose rule registers activity."""
    rules = {type(body) for body in _ONE_OF_EACH} | {UnitEvent}
    assert rules == set(events_module._HANDLERS)
    at = local(12, 9, 0)
    registering = set()
    for body in _ONE_OF_EACH:
        state = evaluate(PLAN, _state(), event(body, at)).state
        if state.last_activity_at == at:
            registering.add(event_type(body))
    assert registering == ACTIVITY_EVENT_TYPES
