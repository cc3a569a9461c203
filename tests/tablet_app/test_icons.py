"""The tablet's icons, drawn in the real window: each one shows something, all differ,
and the handset of Call/Answer is told apart from the one put down of Hang up/Not now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageOps

from tests.tablet_app.conftest import pump

pytestmark = pytest.mark.tablet

SIDE = 120


def _draw(kivy_window: Any, name: str, path: Path) -> Image.Image:
    from tablet_app.icons import Icon

    icon = Icon(name=name, size_hint=(None, None), size=(SIDE, SIDE), pos=(0, 0))
    kivy_window.add_widget(icon)
    try:
        pump()
        icon.export_to_png(str(path))
    finally:
        kivy_window.remove_widget(icon)
    with Image.open(path) as image:
        return image.getchannel("A").point(lambda a: 255 if a > 127 else 0)


def _count(ink: Image.Image) -> int:
    return ink.histogram()[255]


def test_every_icon_is_drawn_and_no_two_look_alike(kivy_window: Any, tmp_path: Path) -> None:
    from tablet_app.icons import ICONS

    inks = {name: _draw(kivy_window, name, tmp_path / f"{name}.png") for name in ICONS}
    for name, ink in inks.items():
        share = _count(ink) / (SIDE * SIDE)
        assert 0.05 < share < 0.7, (name, share)  # neither a speck nor a blot
    pictures = {name: ink.tobytes() for name, ink in inks.items()}
    assert len(set(pictures.values())) == len(pictures)


def test_the_handset_put_down_lies_flat_and_the_call_handset_is_tilted(
    kivy_window: Any, tmp_path: Path
) -> None:
    phone = _draw(kivy_window, "phone", tmp_path / "phone.png")
    hangup = _draw(kivy_window, "hangup", tmp_path / "hangup.png")
    # Put down: a handset above its cradle (two bands of ink with a gap between) ...
    rows = [_count(hangup.crop((0, y, SIDE, y + 1))) for y in range(SIDE)]
    bands: list[list[int]] = []
    for y, n in enumerate(rows):
        if n and (not bands or bands[-1][-1] != y - 1):
            bands.append([])
        if n:
            bands[-1].append(y)
    assert len(bands) == 2, bands
    handset, cradle = bands
    assert all(rows[y] > 0.6 * SIDE for y in cradle)
    # ... whose cups are much deeper than its handle is thick (the old telephone's shape).
    top, bottom = handset[0], handset[-1] + 1
    cup = _count(hangup.crop((SIDE // 4, top, SIDE // 4 + 1, bottom)))
    handle = _count(hangup.crop((SIDE // 2, top, SIDE // 2 + 1, bottom)))
    assert cup > 2.5 * handle, (cup, handle)
    # Lying level, the same seen in a mirror; the handset held to the ear is tilted.
    assert _count(ImageChops.difference(hangup, ImageOps.mirror(hangup))) < 0.03 * _count(hangup)
    assert _count(ImageChops.difference(phone, ImageOps.mirror(phone))) > 0.3 * _count(phone)
    # Held to the ear: ink in the top-left and bottom-right corners, none in the others.
    q = SIDE // 4
    corners = {
        "top left": (0, 0, q, q),
        "bottom right": (SIDE - q, SIDE - q, SIDE, SIDE),
        "top right": (SIDE - q, 0, SIDE, q),
        "bottom left": (0, SIDE - q, q, SIDE),
    }
    ink = {where: _count(phone.crop(box)) for where, box in corners.items()}
    assert ink["top left"] > 0, ink
    assert ink["bottom right"] > 0, ink
    assert ink["top right"] == 0, ink
    assert ink["bottom left"] == 0, ink
