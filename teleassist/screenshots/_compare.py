"""Does a committed screenshot still look like what the code renders? (issue 23)

Used by the staleness tests of every area (tests/tablet_app/test_screenshots_fresh.py,
tests/teleassist/test_web_screenshots_fresh.py). The comparison is perceptual, not byte
for byte: both pictures are reduced to 160×100 grey cells and the share of cells whose grey
level differs by more than 24 is measured. Rendering is deterministic where the pictures
are taken from a fixed story (0 on an unchanged screen); one changed line of text moves it
past 0.2 %. Pictures of different sizes (a page that grew) differ entirely.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops

CELLS = (160, 100)
GREY_STEP = 24
TOLERANCE = 0.002


def changed_share(a: Path, b: Path) -> float:
    """Share of the reduced grey cells of ``a`` and ``b`` that differ by more than a step."""
    with Image.open(a) as first, Image.open(b) as second:
        if first.size != second.size:
            return 1.0
        small = [im.convert("L").resize(CELLS, Image.Resampling.BOX) for im in (first, second)]
    counts = ImageChops.difference(*small).histogram()
    return sum(counts[GREY_STEP + 1 :]) / (CELLS[0] * CELLS[1])


def stale(rendered: list[Path], committed_dir: Path) -> tuple[list[str], dict[str, float]]:
    """Names with no committed picture, and committed pictures that no longer match."""
    missing = [p.name for p in rendered if not (committed_dir / p.name).exists()]
    changed = {
        p.name: round(share, 4)
        for p in rendered
        if (committed_dir / p.name).exists()
        and (share := changed_share(p, committed_dir / p.name)) > TOLERANCE
    }
    return missing, changed
