"""The tablet names the next check-in the hub will still check (ADR 0183); and a label's
words are not cut.

With several deadlines a day the hub wants an "I'm OK" for each (alerts.CheckInSettings,
``window_opens``): a morning check-in answers 10:30, not 19:00. The tablet cannot import
``alerts`` (its APK leaves it out), so it mirrors the rule (tablet_app.wording); these cases
pin the mirror to the hub's rule. Instants are fixed, in Europe/Madrid.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts import CheckInSettings
from tablet_app.model import TabletModel
from tablet_app.wording import CHECK_IN_OPENS_BEFORE, check_in_window_opens, next_deadline
from tests.tablet_app.conftest import pump

MADRID = ZoneInfo("Europe/Madrid")
TWO = [time(10, 30), time(19, 0)]
ONE = [time(10, 30)]


def at(day: str, hhmm: str) -> datetime:
    """A Madrid wall-clock time as a UTC instant."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=MADRID).astimezone(UTC)


JAN = "2027-01-14"  # an ordinary Thursday (UTC+1)
EVE = "2027-01-13"
SPRING = "2027-03-28"  # at 02:00 the clocks jump to 03:00
AUTUMN = "2027-10-31"  # at 03:00 the clocks go back to 02:00

CASES = [
    # (deadlines, last check-in, now, next deadline the tablet names)
    pytest.param(ONE, None, at(JAN, "08:00"), at(JAN, "10:30"), id="one-none"),
    pytest.param(ONE, at(JAN, "09:00"), at(JAN, "09:01"), at("2027-01-15", "10:30"), id="one-ok"),
    pytest.param(ONE, at(JAN, "12:00"), at(JAN, "12:01"), at("2027-01-15", "10:30"), id="one-late"),
    pytest.param(TWO, None, at(JAN, "08:00"), at(JAN, "10:30"), id="two-none"),
    pytest.param(TWO, at(JAN, "09:00"), at(JAN, "09:01"), at(JAN, "19:00"), id="two-before-first"),
    # one after the missed 10:30 answers 19:00: its window opens at the previous deadline
    pytest.param(
        TWO, at(JAN, "12:00"), at(JAN, "12:01"), at("2027-01-15", "10:30"), id="two-between"
    ),
    pytest.param(TWO, at(JAN, "18:00"), at(JAN, "18:01"), at("2027-01-15", "10:30"), id="two-both"),
    pytest.param(
        TWO, at(JAN, "20:00"), at(JAN, "20:01"), at("2027-01-15", "10:30"), id="two-after"
    ),
    # the evening before answers none of today's: the hub opens 10:30's window at 00:30
    pytest.param(TWO, at(EVE, "21:00"), at(JAN, "08:00"), at(JAN, "10:30"), id="two-eve"),
    pytest.param(ONE, at(EVE, "21:00"), at(JAN, "08:00"), at(JAN, "10:30"), id="one-eve"),
    # a check-in just after midnight, before the 10-hour window opens, answers nothing
    pytest.param(ONE, at(JAN, "00:10"), at(JAN, "00:11"), at(JAN, "10:30"), id="one-small-hours"),
    # summer time: the window is 10 real hours (the hub's instants are UTC)
    pytest.param(TWO, at(SPRING, "09:00"), at(SPRING, "09:01"), at(SPRING, "19:00"), id="spring"),
    pytest.param(  # 00:10 CET is 9h20 before 10:30 CEST (a 23-hour day): inside the window
        ONE, at(SPRING, "00:10"), at(SPRING, "00:11"), at("2027-03-29", "10:30"), id="spring-0010"
    ),
    pytest.param(  # 01:00 CEST is 10h30 before 10:30 CET: outside the window
        ONE, at(AUTUMN, "01:00"), at(AUTUMN, "01:01"), at(AUTUMN, "10:30"), id="autumn-0100"
    ),
    pytest.param(TWO, at(AUTUMN, "09:00"), at(AUTUMN, "09:01"), at(AUTUMN, "19:00"), id="autumn"),
    pytest.param([], at(JAN, "09:00"), at(JAN, "09:01"), None, id="none"),
]


@pytest.mark.parametrize(("deadlines", "last", "now", "expected"), CASES)
def test_the_tablet_names_the_next_deadline_the_hub_checks(
    deadlines: list[time], last: datetime | None, now: datetime, expected: datetime | None
) -> None:
    assert next_deadline(deadlines, now, last_check_in=last) == expected
    if expected is None:
        return
    # The hub's rule agrees: every deadline from now until the named one is answered by the
    # last check-in, and the named one is not.
    hub = CheckInSettings(enabled=True, deadlines=tuple(deadlines))
    assert not hub.covers(last, expected, MADRID)
    day = now.astimezone(MADRID).date()
    for offset in range(3):
        for deadline in deadlines:
            due = datetime.combine(day + timedelta(days=offset), deadline, MADRID)
            if now < due < expected:
                assert hub.covers(last, due.astimezone(UTC), MADRID)


def test_the_mirror_opens_every_window_where_the_hub_does() -> None:
    assert CheckInSettings().opens_before == CHECK_IN_OPENS_BEFORE
    for deadlines in (ONE, TWO, [time(8, 0), time(13, 0), time(20, 30)]):
        hub = CheckInSettings(enabled=True, deadlines=tuple(deadlines))
        for day in (JAN, SPRING, AUTUMN, "2027-12-31"):
            for deadline in deadlines:
                due = at(day, f"{deadline:%H:%M}")
                assert check_in_window_opens(deadlines, due) == hub.window_opens(due, MADRID)


def test_after_a_morning_im_ok_the_tablet_names_this_evening() -> None:
    model = TabletModel(language="en", online=True, check_in_deadlines=TWO)
    model.press_ok(at(JAN, "09:00"))
    assert model.next_check_in(at(JAN, "09:01")) == "Today at 19:00"
    first, _ = model.home_today(at(JAN, "09:01"))
    assert first == "Good morning! Say you are OK again before 19:00."
    model.press_ok(at(JAN, "18:30"))
    assert model.next_check_in(at(JAN, "18:31")) == "Tomorrow at 10:30"
    first, _ = model.home_today(at(JAN, "18:31"))
    assert first == "Good evening! You already said you are OK today."


@pytest.mark.parametrize(
    ("lang", "line"),
    [
        ("ca", "Bon dia! Torneu a dir que esteu bé abans de les 19:00."),
        ("es", "¡Buenos días! Repita que está bien antes de las 19:00."),
    ],
)
def test_the_home_line_in_catalan_and_spanish(lang: str, line: str) -> None:
    model = TabletModel(language=lang, online=True, check_in_deadlines=TWO)  # type: ignore[arg-type]
    model.press_ok(at(JAN, "09:00"))
    assert model.home_today(at(JAN, "09:01"))[0] == line


def test_one_deadline_after_im_ok_is_tomorrow_as_before() -> None:
    model = TabletModel(language="en", online=True, check_in_deadlines=ONE)
    model.press_ok(at(JAN, "09:00"))
    assert model.next_check_in(at(JAN, "09:01")) == "Tomorrow at 10:30"
    assert model.home_today(at(JAN, "09:01"))[0].endswith("You already said you are OK today.")


def test_a_word_too_wide_for_its_box_is_not_cut(kivy_window: Any) -> None:
    """The messages screen's "Laia / neighbour" was drawn "neighbou" / "r": a word wider
    than the label makes its font smaller instead (tablet_app.widgets.Text)."""
    from kivy.core.text import Label as CoreLabel

    from tablet_app.widgets import Text

    label = Text("Laia\nneighbour", font_size=60, color=(1, 1, 1, 1), bold=True)
    label.size_hint = (None, None)
    label.size = (200, 200)
    kivy_window.add_widget(label)
    try:
        pump()
        assert label.font_size < 60
        measure = CoreLabel(font_size=label.font_size, bold=True)
        assert measure.get_extents("neighbour")[0] <= label.width
        label.size = (600, 200)  # room again: the font it was given
        pump()
        assert label.font_size == 60
    finally:
        kivy_window.remove_widget(label)
