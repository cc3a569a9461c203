"""The tablet's photo gallery: every photo of the circle, newest first, three a page with big
buttons to turn pages; a photo opens full screen and Back returns to the gallery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tablet_app.i18n import LANGUAGES, Lang
from tablet_app.model import Contact, Message, Screen, TabletModel
from tablet_app.wording import day_words
from tests.tablet_app.conftest import assert_fits, pump, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "beach.png"
    Image.new("RGB", (640, 480), (90, 160, 235)).save(path)
    return path


def _model(lang: Lang, photo: Path, count: int = 7) -> TabletModel:
    model = TabletModel(language=lang, online=True)
    model.contacts = [Contact("u:3", "Maria"), Contact("u:4", "Jordi")]
    model.messages = [
        Message(f"p{i}", ("u:3", "u:4")[i % 2], "photo", NOW - timedelta(days=i), media=str(photo))
        for i in range(count)
    ]
    model.messages.append(Message("t", "u:3", "text", NOW, text="Hola"))
    model.messages.append(Message("nofile", "u:3", "photo", NOW))  # not downloaded yet
    return model


def test_photos_newest_first_three_a_page(photo: Path) -> None:
    model = _model("en", photo)
    model.open_gallery()
    assert model.screen is Screen.GALLERY
    assert [p.id for p in model.gallery_on_page()] == ["p0", "p1", "p2"]
    assert model.gallery_pages() == 3
    model.turn_gallery_page(1)
    model.turn_gallery_page(1)
    model.turn_gallery_page(1)  # the last page stays
    assert [p.id for p in model.gallery_on_page()] == ["p6"]
    model.turn_gallery_page(-1)
    assert [p.id for p in model.gallery_on_page()] == ["p3", "p4", "p5"]
    model.open_gallery()  # opening again starts from the newest
    assert model.gallery_page == 0


@pytest.mark.parametrize(
    ("days", "lang", "expected"),
    [(0, "ca", "Avui"), (1, "es", "Ayer"), (2, "en", "21 November"), (2, "ca", "21 de novembre")],
)
def test_captions_say_the_day_in_words(days: int, lang: Lang, expected: str) -> None:
    assert day_words(NOW - timedelta(days=days), NOW, lang) == expected


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
def test_the_gallery_by_touch(view_for: Any, photo: Path, lang: Lang) -> None:
    from tablet_app.widgets import Text, buttons, walk

    model = _model(lang, photo)
    model.go(Screen.MESSAGES)
    view = view_for(model)
    tap(find(view, "gallery.open"))
    assert view.shown is Screen.GALLERY
    for text in (w for w in walk(view.content) if isinstance(w, Text) and w.text.strip()):
        assert_fits(text, 34, lang)
    photos = [b for b in buttons(view.content) if b.name.startswith("gallery.photo.")]
    assert len(photos) == 3
    assert min(photos[0].size) >= 2 * view.sizes().min_target  # a photo, not a thumbnail
    assert find(view, "gallery.shown").text in ("1 a 3 de 7", "1 to 3 of 7")
    tap(find(view, "gallery.more"))
    tap(find(view, "gallery.photo.p4"))
    assert view.shown is Screen.PHOTO
    tap(find(view, "back"))
    assert view.shown is Screen.GALLERY
    assert find(view, "gallery.shown").text in ("4 a 6 de 7", "4 to 6 of 7")


@pytest.mark.tablet
def test_no_gallery_button_without_photos(view_for: Any, photo: Path) -> None:
    model = _model("ca", photo, count=0)
    model.go(Screen.MESSAGES)
    view = view_for(model)
    from tablet_app.widgets import buttons

    assert "gallery.open" not in {b.name for b in buttons(view.content)}
