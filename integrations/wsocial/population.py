"""A simulated population: weekly inputs for the signals, alarms for the open data, demo rows.

Deterministic for a given seed. Profiles change at ``change_week`` so the signals can be
validated on people whose lives change (an active resident becoming isolated, activity
declining, restless nights, a fall) next to steady ones.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from integrations.wsocial.events import AlarmKind, AlarmOutcomeCode
from integrations.wsocial.signals import WeeklyInputs

Profile = Literal["steady", "isolating", "declining", "restless", "faller"]
PROFILES: tuple[Profile, ...] = ("steady", "isolating", "declining", "restless", "faller")

# Seven of the 109 basic social-services areas, with made-up sizes; the last is small on
# purpose so the open-data export has cells to suppress.
ABSS_AREAS: dict[str, int] = {
    "ABSS-BCN-01": 60,
    "ABSS-BCN-02": 45,
    "ABSS-BDN-01": 35,
    "ABSS-GIR-01": 25,
    "ABSS-LLE-01": 20,
    "ABSS-TGN-01": 15,
    "ABSS-VAL-01": 6,
}


@dataclass(frozen=True)
class SimResident:
    """One simulated resident."""

    resident_id: str
    abss_area: str
    lives_alone: bool
    profile: Profile
    change_week: int
    service_start: date


@dataclass(frozen=True)
class SimAlarm:
    """One handled alarm of a simulated resident."""

    resident_id: str
    abss_area: str
    alarm_id: str
    kind: AlarmKind
    outcome: AlarmOutcomeCode
    raised_at: datetime
    answer_seconds: float


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates used here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def simulate_weeks(
    resident: SimResident, first_monday: date, weeks: int, seed: int = 0
) -> list[WeeklyInputs]:
    """``weeks`` consecutive weeks of inputs for ``resident``."""
    rng = random.Random(f"{seed}:{resident.resident_id}")
    usual_active = rng.uniform(4.5, 8.0)
    usual_night = rng.uniform(0.5, 1.5)
    usual_messages = rng.uniform(8, 20)
    usual_calls = rng.uniform(2, 5)
    usual_groups = rng.uniform(0.5, 2)
    result = []
    for index in range(weeks):
        changed = index >= resident.change_week
        active, night = usual_active, usual_night
        messages, calls, groups = usual_messages, usual_calls, usual_groups
        falls_rate = 0.0
        match resident.profile:
            case "isolating" if changed:
                messages, calls, groups = 1.0, 0.2, 0.0
                active *= 0.85
            case "declining" if changed:
                active *= 0.55
            case "restless" if changed:
                night = max(3.0, night * 3)
            case "faller" if index == resident.change_week:
                falls_rate = 5.0
            case _:
                pass
        expected = 7
        miss_rate = 0.02 if not (changed and resident.profile == "declining") else 0.35
        done = sum(1 for _ in range(expected) if rng.random() > miss_rate)
        falls = 1 if falls_rate and rng.random() < 0.99 else 0
        result.append(
            WeeklyInputs(
                week_start=first_monday + timedelta(weeks=index),
                active_hours_per_day=round(max(0.0, rng.gauss(active, active * 0.08)), 2),
                night_events_per_night=round(max(0.0, rng.gauss(night, 0.2)), 2),
                check_ins_expected=expected,
                check_ins_done=done,
                alarms=_poisson(rng, 0.3) + falls,
                falls=falls,
                messages=_poisson(rng, messages),
                calls=_poisson(rng, calls),
                group_sessions=_poisson(rng, groups),
            )
        )
    return result


def simulate_population(seed: int = 1, first_monday: date = date(2026, 6, 1)) -> list[SimResident]:
    """Residents in :data:`ABSS_AREAS`; about a fifth change profile during the period."""
    rng = random.Random(seed)
    residents = []
    number = 0
    for area, size in ABSS_AREAS.items():
        for _ in range(size):
            number += 1
            profile: Profile = "steady" if rng.random() < 0.8 else rng.choice(PROFILES[1:])
            start = first_monday - timedelta(days=rng.randint(0, 700))
            residents.append(
                SimResident(
                    resident_id=f"sim-{number:04d}",
                    abss_area=area,
                    lives_alone=rng.random() < 0.7,
                    profile=profile,
                    change_week=rng.randint(6, 10),
                    service_start=start,
                )
            )
    return residents


_KINDS: list[tuple[AlarmKind, float]] = [
    ("panic", 0.45),
    ("fall", 0.12),
    ("inactivity", 0.1),
    ("missed_check_in", 0.15),
    ("technical", 0.12),
    ("smoke", 0.03),
    ("flood", 0.02),
    ("temperature", 0.01),
]
_OUTCOMES: dict[AlarmKind, list[tuple[AlarmOutcomeCode, float]]] = {
    "fall": [
        ("resolved_by_phone", 0.2),
        ("contact_visit", 0.3),
        ("mobile_unit", 0.25),
        ("emergency_services", 0.2),
        ("hospital_transfer", 0.05),
    ],
}
_DEFAULT_OUTCOMES: list[tuple[AlarmOutcomeCode, float]] = [
    ("false_alarm", 0.45),
    ("resolved_by_phone", 0.35),
    ("contact_visit", 0.12),
    ("mobile_unit", 0.05),
    ("emergency_services", 0.03),
]


def _pick(rng: random.Random, table: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def simulate_alarms(
    residents: list[SimResident], start: date, months: int, seed: int = 1
) -> list[SimAlarm]:
    """Handled alarms over ``months`` calendar months from ``start`` (first of a month)."""
    rng = random.Random(seed)
    begin = datetime(start.year, start.month, 1, tzinfo=UTC)
    end_month = start.month - 1 + months
    end = datetime(start.year + end_month // 12, end_month % 12 + 1, 1, tzinfo=UTC)
    span = (end - begin).total_seconds()
    alarms = []
    for resident in residents:
        rate = 2.0 if resident.profile == "steady" else 4.0
        for number in range(_poisson(rng, rate * months)):
            kind: AlarmKind = _pick(rng, _KINDS)  # type: ignore[arg-type,assignment]
            outcome: AlarmOutcomeCode = _pick(  # type: ignore[assignment]
                rng,
                _OUTCOMES.get(kind, _DEFAULT_OUTCOMES),  # type: ignore[arg-type]
            )
            alarms.append(
                SimAlarm(
                    resident_id=resident.resident_id,
                    abss_area=resident.abss_area,
                    alarm_id=f"{resident.resident_id}-a{number}",
                    kind=kind,
                    outcome=outcome,
                    raised_at=begin + timedelta(seconds=rng.uniform(0, span)),
                    answer_seconds=round(rng.lognormvariate(math.log(25), 0.5), 1),
                )
            )
    return sorted(alarms, key=lambda a: a.raised_at)
