"""The per-resident care plan: which rules run and with which settings.

Defaults are the service's usual ones; every value is checked when the plan is built
(:class:`~alerts.errors.CarePlanError` says which setting and why). Times of day are
the resident's LOCAL time (``timezone``, Europe/Madrid by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.errors import CarePlanError
from alerts.i18n import LANGUAGES, Language

MIN_INACTIVITY_PERIOD = timedelta(minutes=30)


def _positive(name: str, value: timedelta, minimum: timedelta = timedelta(0)) -> None:
    if value <= minimum:
        raise CarePlanError(f"{name} must be more than {minimum}, got {value}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """From ``start`` to ``end`` local time; may cross midnight (23:00–07:00)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise CarePlanError(f"time window {self.start}–{self.end} is empty")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CarePlanError("time window bounds are local wall-clock times without tzinfo")

    @property
    def crosses_midnight(self) -> bool:
        """True for windows like 23:00–07:00."""
        return self.end < self.start

    def contains(self, moment: time) -> bool:
        """Is local ``moment`` inside the window (start included, end excluded)?"""
        if self.crosses_midnight:
            return moment >= self.start or moment < self.end
        return self.start <= moment < self.end

    def label(self) -> str:
        """ "07:00–10:00"."""
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class InactivitySettings:
    """No movement for ``period``, or none inside an expected-activity window."""

    enabled: bool = True
    period: timedelta = timedelta(hours=12)
    windows: tuple[TimeWindow, ...] = (TimeWindow(time(7, 0), time(10, 0)),)
    # Ask on the tablet first; the alarm comes if nobody answers within prompt_timeout.
    prompt_first: bool = True
    prompt_timeout: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.period < MIN_INACTIVITY_PERIOD:
            raise CarePlanError(
                f"inactivity period must be at least {MIN_INACTIVITY_PERIOD}, got {self.period}"
            )
        _positive("inactivity prompt_timeout", self.prompt_timeout)
        for window in self.windows:
            if window.crosses_midnight:
                raise CarePlanError(
                    f"inactivity window {window.label()} crosses midnight; split it in two"
                )


@dataclass(frozen=True, slots=True)
class CheckInSettings:
    """Daily "I'm OK" deadlines; a check-in counts within ``opens_before`` the deadline."""

    enabled: bool = False
    deadlines: tuple[time, ...] = (time(11, 0),)
    opens_before: timedelta = timedelta(hours=10)

    def __post_init__(self) -> None:
        _positive("check-in opens_before", self.opens_before)
        if self.enabled and not self.deadlines:
            raise CarePlanError("check-in is enabled but has no deadline")

    def window_opens(self, due: datetime, tz: ZoneInfo) -> datetime:
        """From when a check-in counts for the deadline falling at ``due``: ``opens_before``
        it and, with several deadlines a day, not before the previous deadline (each one
        needs its own "I'm OK": the one that met the morning's does not answer the
        evening's). The missed check-in rule applies it; the tablet, which cannot import
        ``alerts``, mirrors it in ``tablet_app.wording.next_deadline`` (ADR 0183)."""
        opens = due - self.opens_before
        if len(self.deadlines) > 1:
            previous = self._previous_deadline(due, tz)
            if previous is not None:
                opens = max(opens, previous)
        return opens

    def covers(self, last: datetime | None, due: datetime, tz: ZoneInfo) -> bool:
        """Whether a check-in at ``last`` answers the deadline falling at ``due``."""
        return last is not None and last >= self.window_opens(due, tz)

    def _previous_deadline(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """The latest deadline before ``at`` (today's or yesterday's, local time)."""
        here = at.astimezone(tz)
        candidates = [
            datetime.combine(day, deadline, tzinfo=tz)
            for day in (here.date(), here.date() - timedelta(days=1))
            for deadline in self.deadlines
        ]
        before = [c for c in candidates if c < at]
        return max(before) if before else None


@dataclass(frozen=True, slots=True)
class NightSettings:
    """Night wandering: front door opened at night; out of bed and not back in time."""

    window: TimeWindow = TimeWindow(time(23, 0), time(7, 0))
    door_alarm: bool = True
    bed_alarm: bool = True
    bed_return: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        _positive("bed_return", self.bed_return, timedelta(minutes=1) - timedelta(seconds=1))


@dataclass(frozen=True, slots=True)
class TemperatureSettings:
    """Room temperature outside ``low``–``high`` °C for longer than ``duration``."""

    enabled: bool = True
    low: float = 16.0
    high: float = 32.0
    duration: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise CarePlanError(f"temperature low {self.low} must be below high {self.high}")
        _positive("temperature duration", self.duration)


@dataclass(frozen=True, slots=True)
class MedicationSchedule:
    """A named dose due at a local time, every day or on some weekdays (0 = Monday), from
    ``start`` to ``end`` (local dates, both included; None: open)."""

    name: str
    due: time
    days: tuple[int, ...] = ()
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 40:
            raise CarePlanError(f"medication schedule name {self.name!r} must be 1–40 characters")
        if any(not 0 <= d <= 6 for d in self.days):
            raise CarePlanError(f"medication days are 0 (Monday) to 6 (Sunday), got {self.days}")
        if self.start and self.end and self.end < self.start:
            raise CarePlanError(f"medication {self.name!r} ends before it starts")

    def on(self, day: date) -> bool:
        """Is a dose due on local ``day``?"""
        if self.start is not None and day < self.start:
            return False
        if self.end is not None and day > self.end:
            return False
        return not self.days or day.weekday() in self.days


MISSED_TO = ("centre", "family", "both")
# A dose named by its time only ("08:00"): a pill dispenser's compartment.
_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True, slots=True)
class MedicationSettings:
    """Alarm when a dose is not acknowledged within ``ack_timeout`` of its due time."""

    schedules: tuple[MedicationSchedule, ...] = ()
    ack_timeout: timedelta = timedelta(minutes=60)
    # A confirmation this long before the due time still counts (dose taken early).
    early: timedelta = timedelta(minutes=60)
    # At the due time the tablet shows and speaks the reminder (a "medication" prompt).
    remind: bool = False
    # Who hears of a missed dose: the centre (an alarm), the family (a notice to the members
    # who agreed to hear of alarms; an alarm when nobody did), or both.
    missed_to: str = "centre"

    def __post_init__(self) -> None:
        _positive("medication ack_timeout", self.ack_timeout)
        if self.missed_to not in MISSED_TO:
            raise CarePlanError(
                f"missed_to is one of {', '.join(MISSED_TO)}, not {self.missed_to!r}"
            )
        names = [s.name for s in self.schedules]
        if len(names) != len(set(names)):
            raise CarePlanError(f"medication schedule names must be unique: {names}")

    def confirmed_by(self, schedule: str, at: datetime) -> tuple[tuple[str, date], ...]:
        """The doses (name, local day) that a ``medication_taken`` naming ``schedule``,
        confirmed at ``at`` (aware, in the resident's zone), confirms.

        - A dose's name (what the tablet sends): that dose, on ``at``'s day.
        - ``HH:MM`` (a pill dispenser's compartment knows its time, not the medicine): every
          dose due at that time on ``at``'s day — the compartment holds all of them.
        - Empty (a dispenser that only says "a dose was taken"): the doses due nearest ``at``
          among those whose window (``early`` before the due time to ``ack_timeout`` after)
          holds it; none when no dose is near (a stray report confirms nothing).
        - Anything else: that name as given (a dose the plan no longer lists counts nowhere).
        """
        day = at.date()
        if schedule in {s.name for s in self.schedules} or (
            schedule and not _HHMM.fullmatch(schedule)
        ):
            return ((schedule, day),)
        if schedule:
            due = time(int(schedule[:2]), int(schedule[3:]))
            return tuple((s.name, day) for s in self.schedules if s.due == due and s.on(day))
        moment = at.astimezone(UTC)
        near: list[tuple[timedelta, str, date]] = []
        for offset in (-1, 0, 1):  # a window may cross midnight
            other = day + timedelta(days=offset)
            for s in self.schedules:
                if not s.on(other):
                    continue
                due_at = datetime.combine(other, s.due, tzinfo=at.tzinfo).astimezone(UTC)
                if due_at - self.early <= moment <= due_at + self.ack_timeout:
                    near.append((abs(moment - due_at), s.name, other))
        if not near:
            return ()
        best = min(gap for gap, _, _ in near)
        return tuple((name, other) for gap, name, other in near if gap == best)


@dataclass(frozen=True, slots=True)
class BaselineSettings:
    """The learned per-hour activity profile and when a day is compared with it."""

    enabled: bool = True
    history_days: int = 28
    min_days: int = 7
    day_start: time = time(6, 0)
    checkpoints: tuple[time, ...] = (time(12, 0), time(20, 0))
    # Flag when observed <= low_ratio * expected AND below mean - sigmas * std.
    low_ratio: float = 0.35
    sigmas: float = 3.0
    min_expected: float = 10.0
    night_high_ratio: float = 3.0
    night_min_observed: int = 30
    # Also beyond the most extreme past day: below lowest × r, above highest / r.
    beyond_extreme_ratio: float = 0.67

    def __post_init__(self) -> None:
        if not 1 <= self.min_days <= self.history_days <= 366:
            raise CarePlanError("baseline needs 1 <= min_days <= history_days <= 366")
        if not 0.0 < self.low_ratio < 1.0:
            raise CarePlanError(f"baseline low_ratio must be in (0, 1), got {self.low_ratio}")
        if not 0.0 < self.beyond_extreme_ratio <= 1.0:
            raise CarePlanError("baseline beyond_extreme_ratio must be in (0, 1]")
        if self.sigmas <= 0 or self.night_high_ratio <= 1.0:
            raise CarePlanError("baseline sigmas must be > 0 and night_high_ratio > 1")
        for checkpoint in self.checkpoints:
            if checkpoint <= self.day_start:
                raise CarePlanError(
                    f"baseline checkpoint {checkpoint} must be after day_start {self.day_start}"
                )


@dataclass(frozen=True, slots=True)
class TechnicalSettings:
    """Device supervision and maintenance alarms."""

    offline_grace: timedelta = timedelta(minutes=15)
    low_battery: bool = True

    def __post_init__(self) -> None:
        _positive("offline_grace", self.offline_grace, timedelta(seconds=-1))


@dataclass(frozen=True, slots=True)
class CarePlan:
    """Every rule setting of one resident, with the service's defaults."""

    resident_id: str
    language: Language = "ca"
    timezone: str = "Europe/Madrid"
    inactivity: InactivitySettings = field(default_factory=InactivitySettings)
    check_in: CheckInSettings = field(default_factory=CheckInSettings)
    night: NightSettings = field(default_factory=NightSettings)
    temperature: TemperatureSettings = field(default_factory=TemperatureSettings)
    medication: MedicationSettings = field(default_factory=MedicationSettings)
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    technical: TechnicalSettings = field(default_factory=TechnicalSettings)
    # After a hub outage, timers older than this are not replayed one by one.
    max_catch_up: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if not self.resident_id:
            raise CarePlanError("care plan needs a resident id")
        if self.language not in LANGUAGES:
            raise CarePlanError(f"language {self.language!r} is not one of {LANGUAGES}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CarePlanError(f"unknown time zone {self.timezone!r}") from None

    @property
    def tz(self) -> ZoneInfo:
        """The resident's time zone."""
        return ZoneInfo(self.timezone)
