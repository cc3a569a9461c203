"""A conversation shows three messages, each with who sent it and when, photos large,
and people by name and relationship; group conversations have a group tile (issue 23)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tablet_app.conversation import page_of
from tablet_app.i18n import Lang
from tablet_app.model import Message, Screen
from tests.tablet_app.conftest import assert_fits, pump, tap

pytestmark = pytest.mark.tablet

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _messages(n: int) -> list[Message]:
    return [Message(f"m{i}", "maria", "text", NOW - timedelta(minutes=n - i)) for i in range(n)]


@pytest.mark.parametrize(
    ("count", "step", "shown", "ids", "kept"),
    [
        (0, 0, 3, [], 0),
        (2, 0, 3, ["m0", "m1"], 0),
        (7, 0, 3, ["m4", "m5", "m6"], 0),
        (7, 1, 3, ["m1", "m2", "m3"], 1),
        (7, 2, 3, ["m0"], 2),
        (7, 9, 3, ["m0"], 2),  # kept within what there is
        (5, 1, 2, ["m1", "m2"], 1),
    ],
)
def test_a_screenful_of_messages(
    count: int, step: int, shown: int, ids: list[str], kept: int
) -> None:
    page, step_kept = page_of(_messages(count), step, shown)
    assert [m.id for m in page] == ids
    assert step_kept == kept


def test_names_with_relationship_and_who_wrote_each_message(tmp_path: Path) -> None:
    from tablet_app.demo import demo_model

    model = demo_model("en", NOW, tmp_path)
    assert model.contact_title("nuria") == "Núria (niece)"
    assert model.contact_title("jordi") == "Jordi (son)"
    assert model.contact_title("g:9") == "The family"  # a group has no relationship
    assert model.contact_title("nobody") == ""
    group = next(m for m in model.messages if m.contact_id == "g:9")
    assert model.sender_name(group) == "Jordi"
    direct = next(m for m in model.messages if m.contact_id == "nuria" and not m.outgoing)
    assert model.sender_name(direct) == "Núria"
    # a group is written to, not called
    assert "g:9" in [c.id for c in model.conversations()]
    assert "g:9" not in [c.id for c in model.callable_contacts()]


@pytest.fixture
def view_for(kivy_window: Any, tmp_path: Path) -> Iterator[Any]:
    from tablet_app.demo import demo_model
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    views: list[Any] = []

    def make(lang: Lang) -> Any:
        model = demo_model(lang, NOW, tmp_path)
        model.can_record = model.can_photo = True
        view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
        kivy_window.add_widget(view)
        views.append(view)
        return view

    yield make
    for view in views:
        view.detach()
        kivy_window.remove_widget(view)
    pump()


def _find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find

    return find(view, name)


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_three_messages_with_sender_and_a_large_photo(view_for: Any, lang: Lang) -> None:
    from tablet_app.widgets import walk

    view = view_for(lang)
    model = view.model
    model.open_conversation("nuria")
    pump()
    headings = {
        w.name: w.text for w in walk(view.content) if str(getattr(w, "name", "")).startswith(
            "conversation.by."
        )
    }  # fmt: skip
    you = {"ca": "Enviat per vós", "es": "Enviado por usted", "en": "Sent by you"}[lang]
    assert len(headings) == 3, headings
    assert headings["conversation.by.m2"].endswith(" · Núria")
    assert headings["conversation.by.m5"].endswith(f" · {you}")
    assert headings["conversation.by.m7"].endswith(" · Núria")
    for name in headings:
        assert_fits(_find(view, name), 28, (lang, name))
        assert_fits(_find(view, name.replace(".by.", ".text.")), 36, (lang, name))
    photo = _find(view, "conversation.open.m2")
    width, height = photo.norm_image_size
    assert height >= 160, (width, height)  # the review found 110 px thumbnails
    related = {"ca": "neboda", "es": "sobrina", "en": "niece"}[lang]
    assert view.content.children[-1].children[0].text == f"Núria ({related})"
    # the buttons are on the right, big
    for name in ("record.start", "photo.take"):
        button = _find(view, name)
        assert button.height >= 120
        assert button.x > photo.right
        assert_fits(button.label, 34, (lang, name))
    tap(photo)
    assert model.screen is Screen.PHOTO


def test_a_group_conversation_says_who_wrote_and_has_a_group_tile(view_for: Any) -> None:
    from kivy.graphics import Ellipse

    view = view_for("en")
    model = view.model
    model.go(Screen.MESSAGES)
    pump()
    tile = _find(view, "messages.contact.g:9")
    assert tile.label.text == "The family"
    assert _find(view, "messages.contact.jordi").label.text == "Jordi\nson"
    from tablet_app.widgets import Face, walk

    [face] = [w for w in walk(tile) if isinstance(w, Face)]
    assert any(isinstance(i, Ellipse) for i in face.canvas.children)  # people, not letters
    tap(tile)
    assert model.screen is Screen.CONVERSATION
    assert _find(view, "conversation.by.m6").text.endswith(" · Jordi")
    model.go(Screen.HOME)
    model.go(Screen.CALL)
    pump()
    with pytest.raises(LookupError):
        _find(view, "call.face.g:9")
    assert _find(view, "call.face.nuria").label.text == "Núria\nniece"
