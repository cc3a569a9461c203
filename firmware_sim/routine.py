"""The resident's day as a timeline of segments (where they are, doing what).

Pure and seeded: times are float minutes after local midnight of the simulation's
first day. Sensors turn segments into records (see :mod:`firmware_sim.sensors`).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, replace
from enum import StrEnum

from firmware_sim.profiles import ProfileParams

DAY = 1440.0
OUTSIDE = "outside"


class Act(StrEnum):
    """What the resident is doing in a segment (decides what sensors see)."""

    SLEEP = "sleep"  # in bed: bed sensor occupied, no motion
    ACTIVE = "active"  # moving about: frequent motion
    SEDENTARY = "sedentary"  # sitting (TV, reading): sparse motion
    AWAY = "away"  # out of the home: front door on both ends
    FLOOR = "floor"  # lying on the floor after a fall: nothing moves


@dataclass(frozen=True, slots=True)
class Segment:
    """The resident is in ``room`` doing ``act`` from ``start`` to ``end`` (minutes)."""

    start: float
    end: float
    room: str
    act: Act
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Anchors of one day (absolute minutes), used to place incidents."""

    day: int
    wake: float
    bed: float
    check_in: float | None


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's Poisson draw (small means only)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


Part = tuple[float, str, Act, frozenset[str]]  # duration, room, act, tags

_NONE: frozenset[str] = frozenset()
_KETTLE = frozenset({"kettle"})
_MEAL = frozenset({"meal"})


def _outing(rng: random.Random, p: ProfileParams, longest: float) -> list[Part]:
    duration = min(rng.uniform(p.outing_min, p.outing_max), max(longest, p.outing_min))
    return [
        (2.0, "hall", Act.ACTIVE, _NONE),
        (duration, OUTSIDE, Act.AWAY, _NONE),
        (2.0, "hall", Act.ACTIVE, _NONE),
    ]


def plan_day(
    p: ProfileParams, rng: random.Random, day: int, wake: float, bed: float
) -> tuple[list[Segment], DayPlan]:
    """Segments from waking to bedtime of ``day`` (local minutes ``wake``/``bed``)."""
    slow = p.slowness
    base = day * DAY
    check_in = _clamp(wake + rng.uniform(20, 60), wake + 5, p.check_in_deadline - 10)
    blocks: list[tuple[float, list[Part]]] = [
        (
            wake,
            [
                (rng.uniform(2, 5) * slow, "bedroom", Act.ACTIVE, _NONE),  # dressing
                (rng.uniform(8, 15) * slow, "bathroom", Act.ACTIVE, _NONE),
                (rng.uniform(20, 35) * slow, "kitchen", Act.ACTIVE, _KETTLE),
            ],
        )
    ]
    if rng.random() < p.morning_outing:
        start = max(rng.uniform(600, 690), check_in + 10)
        blocks.append((start, _outing(rng, p, 12 * 60 + 45 - start)))
    lunch = _clamp(rng.gauss(13.5 * 60, 15), 12.75 * 60, 14.5 * 60)
    blocks.append((lunch, [(rng.uniform(40, 70) * slow, "kitchen", Act.ACTIVE, _MEAL)]))
    if rng.random() < p.tea:
        blocks.append((rng.uniform(990, 1050), [(6.0 * slow, "kitchen", Act.ACTIVE, _KETTLE)]))
    if rng.random() < p.afternoon_outing:
        start = rng.uniform(17 * 60, 18 * 60)
        blocks.append((start, _outing(rng, p, 19.75 * 60 - start)))
    dinner = _clamp(rng.gauss(20.5 * 60, 15), 19.75 * 60, 21 * 60)
    blocks.append((dinner, [(rng.uniform(30, 50) * slow, "kitchen", Act.ACTIVE, _MEAL)]))
    for _ in range(poisson(rng, p.day_bathroom)):
        at = rng.uniform(wake + 60, bed - 90)
        blocks.append((at, [(rng.uniform(3, 8) * slow, "bathroom", Act.ACTIVE, _NONE)]))
    afternoon_tv = rng.random() < p.afternoon_tv
    bedtime_bathroom = rng.uniform(8, 12) * slow
    undressing = rng.uniform(2, 4) * slow
    blocks.sort(key=lambda b: b[0])

    segments: list[Segment] = []

    def fill(start: float, end: float) -> None:
        # Sitting in the living room between chores; the TV is on after dinner and,
        # for some residents, after lunch.
        if end - start <= 0.01:
            return
        tv = start >= dinner or (afternoon_tv and lunch <= start < 19 * 60)
        tags = frozenset({"tv"}) if tv else _NONE
        segments.append(Segment(base + start, base + end, "living", Act.SEDENTARY, tags))

    cursor = wake
    for target, parts in blocks:
        fill(cursor, target)
        cursor = max(cursor, target)
        for duration, room, act, tags in parts:
            segments.append(Segment(base + cursor, base + cursor + duration, room, act, tags))
            cursor += duration
    evening = bedtime_bathroom + undressing
    fill(cursor, bed - evening)
    cursor = max(cursor, bed - evening)
    segments.append(
        Segment(base + cursor, base + cursor + bedtime_bathroom, "bathroom", Act.ACTIVE)
    )
    cursor += bedtime_bathroom
    segments.append(Segment(base + cursor, base + cursor + undressing, "bedroom", Act.ACTIVE))
    bed = cursor + undressing
    return segments, DayPlan(day, base + wake, base + bed, base + check_in)


def plan_night(p: ProfileParams, rng: random.Random, start: float, end: float) -> list[Segment]:
    """Asleep from ``start`` to ``end`` (absolute minutes) with bathroom visits."""
    visits = poisson(rng, p.night_visits)
    restless = rng.random() < p.restless
    outs: list[tuple[float, list[Part]]] = []
    for _ in range(visits):
        outs.append(
            (
                rng.uniform(start + 30, end - 25),
                [
                    (0.5, "hall", Act.ACTIVE, _NONE),
                    (rng.uniform(3, 8) * p.slowness, "bathroom", Act.ACTIVE, _NONE),
                    (0.5, "hall", Act.ACTIVE, _NONE),
                ],
            )
        )
    if restless:
        outs.append(
            (
                rng.uniform(start + 30, end - 25),
                [(rng.uniform(4, 9), "kitchen", Act.ACTIVE, _NONE)],
            )
        )
    outs.sort(key=lambda o: o[0])
    segments: list[Segment] = []
    cursor = start
    for target, parts in outs:
        if target < cursor + 5 or target > end - 15:
            continue  # too close to the previous visit or to waking: skip it
        segments.append(Segment(cursor, target, "bedroom", Act.SLEEP))
        cursor = target
        for duration, room, act, tags in parts:
            segments.append(Segment(cursor, cursor + duration, room, act, tags))
            cursor += duration
    segments.append(Segment(cursor, end, "bedroom", Act.SLEEP))
    return segments


def override(
    segments: list[Segment], start: float, end: float, new: list[Segment]
) -> list[Segment]:
    """Replace whatever happens between ``start`` and ``end`` with ``new``."""
    out: list[Segment] = []
    for seg in segments:
        if seg.end <= start or seg.start >= end:
            out.append(seg)
            continue
        if seg.start < start:
            out.append(replace(seg, end=start))
        if seg.end > end:
            out.append(replace(seg, start=end))
    out.extend(new)
    out.sort(key=lambda s: s.start)
    return out


class Timeline:
    """Sorted segments with lookup of where the resident is at a time."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = sorted((s for s in segments if s.end > s.start), key=lambda s: s.start)
        self._starts = [s.start for s in self.segments]

    def at(self, minute: float) -> Segment | None:
        """The segment covering ``minute`` (``None`` outside the timeline)."""
        i = bisect.bisect_right(self._starts, minute) - 1
        if i < 0:
            return None
        seg = self.segments[i]
        return seg if seg.start <= minute < seg.end else None
