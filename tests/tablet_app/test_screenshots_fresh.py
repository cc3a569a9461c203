"""The committed tablet screenshots are what the code draws today (issue 23).

Every tablet screen is rendered at 1280×800 and 1920×1200 in Catalan, Spanish and English, as
``teleassist screenshots`` does, and compared with ``docs/screenshots/``: a screen with no
committed picture fails, and so does one whose picture no longer looks like the screen.
The comparison is perceptual, not byte for byte (teleassist/screenshots/_compare.py, shared
with the web areas' check; tests/teleassist/test_screenshot_compare.py tests the measure).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tablet_app.xserver import virtual_display
from teleassist.screenshots._compare import stale

pytestmark = pytest.mark.tablet

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "screenshots"
SIZES = ((1280, 800), (1920, 1200))  # the sizes teleassist screenshots writes
LANGUAGES = ("ca", "es", "en")
REGENERATE = (
    "teleassist screenshots docs/screenshots --area tablet "
    "(or python -m tablet_app.shots docs/screenshots W H ca es en under Xvfb)"
)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_committed_tablet_screenshot_matches_its_screen(
    tmp_path: Path, width: int, height: int
) -> None:
    with virtual_display(width, height) as display:
        result = subprocess.run(
            [sys.executable, "-m", "tablet_app.shots", str(tmp_path), str(width),
             str(height), *LANGUAGES],
            env=dict(os.environ, DISPLAY=display, KIVY_NO_CONSOLELOG="1"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=ROOT,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rendered = sorted(Path(line) for line in result.stdout.splitlines() if line.endswith(".png"))
    assert len(rendered) >= 3 * 20  # every scene, in three languages
    missing, changed = stale(rendered, COMMITTED)
    assert not missing, f"no committed screenshot for {missing}; regenerate: {REGENERATE}"
    assert not changed, (
        f"committed screenshots no longer match their screens {changed}; {REGENERATE}"
    )
