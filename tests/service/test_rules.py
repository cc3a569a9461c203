"""Per-resident alarm rules set by people: validation (every bad input says what is wrong),
and each rule with non-default settings run through the alarm rules at fixed instants."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from alerts import CarePlan, RuleKind, evaluate, initial_state, next_deadline, tick
from hub.service.alarm_terms import PlanTerms, with_rules
from hub.service.errors import InvalidCarePlan
from hub.service.rules import (
    ResidentRules,
    effective_rules,
    parse_rule_changes,
    rule_defaults,
    rules_json,
)
from protocol import BedExit, BedReturn, CheckIn, DoorOpen, Motion, Temperature
from tests.alerts.helpers import HOME, RESIDENT, event, local

NOON = time(12, 0)


def _plan(**rules: Any) -> CarePlan:
    """The alarm rules' plan of a running service with a tablet and these settings."""
    overrides = parse_rule_changes(rules, {}, NOON)
    service = PlanTerms(NOON, True, True, rules=effective_rules(NOON, overrides))
    return with_rules(CarePlan(RESIDENT), service)


def test_no_change_is_the_care_levels_defaults() -> None:
    assert effective_rules(NOON, {}) == rule_defaults(NOON)
    defaults = rules_json(rule_defaults(time(10, 0)))
    assert defaults["check_in_deadlines"] == ["10:00"]
    assert defaults["morning_start"] == "07:00"
    plan = _plan()
    assert plan.inactivity.windows[0].label() == "07:00–10:00"
    assert plan.check_in.deadlines == (NOON,)
    assert plan.night.window.label() == "23:00–07:00"
    assert (plan.temperature.low, plan.temperature.high) == (16.0, 32.0)
    assert plan.baseline.low_ratio == CarePlan("x").baseline.low_ratio


def test_a_change_keeps_the_others_and_null_puts_the_default_back() -> None:
    first = parse_rule_changes({"morning_start": "09:00", "morning_end": "11:30"}, {}, NOON)
    assert first == {"morning_end": "11:30", "morning_start": "09:00"}
    second = parse_rule_changes({"bed": False, "morning_end": None}, first, NOON)
    assert second == {"bed": False, "morning_start": "09:00"}
    # Deadlines from a form ("19:00, 09:30") are sorted.
    listed = parse_rule_changes({"check_in_deadlines": "19:00, 09:30"}, {}, NOON)
    assert listed == {"check_in_deadlines": ["09:30", "19:00"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"morning_start": "10:00", "morning_end": "08:00"},
            "the morning window ends (08:00) before it starts (10:00)",
        ),
        ({"morning_start": "09:00", "morning_end": "09:00"}, "ends (09:00) before it starts"),
        ({"morning_start": "09:00", "morning_end": "09:10"}, "from 30 minutes to 8 hours"),
        ({"morning_start": "06:00", "morning_end": "20:00"}, "from 30 minutes to 8 hours"),
        ({"night_start": "23:00", "night_end": "23:00"}, "starts and ends at the same time"),
        ({"check_in_deadlines": ["25:00"]}, "25:00 is outside the day (00:00 to 23:59)"),
        ({"check_in_deadlines": ["09:60"]}, "09:60 is outside the day"),
        ({"check_in_deadlines": ["9"]}, "must be a time of day HH:MM"),
        ({"check_in_deadlines": []}, "from 1 to 4 check-in deadlines"),
        ({"check_in_deadlines": ["09:00", "09:00"]}, "listed twice"),
        ({"check_in_deadlines": ["08:00", "10:00", "12:00", "14:00", "16:00"]}, "1 to 4"),
        ({"check_in_deadlines": 9}, "must be a list of HH:MM times"),
        ({"morning_start": 7}, "morning start must be a time of day HH:MM"),
        ({"bed_return_min": 2}, "back in bed within 5 to 240 minutes, not 2"),
        ({"bed_return_min": "30"}, "whole number of minutes"),
        ({"bed_return_min": True}, "whole number of minutes"),
        ({"temperature_low": 25, "temperature_high": 20}, "low temperature (25 °C) must be below"),
        ({"temperature_high": 60}, "the high temperature is 5 to 40 °C, not 60"),
        ({"temperature_low": float("nan")}, "must be a number of °C"),
        ({"temperature_low": "cold"}, "must be a number of °C"),
        ({"inactivity": "no"}, "inactivity must be true or false"),
        ({"baseline_sensitivity": "extreme"}, "one of low, normal, high, not 'extreme'"),
        ({"wake_up": "08:00"}, "unknown rule settings: wake_up"),
    ],
)
def test_bad_settings_are_refused_in_words(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCarePlan) as refused:
        parse_rule_changes(change, {}, NOON)
    assert message in str(refused.value)


def test_rules_must_be_an_object() -> None:
    with pytest.raises(InvalidCarePlan, match="must be an object"):
        parse_rule_changes(["morning_start"], {}, NOON)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(InvalidCarePlan) as refused:
        parse_rule_changes({"bed_return_min": 1, "temperature_high": 99}, {}, NOON)
    assert "back in bed" in str(refused.value)
    assert "high temperature" in str(refused.value)


def test_a_stored_setting_that_no_longer_parses_does_not_stop_the_rules() -> None:
    assert effective_rules(NOON, {"morning_start": "soon"}) == rule_defaults(NOON)


# --------------------------------------------------------------- each rule, non-default


def test_a_late_riser_is_watched_from_nine_to_eleven_thirty() -> None:
    plan = _plan(morning_start="09:00", morning_end="11:30", check_in=False)
    state = initial_state(plan, HOME, local(11, 22))
    # The default window would have raised at 10:00.
    assert tick(plan, state, local(12, 10, 1)).detections == ()
    (found,) = tick(plan, state, local(12, 11, 30)).detections
    assert found.rule is RuleKind.INACTIVITY
    up = evaluate(plan, state, event(Motion(), local(12, 10, 45))).state
    assert tick(plan, up, local(12, 11, 31)).detections == ()


def test_inactivity_switched_off_raises_nothing() -> None:
    plan = _plan(inactivity=False, check_in=False)
    state = initial_state(plan, HOME, local(11, 22))
    assert tick(plan, state, local(12, 23)).detections == ()


def test_two_check_in_deadlines_each_raise() -> None:
    plan = _plan(check_in_deadlines=["09:30", "19:00"], inactivity=False)
    state = initial_state(plan, HOME, local(11, 22))
    (morning,) = tick(plan, state, local(12, 9, 30)).detections
    assert morning.rule is RuleKind.MISSED_CHECK_IN
    checked = evaluate(plan, state, event(CheckIn(), local(12, 9, 0))).state
    assert tick(plan, checked, local(12, 9, 31)).detections == ()
    (evening,) = tick(plan, checked, local(12, 19, 0)).detections
    assert evening.rule is RuleKind.MISSED_CHECK_IN
    assert "19:00" in evening.explanation.text("en")


def test_check_in_switched_off_raises_nothing_at_the_deadline() -> None:
    plan = _plan(check_in=False, inactivity=False)
    state = initial_state(plan, HOME, local(11, 22))
    assert tick(plan, state, local(12, 12, 1)).detections == ()


def test_a_night_worker_s_night_window_and_a_short_bed_return() -> None:
    plan = _plan(
        night_start="08:00", night_end="15:00", bed_return_min=10, inactivity=False, check_in=False
    )
    state = initial_state(plan, HOME, local(12, 6))
    # The front door at 09:00 is inside her night; at 23:00 it is not.
    (door,) = evaluate(plan, state, event(DoorOpen(door="front"), local(12, 9))).detections
    assert door.rule is RuleKind.NIGHT_DOOR
    assert evaluate(plan, state, event(DoorOpen(door="front"), local(12, 23))).detections == ()
    up = evaluate(plan, state, event(BedExit(), local(12, 10, 0))).state
    assert next_deadline(plan, up) == local(12, 10, 10)
    (bed,) = tick(plan, up, local(12, 10, 10)).detections
    assert bed.rule is RuleKind.BED_NOT_RETURNED
    back = evaluate(plan, up, event(BedReturn(), local(12, 10, 5))).state
    assert tick(plan, back, local(12, 10, 30)).detections == ()


def test_night_door_and_bed_switched_off() -> None:
    plan = _plan(night_door=False, bed=False, inactivity=False, check_in=False)
    state = initial_state(plan, HOME, local(12, 22))
    assert evaluate(plan, state, event(DoorOpen(door="front"), local(13, 2))).detections == ()
    up = evaluate(plan, state, event(BedExit(), local(13, 3))).state
    assert tick(plan, up, local(13, 4)).detections == ()


def test_temperature_thresholds_of_a_person_who_feels_the_cold() -> None:
    plan = _plan(temperature_low=19.5, temperature_high=28, inactivity=False, check_in=False)
    state = initial_state(plan, HOME, local(12, 6))
    # 18 °C is fine by default (16 °C); for her it is too cold after the duration.
    cold = evaluate(plan, state, event(Temperature(celsius=18.0, room="living"), local(12, 9)))
    (found,) = tick(plan, cold.state, local(12, 9, 30)).detections
    assert found.rule is RuleKind.TEMPERATURE
    assert "19.5" in found.explanation.text("en")
    hot = evaluate(plan, state, event(Temperature(celsius=29.0, room="living"), local(12, 15)))
    assert [d.rule for d in tick(plan, hot.state, local(12, 15, 30)).detections] == [
        RuleKind.TEMPERATURE
    ]
    off = _plan(temperature=False, inactivity=False, check_in=False)
    cold_off = evaluate(off, state, event(Temperature(celsius=5.0, room="living"), local(12, 9)))
    assert tick(off, cold_off.state, local(12, 11)).detections == ()


def test_baseline_sensitivity_and_switch() -> None:
    high = _plan(baseline_sensitivity="high").baseline
    low = _plan(baseline_sensitivity="low").baseline
    normal = _plan().baseline
    # More sensitive: a smaller drop (higher ratio, fewer deviations) is flagged.
    assert high.low_ratio > normal.low_ratio > low.low_ratio
    assert high.sigmas < normal.sigmas < low.sigmas
    assert not _plan(baseline=False).baseline.enabled


def test_check_in_needs_a_tablet_whatever_the_setting() -> None:
    rules = ResidentRules(check_in=True)
    no_tablet = PlanTerms(NOON, False, True, rules=rules)
    assert not with_rules(CarePlan(RESIDENT), no_tablet).check_in.enabled
    assert with_rules(CarePlan(RESIDENT), PlanTerms(NOON, True, True)).check_in.deadlines == (NOON,)
    assert timedelta(minutes=rules.bed_return_min) == CarePlan("x").night.bed_return


def test_every_refusal_has_its_text_in_every_language() -> None:
    import re
    from pathlib import Path

    from hub.service.api import CATALOG

    source = Path(__file__).resolve().parents[2] / "hub" / "service" / "rules.py"
    codes = set(re.findall(r'_(?:problem|wrong)\(\s*[^,]+,\s*f?"([a-z_{}]+)"', source.read_text()))
    codes |= {
        "temperature_low_range",
        "temperature_high_range",
    }  # built as f"temperature_{name}_range"
    codes.discard("temperature_{name}_range")
    assert len(codes) > 15
    for code in codes:
        for lang in ("ca", "es", "en"):
            assert CATALOG.text(f"rule_{code}", lang, **dict.fromkeys(
                ("start", "end", "max", "min", "value", "name", "names", "low", "high"), "x"
            ))  # fmt: skip
