"""Property tests of the rules: when the hub ticks does not change what is found,
and every panic press gives exactly one panic detection."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import CarePlan, CheckInSettings, RuleKind, evaluate, initial_state, tick
from protocol import BedExit, BedReturn, CheckIn, DoorOpen, Motion, Panic, Temperature
from tests.alerts.helpers import HOME, RESIDENT, event, local

# The catch-up bound (24 h by default) deliberately forgets older timers; it is tested
# on its own, so here it is wider than the timelines.
PLAN = CarePlan(RESIDENT, check_in=CheckInSettings(enabled=True), max_catch_up=timedelta(days=3))
START = local(12, 0)
BODIES = [
    Motion(),
    Panic(),
    CheckIn(),
    DoorOpen(),
    BedExit(),
    BedReturn(),
    Temperature(celsius=10.0, room="hall"),
    Temperature(celsius=21.0, room="hall"),
]

timeline = st.lists(
    st.tuples(st.integers(min_value=0, max_value=48 * 60), st.sampled_from(range(len(BODIES)))),
    max_size=25,
)
ticks = st.lists(st.integers(min_value=0, max_value=48 * 60), max_size=10)


def _run(items, tick_minutes):
    state = initial_state(PLAN, HOME, START)
    found = []
    steps = sorted([(m, 0, i) for m, i in items] + [(m, 1, -1) for m in tick_minutes])
    for minute, kind, index in steps:
        at = START + timedelta(minutes=minute)
        if kind == 0:
            result = evaluate(PLAN, state, event(BODIES[index], at))
        else:
            result = tick(PLAN, state, at)
        state = result.state
        found.extend((d.rule, d.at, d.explanation) for d in result.detections)
    result = tick(PLAN, state, START + timedelta(days=2))
    found.extend((d.rule, d.at, d.explanation) for d in result.detections)
    return found


@settings(max_examples=40, deadline=None)
@given(items=timeline, tick_minutes=ticks)
def test_extra_ticks_do_not_change_what_is_detected(items, tick_minutes) -> None:
    assert _run(items, tick_minutes) == _run(items, [])


@settings(max_examples=40, deadline=None)
@given(items=timeline)
def test_every_panic_press_is_detected_once(items) -> None:
    found = _run(items, [])
    presses = sum(1 for _, i in items if isinstance(BODIES[i], Panic))
    assert sum(1 for rule, _, _ in found if rule is RuleKind.PANIC) == presses
