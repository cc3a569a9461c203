"""Incidents the simulator can inject, and the ground truth it records for each.

Rule names (``Incident.rule``) are the alarm rules that should catch an incident; the
alert engine maps them to its own rules. ``also`` lists rules that may legitimately
fire as a consequence (a resident who stays in bed also misses the check-in), so a
scorer does not count them as false alarms.

``start`` is when the condition becomes observable in the home (the fall, the door
opening, the planned waking time that passes with no movement, the check-in deadline,
the first reading beyond the thermometer's threshold, the last message of a device
that went silent); ``end`` is when it is over (help arrives, back in bed, cleared).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum


class IncidentKind(StrEnum):
    """What can go wrong (or almost wrong) in a simulated home."""

    FALL = "fall"
    FALL_CANCELLED = "fall_cancelled"
    PANIC = "panic"
    NO_ACTIVITY_AFTER_WAKE = "no_activity_after_wake"
    NIGHT_WANDERING = "night_wandering"
    NOT_BACK_TO_BED = "not_back_to_bed"
    MISSED_CHECK_IN = "missed_check_in"
    SMOKE = "smoke"
    CO = "co"
    FLOOD = "flood"
    TEMPERATURE_HIGH = "temperature_high"
    TEMPERATURE_LOW = "temperature_low"
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"


# kind -> (rule that should catch it, an alarm is expected, rules that may also fire)
RULES: dict[IncidentKind, tuple[str, bool, tuple[str, ...]]] = {
    IncidentKind.FALL: ("fall", True, ("inactivity",)),
    IncidentKind.FALL_CANCELLED: ("fall", False, ()),
    IncidentKind.PANIC: ("panic", True, ()),
    IncidentKind.NO_ACTIVITY_AFTER_WAKE: ("inactivity", True, ("missed_check_in",)),
    IncidentKind.NIGHT_WANDERING: ("night_wandering", True, ("not_back_to_bed",)),
    IncidentKind.NOT_BACK_TO_BED: ("not_back_to_bed", True, ()),
    IncidentKind.MISSED_CHECK_IN: ("missed_check_in", True, ()),
    IncidentKind.SMOKE: ("smoke", True, ()),
    IncidentKind.CO: ("co", True, ()),
    IncidentKind.FLOOD: ("flood", True, ()),
    IncidentKind.TEMPERATURE_HIGH: ("room_temperature", True, ()),
    IncidentKind.TEMPERATURE_LOW: ("room_temperature", True, ()),
    IncidentKind.DEVICE_OFFLINE: ("device_offline", True, ()),
    IncidentKind.LOW_BATTERY: ("low_battery", True, ()),
}

# Incidents that an alarm must catch quickly; the benchmark's "critical" set.
CRITICAL_KINDS = frozenset(
    {
        IncidentKind.FALL,
        IncidentKind.PANIC,
        IncidentKind.NO_ACTIVITY_AFTER_WAKE,
        IncidentKind.NIGHT_WANDERING,
        IncidentKind.NOT_BACK_TO_BED,
        IncidentKind.SMOKE,
        IncidentKind.CO,
        IncidentKind.FLOOD,
    }
)

DEFAULT_DURATION: dict[IncidentKind, timedelta] = {
    IncidentKind.FALL: timedelta(minutes=45),
    IncidentKind.FALL_CANCELLED: timedelta(seconds=15),
    IncidentKind.PANIC: timedelta(minutes=20),
    IncidentKind.NO_ACTIVITY_AFTER_WAKE: timedelta(hours=4),
    IncidentKind.NIGHT_WANDERING: timedelta(minutes=40),
    IncidentKind.NOT_BACK_TO_BED: timedelta(0),  # until the morning
    IncidentKind.MISSED_CHECK_IN: timedelta(0),  # until the end of the day
    IncidentKind.SMOKE: timedelta(minutes=12),
    IncidentKind.CO: timedelta(minutes=30),
    IncidentKind.FLOOD: timedelta(minutes=40),
    IncidentKind.TEMPERATURE_HIGH: timedelta(hours=6),
    IncidentKind.TEMPERATURE_LOW: timedelta(hours=6),
    IncidentKind.DEVICE_OFFLINE: timedelta(hours=6),
    IncidentKind.LOW_BATTERY: timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    """A request to inject an incident.

    ``day`` counts from the simulation's first day; ``at`` is local time (``None``: a
    plausible time drawn from the seed); ``device_id`` chooses the device for
    offline/low-battery/temperature incidents (``None``: a sensible default).
    """

    kind: IncidentKind
    day: int = 0
    at: time | None = None
    duration: timedelta | None = None
    device_id: str | None = None

    def __post_init__(self) -> None:
        if self.day < 0:
            raise ValueError("incident day must be >= 0")
        if self.duration is not None and self.duration < timedelta(0):
            raise ValueError("incident duration must not be negative")


@dataclass(frozen=True, slots=True)
class Incident:
    """Ground truth of one injected incident (UTC times)."""

    kind: IncidentKind
    rule: str
    expect_alarm: bool
    also: tuple[str, ...]
    home_id: str
    resident_id: str
    start: datetime
    end: datetime
    device_id: str | None = None
    room: str | None = None
    detail: str = ""


def ground_truth(
    kind: IncidentKind,
    *,
    home_id: str,
    resident_id: str,
    start: datetime,
    end: datetime,
    device_id: str | None = None,
    room: str | None = None,
    detail: str = "",
    expect_alarm: bool | None = None,
) -> Incident:
    """Build an :class:`Incident` with the rule table filled in."""
    rule, expected, also = RULES[kind]
    return Incident(
        kind=kind,
        rule=rule,
        expect_alarm=expected if expect_alarm is None else expect_alarm,
        also=also,
        home_id=home_id,
        resident_id=resident_id,
        start=start,
        end=max(end, start),
        device_id=device_id,
        room=room,
        detail=detail,
    )


def plan_incidents(
    seed: int | str,
    days: int,
    *,
    rate_per_day: float = 0.25,
    kinds: tuple[IncidentKind, ...] | None = None,
) -> list[IncidentSpec]:
    """A reproducible mix for benchmarks: at most one incident a day, each day with
    probability ``rate_per_day``, kinds drawn uniformly from ``kinds`` (default: all)."""
    if not 0.0 <= rate_per_day <= 1.0:
        raise ValueError("rate_per_day must be between 0 and 1")
    rng = random.Random(f"incidents:{seed}")
    choices = kinds or tuple(IncidentKind)
    return [
        IncidentSpec(kind=rng.choice(choices), day=day)
        for day in range(days)
        if rng.random() < rate_per_day
    ]
