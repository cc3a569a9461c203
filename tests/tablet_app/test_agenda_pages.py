"""The Agenda reaches every item (issue 23: past four, the rest were silently left out)
and shows what kind each is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tablet_app.i18n import Lang, translate
from tablet_app.model import AgendaItem, Screen, TabletModel
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # Monday 09:05 in Madrid


def _items(n: int) -> list[AgendaItem]:
    return [AgendaItem(f"a{i}", f"Item {i}", NOW + timedelta(days=i, hours=1)) for i in range(n)]


@pytest.mark.parametrize(("count", "pages", "sizes"), [
    (0, 1, [0]), (1, 1, [1]), (4, 1, [4]), (5, 2, [3, 2]), (6, 2, [3, 3]), (7, 3, [3, 3, 1]),
])  # fmt: skip
def test_pages(count: int, pages: int, sizes: list[int]) -> None:
    model = TabletModel(language="en")
    model.agenda = _items(count)
    assert model.agenda_pages(NOW) == pages
    seen: list[str] = []
    for expected in sizes:
        _page, items = model.agenda_on_page(NOW)
        assert len(items) == expected
        seen += [i.id for i in items]
        model.turn_agenda_page(NOW, 1)
    assert seen == [i.id for i in _items(count)]  # every item once, in order
    model.turn_agenda_page(NOW, 1)  # past the last page: stays there
    assert model.agenda_on_page(NOW)[0] == pages - 1
    for _ in range(pages + 1):
        model.turn_agenda_page(NOW, -1)
    assert model.agenda_on_page(NOW)[0] == 0


def test_home_starts_the_agenda_again_at_its_first_page() -> None:
    model = TabletModel(language="en")
    model.agenda = _items(7)
    model.go(Screen.AGENDA)
    model.turn_agenda_page(NOW, 1)
    model.go(Screen.HOME)
    model.go(Screen.AGENDA)
    assert model.agenda_on_page(NOW)[0] == 0


@pytest.mark.tablet
@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_window_turns_to_the_later_items(kivy_window: Any, lang: Lang, tmp_path: Path) -> None:
    from tablet_app.demo import demo_model
    from tablet_app.icons import Icon
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find, walk

    model = demo_model(lang, NOW, tmp_path)
    model.agenda = [*model.agenda, *(
        AgendaItem(f"x{i}", f"Extra {i}", NOW + timedelta(days=8 + i), "other") for i in range(2)
    )]  # fmt: skip
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        model.go(Screen.AGENDA)
        pump()
        icons = [w.name for w in walk(view.content) if isinstance(w, Icon) and w.width > 0]
        # the group workshop, the doctor and Jordi's visit: people, calendar, house
        assert {"people", "house", "calendar"} <= set(icons)
        total = len(model.agenda)  # the demo's five and two more: pages of 3, 3 and 1
        assert total == 7
        shown = find(view, "agenda.shown")
        assert shown.text == translate("agenda.shown", lang, first=1, last=3, total=total)
        assert_fits(shown, 34, lang)
        tap(find(view, "agenda.more"))
        assert find(view, "agenda.shown").text == translate(
            "agenda.shown", lang, first=4, last=6, total=total
        )
        tap(find(view, "agenda.more"))
        assert find(view, "agenda.shown").text == translate(
            "agenda.shown", lang, first=7, last=7, total=total
        )
        texts = [getattr(w, "text", "") for w in walk(view.content)]
        assert any("Extra 1" in t for t in texts)
        with pytest.raises(LookupError):
            find(view, "agenda.more")  # the last page has no "Later"
        tap(find(view, "agenda.before"))
        assert find(view, "agenda.shown").text.startswith("4 ")
    finally:
        view.detach()
        kivy_window.remove_widget(view)
