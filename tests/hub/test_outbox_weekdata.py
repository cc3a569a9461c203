"""Counting a resident's records per local week (pure; no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.careplan import CheckInSettings, TimeWindow
from hub.signals.weekdata import (
    ResidentRecords,
    ServiceSpan,
    last_closed_week,
    monitored_weeks,
    resident_weeks,
    week_bounds,
    week_of,
    weekly_inputs,
)
from tests.instants import DST_AUTUMN, DST_SPRING, LEAP_DAY, NOON, YEAR_END

MADRID = ZoneInfo("Europe/Madrid")
WEEK = date(2026, 11, 16)  # a Monday; Madrid is UTC+1 in November


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID).astimezone(UTC)


def records(**changes: object) -> ResidentRecords:
    base = ResidentRecords(resident_id=7, zone=MADRID)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_week_helpers_use_local_mondays() -> None:
    # Monday 00:30 in Madrid is still Sunday 23:30 UTC: the week has just ended locally.
    assert last_closed_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), MADRID) == WEEK
    assert last_closed_week(datetime(2026, 11, 22, 22, 30, tzinfo=UTC), MADRID) == date(2026, 11, 9)
    assert week_of(date(2026, 11, 22)) == WEEK
    start, end = week_bounds(WEEK, MADRID)
    assert start == datetime(2026, 11, 15, 23, tzinfo=UTC)
    assert end - start == timedelta(days=7)


@pytest.mark.parametrize(
    ("now", "current", "closed", "hours"),
    [
        pytest.param(NOON, date(2027, 1, 11), date(2027, 1, 4), 168, id="thursday-noon"),
        # Sunday 01:30 CET, the day the clocks jump: that week is an hour short.
        pytest.param(DST_SPRING, date(2027, 3, 22), date(2027, 3, 15), 167, id="dst-spring"),
        # Monday 00:30 CEST just after it: the short week has closed.
        pytest.param(
            datetime(2027, 3, 28, 22, 30, tzinfo=UTC),
            date(2027, 3, 29),
            date(2027, 3, 22),
            168,
            id="after-dst-spring",
        ),
        # Sunday 02:30 CEST, the day the clocks go back: that week is an hour long.
        pytest.param(DST_AUTUMN, date(2027, 10, 25), date(2027, 10, 18), 169, id="dst-autumn"),
        # Friday 31 December 23:30: the ISO week runs on into 2028.
        pytest.param(YEAR_END, date(2027, 12, 27), date(2027, 12, 20), 168, id="year-end"),
        # Monday 28 February 2028 23:30: the week holds 29 February.
        pytest.param(LEAP_DAY, date(2028, 2, 28), date(2028, 2, 21), 168, id="leap-day"),
    ],
)
def test_weeks_at_awkward_instants(now: datetime, current: date, closed: date, hours: int) -> None:
    assert week_of(now.astimezone(MADRID).date()) == current
    assert last_closed_week(now, MADRID) == closed
    start, end = week_bounds(current, MADRID)
    assert start.astimezone(MADRID).time() == time(0)
    assert start <= now < end
    # Real elapsed time, not wall-clock difference: DST weeks are 167 or 169 hours.
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)


def test_active_hours_are_local_hours_with_movement() -> None:
    hours = {local(WEEK + timedelta(days=d), h) for d in range(7) for h in range(8, 18)}
    hours.add(local(WEEK - timedelta(days=1), 10))  # the Sunday before: another week
    hours.add(local(WEEK + timedelta(days=7), 0))  # next Monday 00:00: another week
    inputs = weekly_inputs(records(activity_hours=hours), WEEK)
    assert inputs.active_hours_per_day == 10.0
    assert inputs.week_start == WEEK


def test_night_events_after_midnight_belong_to_the_evening_before() -> None:
    night_hours = {
        local(WEEK, 2): 5,  # Monday 02:00: Sunday's night, the week before
        local(WEEK, 23): 1,  # Monday 23:00: Monday's night
        local(WEEK + timedelta(days=1), 3): 2,  # Tuesday 03:00: still Monday's night
        local(WEEK + timedelta(days=7), 2): 3,  # next Monday 02:00: Sunday's night, this week
        local(WEEK + timedelta(days=2), 12): 9,  # noon: not night
    }
    inputs = weekly_inputs(records(night_hours=night_hours), WEEK)
    assert inputs.night_events_per_night == round((1 + 2 + 3) / 7, 2)
    # A window that does not cross midnight counts by the event's own date.
    early = records(night_hours=night_hours, night=TimeWindow(time(1), time(5)))
    assert weekly_inputs(early, WEEK).night_events_per_night == round((5 + 2) / 7, 2)


def test_check_ins_count_in_the_window_before_each_deadline() -> None:
    plan = CheckInSettings(
        enabled=True, deadlines=(time(11), time(20)), opens_before=timedelta(hours=3)
    )
    arrived = [local(WEEK + timedelta(days=d), 9) for d in range(5)]  # Mon–Fri morning
    arrived.append(local(WEEK + timedelta(days=5), 7, 59))  # Saturday: too early
    arrived.append(local(WEEK + timedelta(days=6), 11, 1))  # Sunday: too late for 11:00
    arrived.append(local(WEEK + timedelta(days=6), 19, 0))  # ... but on time for 20:00
    inputs = weekly_inputs(records(check_in=plan, check_ins=arrived), WEEK)
    assert (inputs.check_ins_expected, inputs.check_ins_done) == (14, 6)
    disabled = weekly_inputs(records(check_ins=arrived), WEEK)
    assert (disabled.check_ins_expected, disabled.check_ins_done) == (0, 0)


def test_one_morning_check_in_does_not_count_for_the_evening_deadline_too() -> None:
    """The hub's rule (ADR 0183): each deadline of the day needs its own "I'm OK". A 09:00
    check-in lies within 10 h of 19:00, but before the 10:30 deadline it answered."""
    plan = CheckInSettings(
        enabled=True, deadlines=(time(10, 30), time(19)), opens_before=timedelta(hours=10)
    )
    mornings = [local(WEEK + timedelta(days=d), 9) for d in range(7)]
    inputs = weekly_inputs(records(check_in=plan, check_ins=mornings), WEEK)
    assert (inputs.check_ins_expected, inputs.check_ins_done) == (14, 7)
    both = sorted(mornings + [local(WEEK + timedelta(days=d), 18) for d in range(7)])
    inputs = weekly_inputs(records(check_in=plan, check_ins=both), WEEK)
    assert (inputs.check_ins_expected, inputs.check_ins_done) == (14, 14)


def test_alarms_contact_and_group_sessions() -> None:
    monday = WEEK
    inputs = weekly_inputs(
        records(
            alarms=[local(monday, 10), local(monday, 11), local(monday - timedelta(days=1), 9)],
            falls=[local(monday, 11)],
            message_hours={local(monday, 10): 4, local(monday + timedelta(days=3), 18): 2},
            calls=[local(monday, 12), local(monday + timedelta(days=7), 1)],
            group_moments=[
                (1, local(monday, 10)),
                (1, local(monday, 17)),  # same group, same day: one session
                (2, local(monday, 17)),
                (1, local(monday + timedelta(days=1), 9)),
            ],
        ),
        WEEK,
    )
    assert (inputs.alarms, inputs.falls) == (2, 1)
    assert (inputs.messages, inputs.calls, inputs.group_sessions) == (6, 1, 3)


def test_a_week_with_a_daylight_saving_change_keeps_local_hours() -> None:
    autumn = date(2026, 10, 19)  # Madrid leaves summer time on Sunday 25 October
    start, end = week_bounds(autumn, MADRID)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=169)
    hours = {local(autumn + timedelta(days=d), h) for d in range(7) for h in range(8, 18)}
    assert weekly_inputs(records(activity_hours=hours), autumn).active_hours_per_day == 10.0
    # Every hour of the 169-hour week: capped at 24 per day.
    every = {start.astimezone(UTC) + timedelta(hours=h) for h in range(169)}
    assert weekly_inputs(records(activity_hours=every), autumn).active_hours_per_day == 24.0


def test_only_the_weeks_the_service_covered_form_the_baseline() -> None:
    weeks = [WEEK - timedelta(weeks=k) for k in range(5, -1, -1)]
    start = week_bounds(weeks[1], MADRID)[0]
    span = ServiceSpan(known=True, active_from=start)
    assert monitored_weeks(records(service=span), weeks) == weeks[1:]
    # A hospital stay in the third week: the baseline starts again after it.
    stay = (start + timedelta(weeks=2, days=2), start + timedelta(weeks=2, days=4))
    paused = ServiceSpan(known=True, active_from=start, pauses=(stay,))
    assert monitored_weeks(records(service=paused), weeks) == weeks[4:]
    # Still in hospital: the week is not assessed at all.
    open_stay = ServiceSpan(known=True, active_from=start, pauses=((stay[0], None),))
    assert monitored_weeks(records(service=open_stay), weeks) == []
    assert resident_weeks(records(service=open_stay), weeks) == []
    # Discharged during the last week.
    ended = ServiceSpan(known=True, active_from=start, ended_at=local(WEEK, 12))
    assert monitored_weeks(records(service=ended), weeks) == []
    # Not yet active, and no record of the service at all.
    assert monitored_weeks(records(service=ServiceSpan(known=True)), weeks) == []
    assert monitored_weeks(records(), weeks) == weeks
    # A gap in the list of weeks ends the run too.
    assert monitored_weeks(records(), [weeks[0], *weeks[2:]]) == weeks[2:]


def test_a_week_must_start_on_monday() -> None:
    with pytest.raises(ValueError, match="Monday"):
        weekly_inputs(records(), WEEK + timedelta(days=1))
