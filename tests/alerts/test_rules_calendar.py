"""Schedule rules at every time of day and on the awkward days of the calendar.

Monitoring starts at each named instant of ``tests/instants.py`` (night, morning, noon,
evening, both 2027 Europe/Madrid DST days, New Year's Eve, 28 February 2028); the expected
deadlines are written out in UTC, so a deadline that drifts by the DST hour or misses a
day fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from alerts import (
    BaselineSettings,
    CarePlan,
    CheckInSettings,
    InactivitySettings,
    RuleKind,
    TimeWindow,
    evaluate,
    initial_state,
    tick,
)
from protocol import CheckIn, Motion
from tests.alerts.helpers import HOME, RESIDENT, event
from tests.instants import (
    DST_AUTUMN,
    DST_SPRING,
    EVENING,
    LEAP_DAY,
    MORNING,
    NIGHT,
    NOON,
    YEAR_END,
)

# The first check-in deadline (11:00 in Barcelona) strictly after monitoring starts.
CHECK_IN_DEADLINES = [
    pytest.param(NIGHT, datetime(2027, 1, 14, 10, 0, tzinfo=UTC), id="night"),
    pytest.param(MORNING, datetime(2027, 1, 14, 10, 0, tzinfo=UTC), id="morning"),
    pytest.param(NOON, datetime(2027, 1, 15, 10, 0, tzinfo=UTC), id="noon"),
    pytest.param(EVENING, datetime(2027, 1, 15, 10, 0, tzinfo=UTC), id="evening"),
    pytest.param(DST_SPRING, datetime(2027, 3, 28, 9, 0, tzinfo=UTC), id="dst-spring"),  # CEST
    pytest.param(DST_AUTUMN, datetime(2027, 10, 31, 10, 0, tzinfo=UTC), id="dst-autumn"),  # CET
    pytest.param(YEAR_END, datetime(2028, 1, 1, 10, 0, tzinfo=UTC), id="year-end"),
    pytest.param(LEAP_DAY, datetime(2028, 2, 29, 10, 0, tzinfo=UTC), id="leap-day"),
]

# The end of the first 07:00–10:00 activity window after monitoring starts, and whether a
# resident last seen at the start is an inactivity alarm there (not if monitoring began
# inside the window: it was not watched whole).
WINDOW_ENDS = [
    pytest.param(NIGHT, datetime(2027, 1, 14, 9, 0, tzinfo=UTC), True, id="night"),
    pytest.param(MORNING, datetime(2027, 1, 14, 9, 0, tzinfo=UTC), False, id="morning"),
    pytest.param(NOON, datetime(2027, 1, 15, 9, 0, tzinfo=UTC), True, id="noon"),
    pytest.param(EVENING, datetime(2027, 1, 15, 9, 0, tzinfo=UTC), True, id="evening"),
    pytest.param(DST_SPRING, datetime(2027, 3, 28, 8, 0, tzinfo=UTC), True, id="dst-spring"),
    pytest.param(DST_AUTUMN, datetime(2027, 10, 31, 9, 0, tzinfo=UTC), True, id="dst-autumn"),
    pytest.param(YEAR_END, datetime(2028, 1, 1, 9, 0, tzinfo=UTC), True, id="year-end"),
    pytest.param(LEAP_DAY, datetime(2028, 2, 29, 9, 0, tzinfo=UTC), True, id="leap-day"),
]

QUIET = dict(
    baseline=BaselineSettings(enabled=False),
    # A period longer than any test: only the window or the check-in can fire.
    inactivity=InactivitySettings(period=timedelta(days=3), windows=(), prompt_first=False),
)


def _rules(plan: CarePlan, state: object, now: datetime) -> list[RuleKind]:
    return [d.rule for d in tick(plan, state, now).detections]  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "deadline"), CHECK_IN_DEADLINES)
def test_a_missed_check_in_is_found_at_the_local_deadline(
    start: datetime, deadline: datetime
) -> None:
    plan = CarePlan(
        RESIDENT, check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)), **QUIET
    )
    state = initial_state(plan, HOME, start)
    assert _rules(plan, state, deadline - timedelta(seconds=1)) == []
    found = tick(plan, state, deadline).detections
    assert [(d.rule, d.at) for d in found] == [(RuleKind.MISSED_CHECK_IN, deadline)]
    assert found[0].explanation.text("en") == 'No "I\'m OK" check-in by 11:00; last one —'


@pytest.mark.parametrize(("start", "deadline"), CHECK_IN_DEADLINES)
def test_a_check_in_inside_the_window_counts_on_every_day(
    start: datetime, deadline: datetime
) -> None:
    plan = CarePlan(
        RESIDENT, check_in=CheckInSettings(enabled=True, deadlines=(time(11, 0),)), **QUIET
    )
    state = initial_state(plan, HOME, start)
    # "I'm OK" a minute before the deadline (after tick to the minute before it).
    state = tick(plan, state, deadline - timedelta(minutes=1)).state
    state = evaluate(plan, state, event(CheckIn(), deadline - timedelta(minutes=1))).state
    assert _rules(plan, state, deadline + timedelta(minutes=1)) == []


@pytest.mark.parametrize(("start", "end", "alarm"), WINDOW_ENDS)
def test_an_activity_window_closes_at_its_local_end(
    start: datetime, end: datetime, alarm: bool
) -> None:
    plan = CarePlan(
        RESIDENT,
        baseline=BaselineSettings(enabled=False),
        inactivity=InactivitySettings(
            period=timedelta(days=3),
            windows=(TimeWindow(time(7, 0), time(10, 0)),),
            prompt_first=False,
        ),
    )
    state = initial_state(plan, HOME, start)
    state = evaluate(plan, state, event(Motion(), start)).state  # last seen at the start
    assert _rules(plan, state, end - timedelta(seconds=1)) == []
    assert _rules(plan, state, end) == ([RuleKind.INACTIVITY] if alarm else [])
