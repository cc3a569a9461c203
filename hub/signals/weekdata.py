"""A resident's stored records turned into :class:`WeeklyInputs` (pure: no I/O, no clock).

:mod:`hub.signals.gather` reads the records of many residents at once; this module only
counts. Weeks are the resident's LOCAL weeks (Monday 00:00 in the care plan's time zone).

- **Activity**: hours of the week with at least one motion, door or bed event, per day.
- **Night events**: motion, bed-exit and door-open events inside the plan's night window,
  per night; an event after midnight belongs to the night that began the evening before.
  Events are read in hourly buckets, so a window bound that is not on the hour (23:30) is
  taken at the hour that contains it.
- **Check-ins**: one expected per check-in deadline and day while the plan's check-in is
  enabled; done if a check-in arrived in the ``opens_before`` window before the deadline
  (what the missed-check-in rule accepts).
- **Alarms**: care alarms raised in the week (technical ones left out); **falls**: fall alarms.
- **Social contact**: messages in the resident's direct conversations (both directions),
  answered calls, and group sessions: days on which the resident wrote in a group's chat or
  accepted one of its events (one per group and day).
- **Service**: only weeks in which the service ran all week count (see :func:`monitored_weeks`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.careplan import CheckInSettings, NightSettings, TimeWindow
from integrations.wsocial.signals import WeeklyInputs

ACTIVITY_TYPES: frozenset[str] = frozenset(
    {"motion", "door_open", "door_close", "bed_exit", "bed_return"}
)
NIGHT_TYPES: frozenset[str] = frozenset({"motion", "bed_exit", "door_open"})
WEEK = timedelta(weeks=1)
DEFAULT_ZONE = ZoneInfo("Europe/Madrid")


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def last_closed_week(now: datetime, zone: ZoneInfo) -> date:
    """The Monday of the last week that has ended at ``now`` (local weeks in ``zone``)."""
    return week_of(now.astimezone(zone).date()) - WEEK


def week_bounds(week_start: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local Monday 00:00 of ``week_start`` and of the week after, as aware datetimes."""
    return (
        datetime.combine(week_start, time(0), tzinfo=zone),
        datetime.combine(week_start + WEEK, time(0), tzinfo=zone),
    )


@dataclass(frozen=True)
class ServiceSpan:
    """When the resident was monitored: from ``active_from`` until ``ended_at``, minus pauses.

    ``active_from=None`` with ``known=False`` means the hub has no service record for the
    resident (registered outside the service lifecycle): every week counts.
    """

    known: bool = False
    active_from: datetime | None = None
    ended_at: datetime | None = None
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()

    def covers(self, start: datetime, end: datetime) -> bool:
        """Was the service running during all of ``[start, end)``?"""
        if not self.known:
            return True
        if self.active_from is None or self.active_from > start:
            return False
        if self.ended_at is not None and self.ended_at < end:
            return False
        return not any(
            paused < end and (resumed is None or resumed > start) for paused, resumed in self.pauses
        )


@dataclass
class ResidentRecords:
    """Everything the weekly counts need about one resident (timestamps aware UTC).

    ``*_hours`` map the start of a UTC hour to how many events fell in it.
    """

    resident_id: int
    lives_alone: bool = False
    zone: ZoneInfo = DEFAULT_ZONE
    night: TimeWindow = field(default_factory=lambda: NightSettings().window)
    check_in: CheckInSettings = field(default_factory=CheckInSettings)
    service: ServiceSpan = field(default_factory=ServiceSpan)
    # A motion, door or bed sensor in the home (or worn): without one, "0 active hours" would
    # be a false statement, not a measurement.
    activity_sensors: bool = False
    activity_hours: set[datetime] = field(default_factory=set)
    night_hours: dict[datetime, int] = field(default_factory=dict)
    check_ins: list[datetime] = field(default_factory=list)
    alarms: list[datetime] = field(default_factory=list)
    falls: list[datetime] = field(default_factory=list)
    message_hours: dict[datetime, int] = field(default_factory=dict)
    calls: list[datetime] = field(default_factory=list)
    # (group id, moment): the resident wrote in the group's chat or accepted its event.
    group_moments: list[tuple[int, datetime]] = field(default_factory=list)


@dataclass
class _Tally:
    """One local week's counts (built in one pass over the records, not once per week)."""

    active_hours: int = 0
    night_events: int = 0
    alarms: int = 0
    falls: int = 0
    messages: int = 0
    calls: int = 0
    sessions: set[tuple[int, date]] = field(default_factory=set)


def _night_of(moment: datetime, window: TimeWindow) -> date | None:
    """The local date of the evening whose night contains local ``moment`` (or ``None``)."""
    local = moment.time()
    if not window.contains(local):
        return None
    if window.crosses_midnight and local < window.end:
        return moment.date() - timedelta(days=1)
    return moment.date()


def _tallies(records: ResidentRecords) -> dict[date, _Tally]:
    tallies: defaultdict[date, _Tally] = defaultdict(_Tally)
    zone = records.zone

    def week(moment: datetime) -> _Tally:
        return tallies[week_of(moment.astimezone(zone).date())]

    for hour in records.activity_hours:
        week(hour).active_hours += 1
    for hour, count in records.night_hours.items():
        night = _night_of(hour.astimezone(zone), records.night)
        if night is not None:
            tallies[week_of(night)].night_events += count
    for moment in records.alarms:
        week(moment).alarms += 1
    for moment in records.falls:
        week(moment).falls += 1
    for hour, count in records.message_hours.items():
        week(hour).messages += count
    for moment in records.calls:
        week(moment).calls += 1
    for group, moment in records.group_moments:
        day = moment.astimezone(zone).date()
        tallies[week_of(day)].sessions.add((group, day))
    return tallies


def _check_ins(
    records: ResidentRecords, arrived: Sequence[datetime], week_start: date
) -> tuple[int, int]:
    settings = records.check_in
    if not settings.enabled:
        return 0, 0
    expected = done = 0
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        for deadline in settings.deadlines:
            due = datetime.combine(day, deadline, tzinfo=records.zone)
            expected += 1
            # The missed check-in rule's own window (alerts.careplan, ADR 0183): with two
            # deadlines a day, the morning's "I'm OK" does not count for the evening's too.
            first = bisect.bisect_left(arrived, settings.window_opens(due, records.zone))
            if first < len(arrived) and arrived[first] <= due:
                done += 1
    return expected, done


def weekly_inputs(
    records: ResidentRecords, week_start: date, *, _tally: _Tally | None = None
) -> WeeklyInputs:
    """The counts of one local week (``week_start`` must be a Monday)."""
    if week_start.weekday() != 0:
        raise ValueError("week_start must be a Monday")
    tally = _tally if _tally is not None else _tallies(records).get(week_start, _Tally())
    expected, done = _check_ins(records, sorted(records.check_ins), week_start)
    return WeeklyInputs(
        week_start=week_start,
        active_hours_per_day=round(min(24.0, tally.active_hours / 7), 2),
        night_events_per_night=round(tally.night_events / 7, 2),
        check_ins_expected=expected,
        check_ins_done=done,
        alarms=tally.alarms,
        falls=tally.falls,
        messages=tally.messages,
        calls=tally.calls,
        group_sessions=len(tally.sessions),
    )


def monitored_weeks(records: ResidentRecords, weeks: Sequence[date]) -> list[date]:
    """The longest run of consecutive ``weeks`` ending at the last one that the service
    covered entirely; empty if it did not cover the last week.

    A week in hospital or before the installation would look like a collapse of activity
    and contact; leaving it out (and the weeks before it) makes the baseline start again
    after a pause instead of raising false signals.
    """
    ordered = sorted(weeks)
    run: list[date] = []
    for week in reversed(ordered):
        if run and run[-1] - week != WEEK:
            break
        if not records.service.covers(*week_bounds(week, records.zone)):
            break
        run.append(week)
    return run[::-1]


def resident_weeks(records: ResidentRecords, weeks: Sequence[date]) -> list[WeeklyInputs]:
    """:func:`weekly_inputs` of every monitored week (oldest first; the last is assessed)."""
    tallies = _tallies(records)
    return [
        weekly_inputs(records, week, _tally=tallies.get(week, _Tally()))
        for week in monitored_weeks(records, weeks)
    ]
