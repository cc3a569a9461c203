"""A real Kivy window on a private Xvfb display, shared by the tablet's window tests."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tablet_app.xserver import virtual_display

# The real hub with its family API, for the tablet's client tests (tests/family/conftest.py).
from tests.family.conftest import world  # noqa: F401

WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="session")
def kivy_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Kivy's window (one per process), on an Xvfb display started for this session."""
    with virtual_display(WIDTH, HEIGHT) as display:
        os.environ["DISPLAY"] = display
        os.environ["KIVY_HOME"] = str(tmp_path_factory.mktemp("kivy-home"))
        from tablet_app.kivyenv import prepare_kivy

        prepare_kivy(WIDTH, HEIGHT)
        from kivy.base import EventLoop
        from kivy.core.window import Window

        EventLoop.ensure_window()
        yield Window
        # Kivy cannot reopen a window in the same process; leave it for interpreter exit.


def pump(frames: int = 3) -> None:
    """Let Kivy lay out and draw a few frames."""
    from kivy.base import EventLoop

    for _ in range(frames):
        EventLoop.idle()


async def pump_until(check: Callable[[], object], timeout: float = 30.0) -> None:
    """Draw Kivy frames, letting the event loop run between them, until ``check()``."""
    async with asyncio.timeout(timeout):
        while not check():
            pump(1)
            await asyncio.sleep(0.02)


def tap(widget: Any) -> None:
    """Touch ``widget`` at its centre like a finger: down, then up, through the window."""
    from kivy.tests.common import UnitTestTouch

    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    pump(1)
    touch.touch_up()
    pump(2)


def assert_fits(text: Any, min_font: float, context: object) -> None:
    """``text`` (a drawn Text label) shows all its words at ``min_font`` px or more."""
    from kivy.core.text import Label as CoreLabel

    # The label draws into a box of its own size and cuts what does not fit:
    # lay the text out again with only the width fixed to see what it needs.
    needed = CoreLabel(
        text=text.text, font_size=text.font_size, bold=text.bold, text_size=(text.width, None)
    )
    needed.refresh()
    width, height = needed.texture.size
    assert height <= text.height + 2, (context, text.text)
    assert width <= text.width + 2, (context, text.text)
    assert text.font_size >= min_font, (context, text.text)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The hub's database for the tablet's tests: SQLite only.

    The hub's own tests run every query on SQLite and PostgreSQL; the tablet tests check
    the tablet's behaviour, which does not depend on the hub's database.
    """
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"
