"""Messages and Call with more than six people: pages of six big faces, turned with big
buttons, every person reachable; back home starts again at the first page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tablet_app.i18n import LANGUAGES, Lang
from tablet_app.model import Contact, Message, Screen, TabletModel
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
NAMES = ["Anna", "Pau", "Marta", "Joan", "Rosa", "Enric", "Núria", "Xavier", "Pilar"]


def _model(lang: Lang) -> TabletModel:
    model = TabletModel(language=lang, online=True)
    model.contacts = [Contact(f"u:{i}", name) for i, name in enumerate(NAMES)]
    model.messages = [Message(f"m{i}", f"u:{i}", "text", NOW, text="Hola") for i in range(9)]
    return model


def test_call_contacts_turn_pages_and_home_starts_again() -> None:
    model = _model("en")
    assert [c.name for c in model.call_contacts()] == NAMES[:6]
    model.turn_people_page(len(model.contacts), 1)
    assert [c.name for c in model.call_contacts()] == NAMES[6:]
    model.turn_people_page(len(model.contacts), 1)  # the last page stays
    assert model.people_page == 1
    model.go(Screen.HOME)
    assert [c.name for c in model.call_contacts()] == NAMES[:6]


@pytest.fixture
def view_for(kivy_window: Any) -> Iterator[Any]:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    made: list[Any] = []

    def make(model: TabletModel) -> Any:
        view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
        kivy_window.add_widget(view)
        pump()
        made.append(view)
        return view

    yield make
    for view in made:
        view.detach()
        kivy_window.remove_widget(view)


def find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find as find_widget

    return find_widget(view, name)


@pytest.mark.tablet
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("screen", "prefix"), [(Screen.MESSAGES, "messages.contact."),
                                                (Screen.CALL, "call.face.")])  # fmt: skip
def test_every_person_is_reached_on_messages_and_call(
    view_for: Any, lang: Lang, screen: Screen, prefix: str
) -> None:
    from tablet_app.widgets import buttons

    model = _model(lang)
    model.go(screen)
    view = view_for(model)
    seen: set[str] = set()
    for page in range(2):
        faces = [b.name for b in buttons(view.content) if b.name.startswith(prefix)]
        assert len(faces) == (6 if page == 0 else 3)
        seen |= set(faces)
        # What the pages add: the words under the grid and the faces' names.
        assert_fits(find(view, "people.shown"), 34, (lang, page))
        for button in buttons(view.content):
            if button.name.startswith(prefix) or button.name.startswith("people."):
                assert_fits(button.label, 34, (lang, page, button.name))
        for button in buttons(view.content):
            assert min(button.size) >= view.sizes().min_target, button.name
        if page == 0:
            tap(find(view, "people.more"))
    assert seen == {f"{prefix}u:{i}" for i in range(9)}
    tap(find(view, "people.before"))
    assert find(view, "people.shown").text.startswith("1 ")
