"""Prepare Kivy's environment before it is imported (it reads it at import time).

Kivy parses ``sys.argv``, writes ``~/.kivy`` and installs its own logging unless told
otherwise; the window size is fixed when the window is created.
"""

from __future__ import annotations

import os
import sys
import tempfile


def prepare_kivy(
    width: int | None = None,
    height: int | None = None,
    *,
    home: str | None = None,
    fullscreen: bool = False,
    python_logging: bool = True,
) -> None:
    """Set Kivy's environment and window size; call before the first ``import kivy``."""
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    if python_logging:
        os.environ["KIVY_LOG_MODE"] = "PYTHON"
    if "KIVY_HOME" not in os.environ:
        os.environ["KIVY_HOME"] = home or tempfile.mkdtemp(prefix="ta-kivy-")
    if "kivy" in sys.modules and width is None:
        return
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("graphics", "resizable", "0")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
    if width is not None and height is not None:
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
