"""Times in plain words, in Madrid time, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from tablet_app.wording import clock_text, date_text, duration_text, next_deadline, when_text
from tests.alerts.test_rules_calendar import CHECK_IN_DEADLINES
from tests.instants import DST_AUTUMN, DST_SPRING, EVENING, LEAP_DAY, NIGHT, YEAR_END

# Monday 23 November 2026, 09:05 in Madrid (UTC+1 in winter).
NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def test_clock_and_date_are_local() -> None:
    assert clock_text(NOW) == "09:05"
    assert date_text(NOW, "en") == "Monday 23 November"
    assert date_text(NOW, "ca") == "Dilluns, 23 de novembre"
    assert date_text(NOW, "es") == "Lunes, 23 de noviembre"


@pytest.mark.parametrize(
    ("moment", "lang", "expected"),
    [
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), "en", "Today at 17:00"),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "en", "Tomorrow at 10:00"),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "ca", "Demà a les 10:00"),
        (datetime(2026, 11, 26, 8, 30, tzinfo=UTC), "es", "El jueves a las 09:30"),
        (datetime(2026, 12, 10, 8, 30, tzinfo=UTC), "en", "10 December at 09:30"),
        # 23:30 UTC is already tomorrow in Madrid
        (datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "en", "Tomorrow at 00:30"),
    ],
)
def test_when_text(moment: datetime, lang: str, expected: str) -> None:
    assert when_text(moment, NOW, lang) == expected  # type: ignore[arg-type]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        when_text(datetime(2026, 11, 24, 9, 0), NOW, "en")


def test_next_deadline_today_then_tomorrow() -> None:
    assert next_deadline([time(10, 0)], NOW) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    after = next_deadline([time(10, 0)], NOW, last_check_in=NOW)
    assert after == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert next_deadline([], NOW) is None


def test_next_deadline_across_summer_time() -> None:
    # Saturday 28 March 2026 12:00 UTC; Sunday the clocks go forward (UTC+2).
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_deadline([time(10, 0)], now) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("now", "deadline"), CHECK_IN_DEADLINES)
def test_the_tablet_counts_down_to_the_deadline_the_hub_enforces(
    now: datetime, deadline: datetime
) -> None:
    # Same table as the hub's check-in rule (tests/alerts/test_rules_calendar.py).
    assert next_deadline([time(11, 0)], now) == deadline


@pytest.mark.parametrize(
    ("now", "moment", "expected"),
    [
        # Sunday 01:30 CET; 10:00 is already summer time (08:00 UTC).
        (DST_SPRING, datetime(2027, 3, 28, 8, 0, tzinfo=UTC), "Today at 10:00"),
        # Sunday 02:30 CEST; Monday 10:00 is winter time (09:00 UTC).
        (DST_AUTUMN, datetime(2027, 11, 1, 9, 0, tzinfo=UTC), "Tomorrow at 10:00"),
        # Friday 31 December 23:30; 1 January 10:00.
        (YEAR_END, datetime(2028, 1, 1, 9, 0, tzinfo=UTC), "Tomorrow at 10:00"),
        # Monday 28 February 2028 23:30; Tuesday 29 February 10:00.
        (LEAP_DAY, datetime(2028, 2, 29, 9, 0, tzinfo=UTC), "Tomorrow at 10:00"),
        (LEAP_DAY, datetime(2028, 3, 1, 9, 0, tzinfo=UTC), "Wednesday at 10:00"),
        (NIGHT, datetime(2027, 1, 14, 9, 0, tzinfo=UTC), "Today at 10:00"),
        (EVENING, datetime(2027, 1, 14, 22, 0, tzinfo=UTC), "Today at 23:00"),
        (EVENING, datetime(2027, 1, 14, 23, 0, tzinfo=UTC), "Tomorrow at 00:00"),
    ],
)
def test_agenda_days_at_awkward_instants(now: datetime, moment: datetime, expected: str) -> None:
    assert when_text(moment, now, "en") == expected


@pytest.mark.parametrize(
    ("seconds", "lang", "expected"),
    [
        (600, "en", "10 minutes"),
        (60.5, "ca", "2 minuts"),  # rounded up: never less time than there is
        (60, "ca", "1 minut"),
        (59.2, "es", "1 minuto"),
        (58.5, "es", "59 segundos"),
        (2, "es", "2 segundos"),
        (0.4, "en", "1 second"),
        (0, "ca", "1 segon"),
    ],
)
def test_duration_text(seconds: float, lang: str, expected: str) -> None:
    assert duration_text(seconds, lang) == expected  # type: ignore[arg-type]


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        duration_text(-1, "en")
