"""The pairing pad agrees with the work order (issue 23): eight digits, eight places."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.registry.pairing import CODE_DIGITS, new_setup_code
from tablet_app.i18n import Lang, translate
from tablet_app.model import SETUP_CODE_DIGITS, Screen, TabletModel
from tests.instants import MORNING
from tests.tablet_app.conftest import assert_fits, pump


def test_the_tablet_and_the_hub_agree_on_the_length() -> None:
    assert SETUP_CODE_DIGITS == CODE_DIGITS == len(new_setup_code())


def test_the_pad_takes_a_whole_code_and_no_more() -> None:
    model = TabletModel()
    code = new_setup_code()
    for digit in code + "12":
        model.pair_press(digit)
    assert model.pair_digits == code


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_hint_names_the_length(lang: Lang) -> None:
    assert "8" in translate("pair.hint", lang)


@pytest.mark.tablet
@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_pad_shows_eight_places(kivy_window: Any, lang: Lang, tmp_path: Path) -> None:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find

    model = TabletModel(language=lang)
    model.go(Screen.PAIR)
    view = TabletView(model, lambda: MORNING, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        pump()
        assert find(view, "pair.code").text == " ".join("_" * 8)
        for digit in "123":
            model.pair_press(digit)
        pump()
        assert find(view, "pair.code").text == "1 2 3 _ _ _ _ _"
        assert_fits(find(view, "pair.code"), 60, lang)
    finally:
        view.detach()
        kivy_window.remove_widget(view)
