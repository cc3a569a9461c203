"""The learned activity baseline: a per-hour profile of the resident's last weeks.

A day is compared with the same hours of the previous ``history_days`` days. It is
flagged only when it departs strongly on BOTH a ratio (operators understand "a third
of usual") and a spread test (mean ± k·std of the past days), so that a resident whose
days naturally vary is not flagged for an ordinary quiet morning.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import time

from alerts.careplan import BaselineSettings
from alerts.state import DayActivity


@dataclass(frozen=True, slots=True)
class Departure:
    """How a span of hours today compares with the baseline."""

    start_hour: int
    end_hour: int
    observed: int
    expected: float
    std: float
    lowest: int
    highest: int
    # (hour, observed, expected) of the hours that differ most, largest gap first.
    worst_hours: tuple[tuple[int, int, float], ...]

    @property
    def change_percent(self) -> int:
        """Observed vs expected, in percent (negative = less than usual)."""
        if self.expected <= 0:
            return 0
        return round((self.observed - self.expected) / self.expected * 100)


def compare(
    today: DayActivity, history: tuple[DayActivity, ...], start: int, end: int
) -> Departure:
    """Compare hours ``start``..``end`` (exclusive) of ``today`` with ``history``."""
    sums = [sum(day.hourly[start:end]) for day in history]
    expected = statistics.fmean(sums) if sums else 0.0
    std = statistics.pstdev(sums) if len(sums) > 1 else 0.0
    observed = sum(today.hourly[start:end])
    per_hour = []
    for hour in range(start, end):
        mean = statistics.fmean(day.hourly[hour] for day in history) if history else 0.0
        per_hour.append((hour, today.hourly[hour], mean))
    worst = sorted(per_hour, key=lambda h: abs(h[1] - h[2]), reverse=True)[:2]
    lowest, highest = (min(sums), max(sums)) if sums else (0, 0)
    return Departure(start, end, observed, expected, std, lowest, highest, tuple(worst))


def low_activity(
    settings: BaselineSettings,
    today: DayActivity,
    history: tuple[DayActivity, ...],
    checkpoint: time,
) -> Departure | None:
    """A departure if the day so far (day_start..checkpoint) is far below the baseline."""
    if len(history) < settings.min_days:
        return None
    departure = compare(today, history, settings.day_start.hour, checkpoint.hour)
    if departure.expected < settings.min_expected:
        return None
    ratio_low = departure.observed <= settings.low_ratio * departure.expected
    spread_low = departure.observed < departure.expected - settings.sigmas * departure.std
    # And clearly below the quietest day seen: an unusual day, not the quiet end of usual.
    below_all = departure.observed < settings.beyond_extreme_ratio * departure.lowest
    return departure if ratio_low and spread_low and below_all else None


def restless_night(
    settings: BaselineSettings, today: DayActivity, history: tuple[DayActivity, ...]
) -> Departure | None:
    """A departure if the night (00:00..day_start) had far more activity than usual."""
    if len(history) < settings.min_days or settings.day_start.hour == 0:
        return None
    departure = compare(today, history, 0, settings.day_start.hour)
    if departure.observed < settings.night_min_observed:
        return None
    ratio_high = departure.observed >= settings.night_high_ratio * max(departure.expected, 1.0)
    spread_high = departure.observed > departure.expected + settings.sigmas * departure.std
    above_all = departure.observed > departure.highest / settings.beyond_extreme_ratio
    return departure if ratio_high and spread_high and above_all else None


def usual_first_activity(history: tuple[DayActivity, ...], min_days: int) -> int | None:
    """Median minute of the day of the first morning activity, if enough days are known."""
    minutes = [d.first_active_minute for d in history if d.first_active_minute is not None]
    if len(minutes) < min_days:
        return None
    return round(statistics.median(minutes))


def fold(history: tuple[DayActivity, ...], day: DayActivity, keep: int) -> tuple[DayActivity, ...]:
    """History with ``day`` appended, keeping the last ``keep`` days."""
    return (*history, day)[-keep:]
