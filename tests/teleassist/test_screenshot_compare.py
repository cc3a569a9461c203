"""The screenshots' staleness measure (teleassist/screenshots/_compare.py, issue 23) sees a
word changed in a button and lets anti-aliasing noise through.

The pictures are drawn here with Pillow: a page with a heading and a button whose text is
drawn at four times the size and reduced, anti-aliased as a browser or Kivy draws text. The
noise is the same page drawn a quarter of a pixel to a whole pixel further right and down
(every glyph edge shaded differently) with a few grey levels of random grain on every pixel.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from teleassist.screenshots._compare import (
    NOISE_PIXELS,
    changed_pixels,
    changed_share,
    differs,
    stale,
)

PAGE = (560, 240)
SCALE = 4  # drawn at 4× and reduced: anti-aliased text


def _page(label: str, text_px: int, *, quarter_pixels: int = 0, grain: int = 0) -> Image.Image:
    """A light page with a heading and a blue button saying ``label``."""
    big = Image.new("RGB", (PAGE[0] * SCALE, PAGE[1] * SCALE), (236, 240, 244))
    draw = ImageDraw.Draw(big)
    font = ImageFont.load_default(size=text_px * SCALE)
    shift = quarter_pixels  # one pixel of the 4× picture: a quarter of a pixel
    draw.text((20 * SCALE + shift, 20 * SCALE + shift), "Period: 3 Dec 2026",
              font=font, fill=(20, 30, 50))  # fmt: skip
    x, y = 120 * SCALE, 110 * SCALE
    box = (x, y, x + 320 * SCALE, y + (text_px + 28) * SCALE)
    draw.rounded_rectangle(box, 8 * SCALE, fill=(30, 80, 160))
    draw.text((x + 24 * SCALE + shift, y + 14 * SCALE + shift), label, font=font,
              fill=(255, 255, 255))  # fmt: skip
    page = big.resize(PAGE, Image.Resampling.LANCZOS)
    if grain:
        rng = random.Random(23)
        noise = bytes(128 + rng.randint(-grain, grain) for _ in range(PAGE[0] * PAGE[1]))
        plane = Image.frombytes("L", PAGE, noise)
        page = Image.merge(
            "RGB", [ImageChops.add(ch, plane, scale=1.0, offset=-128) for ch in page.split()]
        )
    return page


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


@pytest.mark.parametrize("text_px", [12, 14, 16, 30])
@pytest.mark.parametrize(
    ("before", "after"),
    [("Save", "Send"), ("Desa", "Envia"), ("Sign out", "Sign in"), ("I'll go", "I won't go")],
)
def test_a_different_word_in_a_button_is_seen(
    tmp_path: Path, before: str, after: str, text_px: int
) -> None:
    (tmp_path / "committed").mkdir()
    committed = _save(_page(before, text_px), tmp_path / "committed" / "page.png")
    rendered = _save(_page(after, text_px), tmp_path / "page.png")
    changed = changed_pixels(rendered, committed)[0]
    assert differs(rendered, committed), changed
    assert stale([rendered], committed.parent) == ([], {"page.png": changed})


@pytest.mark.parametrize("text_px", [12, 14, 16, 30])
def test_anti_aliasing_noise_alone_is_not_a_change(tmp_path: Path, text_px: int) -> None:
    (tmp_path / "committed").mkdir()
    committed = _save(_page("Send", text_px), tmp_path / "committed" / "page.png")
    for quarters in (0, 1, 2, 3, 4):
        moved = _page("Send", text_px, quarter_pixels=quarters, grain=6)
        rendered = _save(moved, tmp_path / "page.png")
        assert changed_pixels(rendered, committed)[0] <= NOISE_PIXELS, quarters
        assert not differs(rendered, committed)
        assert stale([rendered], committed.parent) == ([], {})


def test_the_same_picture_and_a_picture_of_another_size(tmp_path: Path) -> None:
    page = _save(_page("Send", 16), tmp_path / "a.png")
    assert changed_pixels(page, page)[0] == 0
    assert changed_share(page, page) == 0.0
    small = _save(Image.new("RGB", (640, 400)), tmp_path / "small.png")
    assert changed_share(page, small) == 1.0
    assert differs(page, small)
    assert stale([small], tmp_path / "nowhere") == (["small.png"], {})
