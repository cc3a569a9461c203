"""People are shown by their photo or their initials, never a drawn face (issue 23: the
cartoon avatars gave people the wrong gender and hair)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tablet_app.i18n import Lang
from tablet_app.wording import initials
from tests.tablet_app.conftest import pump

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "letters"),
    [
        ("Maria", "M"),
        ("maria puig", "MP"),
        ("Maria del Carmen", "MC"),
        ("Joan d'Alòs", "JA"),
        ("Josep Maria Puig i Soler", "JS"),
        ("Àngela", "À"),
        ("Anne-Marie", "AM"),
        ("Jordi (nét)", "J"),
        ("", ""),
        ("   ", ""),
        ("123", ""),
    ],
)
def test_initials(name: str, letters: str) -> None:
    assert initials(name) == letters


@pytest.mark.tablet
@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_messages_call_and_my_people_show_initials_not_cartoons(
    kivy_window: Any, lang: Lang, tmp_path: Path
) -> None:
    from kivy.graphics import Ellipse, Rectangle

    from tablet_app.demo import demo_model
    from tablet_app.model import Screen
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import Face, walk

    model = demo_model(lang, NOW, tmp_path)
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        for screen in (Screen.MESSAGES, Screen.CALL, Screen.CIRCLE):
            model.go(screen)
            pump()
            faces = [w for w in walk(view.content) if isinstance(w, Face)]
            assert faces, screen
            for face in faces:
                assert face.person_name, (screen, face.person)
                drawn = face.canvas.children
                if face.person.startswith("g:"):
                    # a group: people together (the icon), no letters
                    assert screen is Screen.MESSAGES
                    assert any(isinstance(i, Ellipse) for i in drawn), face.person_name
                    assert not [i for i in drawn if type(i) is Rectangle and i.texture is not None]
                    continue
                assert not any(isinstance(i, Ellipse) for i in drawn), (screen, face.person_name)
                letters = [i for i in drawn if type(i) is Rectangle and i.texture is not None]
                assert len(letters) == 1, (screen, face.person_name)
                # the letters are big: at least a third of the tile's height
                assert letters[0].size[1] >= min(face.size) / 3
    finally:
        view.detach()
        kivy_window.remove_widget(view)
