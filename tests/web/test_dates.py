"""Dates in the reader's language with Babel (hub/web/dates.py): ca, es and en, 24-hour,
Europe/Madrid across the clock changes; and the browser's Intl (ta.js) agreeing in Chromium."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.web.dates import format_ago, format_clock, format_day, format_moment, jinja_filters
from hub.web.pages import Pages
from tests.instants import DST_AUTUMN, DST_SPRING

EVENING = datetime(2026, 12, 6, 20, 45, tzinfo=UTC)  # 21:45 in Barcelona


@pytest.mark.parametrize(
    ("lang", "moment", "day", "clock"),
    [
        ("ca", "6 de des. del 2026, 21:45", "6 de des. del 2026", "21:45"),
        ("es", "6 dic 2026, 21:45", "6 dic 2026", "21:45"),
        ("en", "6 Dec 2026, 21:45", "6 Dec 2026", "21:45"),
    ],
)
def test_each_language_its_own_format_and_a_24_hour_clock(
    lang: str, moment: str, day: str, clock: str
) -> None:
    assert format_moment(EVENING, lang) == moment
    assert format_day(EVENING, lang) == day
    assert format_day(date(2026, 12, 6), lang) == day
    assert format_clock(EVENING, lang) == clock
    assert "PM" not in format_moment(EVENING, lang)


@pytest.mark.parametrize(
    ("lang", "minutes", "expected"),
    [
        ("ca", 20, "fa 20 minuts"),
        ("es", 20, "hace 20 minutos"),
        ("en", 20, "20 minutes ago"),
        ("ca", 150, "fa 2 hores"),
        ("en", 60 * 49, "2 days ago"),
        ("es", -30, "dentro de 30 minutos"),
    ],
)
def test_relative_times(lang: str, minutes: int, expected: str) -> None:
    assert format_ago(EVENING - timedelta(minutes=minutes), EVENING, lang) == expected


def test_local_time_across_the_clock_changes() -> None:
    # DST_SPRING is 01:30 CET on 28 March 2027; an hour later it is 03:30 CEST.
    assert format_clock(DST_SPRING, "ca") == "01:30"
    assert format_clock(DST_SPRING + timedelta(hours=1), "ca") == "03:30"
    assert format_clock(DST_AUTUMN, "en") == "02:30"


def test_naive_and_unknown_inputs() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_moment(datetime(2026, 12, 6, 21, 45), "ca")
    assert format_clock(EVENING, "fr") == "21:45"  # an unknown language reads Catalan
    assert jinja_filters()["moment"](None, "ca") == ""  # type: ignore[operator]


def test_templates_format_iso_timestamps_in_the_page_language() -> None:
    pages = Pages()
    template = pages.environment.from_string("{{ at|moment(lang) }} · {{ at|clock(lang) }}")
    assert template.render(at="2026-12-06T20:45:00Z", lang="es") == "6 dic 2026, 21:45 · 21:45"


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_browser_rule_writes_what_format_moment_writes(lang: str) -> None:
    """The rule handed to ta.js, filled by hand, gives the server's own words."""
    from hub.web.dates import ZONE, format_moment, moment_rule

    rule = moment_rule(lang)
    pattern, months = rule["pattern"], rule["months"]
    assert isinstance(pattern, str)
    assert isinstance(months, list)
    for month in range(1, 13):
        moment = datetime(2026, month, 4, 9, 5, tzinfo=ZONE)
        filled = pattern.format(d="4", MMM=months[month - 1], y="2026", HH="09", mm="05")
        assert filled == format_moment(moment, lang), (lang, month)
    assert moment_rule("ca")["pattern"].startswith("{d} {MMM} del {y}")
    day = rule["day"]
    assert isinstance(day, str)
    for month in range(1, 13):
        filled = day.format(d="4", MMM=months[month - 1], y="2026")
        assert filled == format_day(date(2026, month, 4), lang), (lang, month)
