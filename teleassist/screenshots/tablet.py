"""Screenshots of the resident's tablet: every screen at 1280×800 and 1920×1200.

Kivy fixes its window size at start-up, so each size renders in its own process,
under an Xvfb display of that size started here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tablet_app.xserver import virtual_display

AREA = "tablet"
SIZES = ((1280, 800), (1920, 1200))
TIMEOUT_S = 600


def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write ``tablet-<screen>-<lang>-<W>x<H>.png`` for every screen, language and size."""
    written: list[Path] = []
    for width, height in SIZES:
        with virtual_display(width, height) as display:
            env = dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1")
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tablet_app.shots",
                    str(out_dir),
                    str(width),
                    str(height),
                    *languages,
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"tablet screenshots at {width}x{height} failed:\n{result.stderr[-2000:]}"
            )
        written.extend(Path(line) for line in result.stdout.splitlines() if line.endswith(".png"))
    return written
