"""Older messages on the tablet: a long conversation shows the newest and big "Older
messages" / "Newer" buttons reach every message back to the first (no scrolling)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tablet_app.i18n import LANGUAGES, Lang
from tablet_app.model import Contact, Message, Screen, TabletModel
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


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


def _texts(view: Any) -> list[str]:
    from tablet_app.widgets import Text, walk

    return [w.text for w in walk(view.content) if isinstance(w, Text) and "msg " in w.text]


@pytest.mark.tablet
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_reached_back_to_the_first(view_for: Any, lang: Lang) -> None:
    from tablet_app.widgets import buttons, find

    model = TabletModel(language=lang, online=True)
    model.contacts = [Contact("u:3", "Maria")]
    model.messages = [
        Message(f"m{i}", "u:3", "text", NOW - timedelta(minutes=10 * (7 - i)), text=f"msg {i}")
        for i in range(7)
    ]
    model.open_conversation("u:3")
    assert model.screen is Screen.CONVERSATION
    view = view_for(model)
    names = {b.name for b in buttons(view.content)}
    assert "conversation.newer" not in names  # already the newest
    seen: list[str] = []
    for _ in range(10):
        seen = [t for t in _texts(view) if t not in seen] + seen
        if "conversation.older" not in {b.name for b in buttons(view.content)}:
            break
        button = find(view, "conversation.older")
        assert min(button.size) >= view.sizes().min_target
        assert_fits(button.label, 34, lang)
        tap(button)
    assert {t.rsplit("msg ", 1)[1] for t in seen} == {str(i) for i in range(7)}
    assert any(t.endswith("msg 0") for t in _texts(view))  # the first is on the last screen
    tap(find(view, "conversation.newer"))
    model.go(Screen.MESSAGES)
    model.open_conversation("u:3")  # opening again shows the newest
    pump(2)
    assert any(t.endswith("msg 6") for t in _texts(view))


@pytest.mark.tablet
def test_a_short_conversation_has_no_buttons(view_for: Any) -> None:
    from tablet_app.widgets import buttons

    model = TabletModel(language="ca", online=True)
    model.contacts = [Contact("u:3", "Maria")]
    model.messages = [Message("m1", "u:3", "text", NOW, text="msg 1")]
    model.open_conversation("u:3")
    view = view_for(model)
    assert not {"conversation.older", "conversation.newer"} & {
        b.name for b in buttons(view.content)
    }
