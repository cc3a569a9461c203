"""The learned activity baseline: learning, a quiet day, a restless night, no false flag."""

from __future__ import annotations

import random

from alerts import CarePlan, InactivitySettings, RuleKind, evaluate, initial_state, tick
from alerts.baseline import compare, usual_first_activity
from alerts.state import DayActivity
from protocol import Motion
from tests.alerts.helpers import HOME, RESIDENT, event, local

PLAN = CarePlan(RESIDENT, inactivity=InactivitySettings(enabled=False))


def _normal_day(state, day: int, rng: random.Random, scale: float = 1.0):
    """About 8 movements an hour from 08:00 to 22:00, one or two at night."""
    found = []
    for hour in range(24):
        count = rng.randint(6, 10) if 8 <= hour < 22 else rng.randint(0, 1)
        count = round(count * scale)
        for i in range(count):
            minute = min(59, (i * 60) // max(count, 1) + rng.randint(0, 3))
            result = evaluate(PLAN, state, event(Motion(), local(day, hour, minute)))
            state = result.state
            found.extend(result.detections)
    return state, found


def _learned(days: int = 10):
    rng = random.Random(7)
    state = initial_state(PLAN, HOME, local(1, 0))
    flags = []
    for day in range(1, days + 1):
        state, found = _normal_day(state, day, rng)
        flags.extend(found)
    return state, flags, rng


def test_normal_days_are_learned_and_not_flagged() -> None:
    state, flags, _ = _learned()
    assert flags == []
    day_state = tick(PLAN, state, local(11, 0, 1)).state
    assert len(day_state.history) == 10
    assert 8 * 60 <= (usual_first_activity(day_state.history, 7) or 0) <= 8 * 60 + 4


def test_a_very_quiet_morning_is_flagged_with_what_differs() -> None:
    state, _, _ = _learned()
    # Day 11: almost nothing until noon.
    state = evaluate(PLAN, state, event(Motion(), local(11, 9, 30))).state
    result = tick(PLAN, state, local(11, 12, 0))
    (found,) = result.detections
    assert found.rule is RuleKind.BASELINE
    text = found.explanation.text("en")
    assert text.startswith("Very low activity: 1 movements from 06:00 to 12:00; usually")
    assert "most different hours" in text
    # Flagged once a day, not at every checkpoint.
    assert tick(PLAN, result.state, local(11, 20, 0)).detections == ()


def test_a_restless_night_is_flagged() -> None:
    state, _, _ = _learned()
    for minute in range(0, 60, 2):
        state = evaluate(PLAN, state, event(Motion(), local(11, 3, minute))).state
    (found,) = tick(PLAN, state, local(11, 6, 0)).detections
    assert found.rule is RuleKind.BASELINE
    assert found.explanation.text("ca").startswith("Nit inquieta: 30 moviments")


def test_not_enough_history_means_no_baseline_alarm() -> None:
    state, _, _ = _learned(days=3)
    assert tick(PLAN, state, local(4, 20)).detections == ()


def test_a_partly_watched_first_day_is_not_learned() -> None:
    state = initial_state(PLAN, HOME, local(1, 15))
    state = tick(PLAN, state, local(2, 0, 1)).state
    assert state.history == ()


def test_compare_reports_the_largest_hourly_gaps() -> None:
    usual = DayActivity(local(1, 0).date(), tuple([0] * 8 + [10] * 14 + [0] * 2))
    today = DayActivity(local(2, 0).date(), tuple([0] * 8 + [10, 0, 10, 2] + [0] * 12))
    departure = compare(today, (usual, usual), 6, 12)
    assert departure.expected == 40
    assert departure.observed == 22
    assert [h for h, _, _ in departure.worst_hours] == [9, 11]
    assert departure.change_percent == -45
