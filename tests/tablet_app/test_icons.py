"""The tablet's icons, drawn in the real window: each one shows something, all differ,
and the handset of Call/Answer (held to the ear) is told apart from the one put down of
Hang up/Not now (lying level, cups down)."""

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


def test_the_call_handset_is_the_old_telephone_held_to_the_ear(
    kivy_window: Any, tmp_path: Path
) -> None:
    """Ear cup top left, mouth cup bottom right, the bow between them bulging away from
    the face: the silhouette everyone knows (the first drawing read as headphones)."""
    phone = _draw(kivy_window, "phone", tmp_path / "phone.png")
    q = SIDE // 4
    corners = {
        "top left": (0, 0, q, q),
        "bottom right": (SIDE - q, SIDE - q, SIDE, SIDE),
        "top right": (SIDE - q, 0, SIDE, q),
    }
    ink = {where: _count(phone.crop(box)) for where, box in corners.items()}
    assert ink["top left"] > 0.3 * q * q, ink
    assert ink["bottom right"] > 0.3 * q * q, ink
    assert ink["top right"] == 0, ink  # the face side is hollow
    # The same seen from the other side: mirrored across the diagonal from top right to
    # bottom left (its axis), it covers itself.
    mirrored = phone.transpose(Image.Transpose.TRANSVERSE)
    assert _count(ImageChops.difference(phone, mirrored)) < 0.05 * _count(phone)
    # A solid bow, not a thin line: the middle of the diagonal band is ink all across
    # the handle (at least an eighth of the side thick).
    band = [phone.getpixel((i, i)) for i in range(SIDE)]
    assert band.count(255) >= SIDE // 8, band


def test_the_handset_put_down_lies_level_with_both_cups_down(
    kivy_window: Any, tmp_path: Path
) -> None:
    hangup = _draw(kivy_window, "hangup", tmp_path / "hangup.png")
    # Level: the same seen in a mirror.
    assert _count(ImageChops.difference(hangup, ImageOps.mirror(hangup))) < 0.03 * _count(hangup)
    rows = [y for y in range(SIDE) if _count(hangup.crop((0, y, SIDE, y + 1)))]
    top, bottom = rows[0], rows[-1] + 1
    # The bow on top reaches across the middle ...
    assert hangup.getpixel((SIDE // 2, top + 2)) == 255
    # ... and underneath, the cups reach down at both ends with nothing between them.
    low = (top + 3 * bottom) // 4
    row = [hangup.getpixel((x, low)) for x in range(SIDE)]
    assert row[SIDE // 2] == 0, row
    assert 255 in row[: SIDE // 3], row
    assert 255 in row[-SIDE // 3 :], row
    # Wider than tall, as a handset lying down is.
    columns = [x for x in range(SIDE) if _count(hangup.crop((x, 0, x + 1, SIDE)))]
    assert columns[-1] - columns[0] > 1.5 * (bottom - top), (columns, rows)
