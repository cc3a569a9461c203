"""Times in plain words, in Madrid time, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from tablet_app.wording import clock_text, date_text, next_deadline, when_text

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
    after = next_deadline([time(10, 0)], NOW, after_today=True)
    assert after == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert next_deadline([], NOW) is None


def test_next_deadline_across_summer_time() -> None:
    # Saturday 28 March 2026 12:00 UTC; Sunday the clocks go forward (UTC+2).
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_deadline([time(10, 0)], now) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
