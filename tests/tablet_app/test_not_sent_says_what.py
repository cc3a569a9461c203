""" "Not sent yet" says what was not sent (issue 23): the voice message or the photo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tablet_app.i18n import Lang, translate
from tablet_app.model import Contact, TabletModel
from tests.tablet_app.conftest import assert_fits, pump

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _model(lang: Lang = "en") -> TabletModel:
    model = TabletModel(language=lang, can_record=True, can_photo=True)
    model.contacts = [Contact("maria", "Maria")]
    model.open_conversation("maria")
    return model


def test_a_photo_then_a_voice_message() -> None:
    model = _model()
    model.press_photo()
    model.outgoing_done(sent=False)
    assert model.outgoing_line() == ("Photo saved. We will send it when we can.")
    model.press_record(NOW)
    model.press_record(NOW + timedelta(seconds=5))
    model.outgoing_done(sent=False)
    assert model.outgoing_line().startswith("Voice message saved.")


@pytest.mark.parametrize(
    ("lang", "voice", "photo"),
    [
        ("ca", "Missatge de veu guardat.", "Foto guardada."),
        ("es", "Mensaje de voz guardado.", "Foto guardada."),
    ],
)
def test_in_catalan_and_spanish(lang: Lang, voice: str, photo: str) -> None:
    assert translate("outgoing.queued.voice", lang).startswith(voice)
    assert translate("outgoing.queued.photo", lang).startswith(photo)


@pytest.mark.tablet
@pytest.mark.parametrize("lang", ["ca", "es", "en"])
@pytest.mark.parametrize("kind", ["voice", "photo"])
def test_the_line_fits_in_the_window(
    kivy_window: Any, lang: Lang, kind: str, tmp_path: Path
) -> None:
    from tablet_app.demo import demo_model
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find

    model = demo_model(lang, NOW, tmp_path)
    model.can_record = model.can_photo = True
    model.open_conversation("jordi")
    if kind == "photo":
        model.press_photo()
    else:
        model.press_record(NOW)
        model.press_record(NOW)
    model.outgoing_done(sent=False)
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        pump()
        line = find(view, "outgoing.line")
        assert line.text == translate(f"outgoing.queued.{kind}", lang)
        assert_fits(line, 30, lang)
    finally:
        view.detach()
        kivy_window.remove_widget(view)
