"""The screenshot renderer writes real, non-blank PNGs with the agreed names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tablet_app.xserver import virtual_display

pytestmark = pytest.mark.tablet

REQUIRED = (
    "home",
    "messages",
    "call",
    "callvideo",
    "callmuted",
    "voice",
    "recording",
    "agenda",
    "agendamore",
    "prompt",
    "circle",
    "circlemore",
    "video",
    "gallery",
    "callmore",
    "member",
    "memberremove",
    "linkgrant",
    "link",
)


def test_every_screen_is_rendered_in_a_real_window(tmp_path: Path) -> None:
    with virtual_display(1280, 800) as display:
        env = dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1")
        result = subprocess.run(
            [sys.executable, "-m", "tablet_app.shots", str(tmp_path), "1280", "800", "ca"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    for screen in REQUIRED:
        path = tmp_path / f"tablet-{screen}-ca-1280x800.png"
        with Image.open(path) as image:
            assert image.size == (1280, 800)
            # a blank or black frame has one colour; a real screen has many
            colours = image.convert("RGB").getcolors(maxcolors=100_000)
            assert colours is None or len(colours) > 20, screen


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    with virtual_display(640, 400) as display:
        env = dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1")
        result = subprocess.run(
            [sys.executable, "-m", "tablet_app.shots", str(tmp_path), "640", "400", "fr"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode != 0
    assert "unknown language 'fr'" in result.stderr
    assert not list(tmp_path.glob("*.png"))
