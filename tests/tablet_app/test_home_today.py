"""Home says what today holds (issue 23): a greeting, whether "I'm OK" was pressed today and
the next thing on the agenda; the offline banner says what waits for the connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tablet_app.i18n import Lang, translate
from tablet_app.model import AgendaItem, Screen, TabletModel
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # Monday 09:05 in Madrid


def _at_madrid(hour: int, minute: int = 0) -> datetime:
    # 23 November: Madrid is UTC+1
    return datetime(2026, 11, 23, hour - 1, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "hour", "key"),
    [
        ("ca", 9, "morning"),
        ("ca", 13, "morning"),  # before lunch it is still "bon dia"
        ("ca", 14, "afternoon"),
        ("ca", 20, "afternoon"),
        ("ca", 21, "evening"),
        ("es", 13, "morning"),
        ("es", 22, "evening"),
        ("en", 11, "morning"),
        ("en", 13, "afternoon"),  # "good morning" after noon would be wrong in English
        ("en", 19, "evening"),
        ("en", 3, "evening"),  # small hours: not "good morning" yet
    ],
)
def test_the_greeting_follows_the_local_hour(lang: Lang, hour: int, key: str) -> None:
    model = TabletModel(language=lang)
    assert model.greeting(_at_madrid(hour)) == translate(f"home.greet.{key}", lang)


def test_before_and_after_im_ok_today() -> None:
    model = TabletModel(language="en", online=True)
    first, _ = model.home_today(NOW)
    assert first == "Good morning! You have not said you are OK today yet."
    model.press_ok(NOW)
    first, _ = model.home_today(NOW + timedelta(minutes=1))
    assert first == "Good morning! You already said you are OK today."
    # yesterday's "I'm OK" does not count today
    first, _ = model.home_today(NOW + timedelta(days=1))
    assert first.endswith("You have not said you are OK today yet.")


def test_the_next_agenda_item_not_one_already_past() -> None:
    model = TabletModel(language="en")
    model.agenda = [
        AgendaItem("past", "Breakfast club", NOW - timedelta(hours=1), "group"),
        AgendaItem("later", "Doctor", NOW + timedelta(days=1, hours=1), "doctor"),
        AgendaItem("soon", "Maria visits", NOW + timedelta(hours=8), "visit"),
        AgendaItem("no", "Bingo", NOW + timedelta(hours=2), "group", response="declined"),
    ]
    _, second = model.home_today(NOW)
    assert second == "Today at 17:05: Maria visits"


def test_nothing_on_the_agenda_is_said_so() -> None:
    model = TabletModel(language="ca")
    model.agenda = [AgendaItem("past", "Esmorzar", NOW - timedelta(hours=1), "group")]
    assert model.home_today(NOW)[1] == "No teniu res més a l'agenda."


def test_the_offline_banner_names_what_waits() -> None:
    # "We will send it when it returns": no "it" on the screen it referred to.
    assert translate("status.offline", "en") == (
        "No connection: what you send goes when it is back."
    )
    assert translate("status.offline", "ca").startswith("Sense connexió: el que envieu")
    assert translate("status.offline", "es").startswith("Sin conexión: lo que envíe")


@pytest.mark.tablet
@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_home_in_the_window(kivy_window: Any, lang: Lang, tmp_path: Path) -> None:
    """The demo home at 1280×800 with the larger font: both lines there and whole, at least
    34 px, above the buttons; after a morning "I'm OK" and back Home, the first line asks
    for the evening's."""
    from tablet_app.demo import demo_model
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find

    model = demo_model(lang, NOW, tmp_path)
    model.font_scale = 1.25
    model.set_online(False)
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        pump()
        first, second = model.home_today(NOW)
        assert (
            find(view, "home.today").text
            == first
            == (f"{model.greeting(NOW)} {translate('home.checkin_due', lang)}")
        )
        assert find(view, "home.next").text == second
        assert second == model.agenda_line(model.agenda_items(NOW)[0], NOW)
        for name in ("home.today", "home.next", "status.offline"):
            assert_fits(find(view, name), 34 if name.startswith("home") else 28, lang)
        assert find(view, "home.next").y > find(view, "home.ok").top
        tap(find(view, "home.ok"))
        assert view.shown is Screen.CHECKIN
        tap(find(view, "done"))
        # the demo plan's evening deadline (19:00) is still to come: not "done for today"
        again = translate("home.checkin_again", lang, time="19:00")
        assert find(view, "home.today").text.endswith(again)
        assert_fits(find(view, "home.today"), 34, lang)
    finally:
        view.detach()
        kivy_window.remove_widget(view)
