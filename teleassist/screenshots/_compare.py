"""Does a committed screenshot still look like what the code renders? (issue 23)

Used by the staleness tests of every area (tests/tablet_app/test_screenshots_fresh.py,
tests/teleassist/test_web_screenshots_fresh.py). The comparison is perceptual, not byte
for byte, and pixel by pixel: a pixel of one picture is *explained* by the other when its
grey lies within ``GREY_STEP`` of the darkest and lightest grey of the 3×3 pixels around the
same place there, and a picture is stale when more than ``NOISE_PIXELS`` pixels of either are
not explained by the other.

Anti-aliasing noise (a glyph's edge drawn a little lighter or darker, the same text a
fraction of a pixel further) is explained: each pixel's grey is still found beside it. A
changed word is not: its strokes stand where the other picture has none, dozens of pixels at
the smallest text of the pages. The first measure (the picture reduced to 160×100 cells of
mean grey, stale past 0.2 % of them) was blind to that: a cell of 8×8 pixels averages one
word as grey as another, and 0.2 % of a page is a line of text
(tests/teleassist/test_screenshot_compare.py draws both cases). Rendering is deterministic
where the pictures are taken from a fixed story (an unchanged screen measures 0). Pictures
of different sizes differ entirely.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageFilter

GREY_STEP = 64  # of 255: a pixel further than this from every grey around it is a change
NOISE_PIXELS = 4  # up to this many changed pixels in a picture: rendering noise


def _unexplained(a: Image.Image, b: Image.Image) -> Image.Image:
    """How far each pixel of ``a`` lies outside the greys of the 3×3 pixels around it in ``b``."""
    darkest, lightest = b.filter(ImageFilter.MinFilter(3)), b.filter(ImageFilter.MaxFilter(3))
    return ImageChops.lighter(ImageChops.subtract(a, lightest), ImageChops.subtract(darkest, a))


def changed_pixels(a: Path, b: Path) -> tuple[int, int]:
    """Pixels of ``a`` or ``b`` that the other does not explain, and how many pixels there are
    (all of them differ when the sizes do)."""
    with Image.open(a) as first, Image.open(b) as second:
        total = first.size[0] * first.size[1]
        if first.size != second.size:
            return total, total
        grey = [im.convert("L") for im in (first, second)]
    far = ImageChops.lighter(_unexplained(*grey), _unexplained(*reversed(grey)))
    return sum(far.histogram()[GREY_STEP + 1 :]), total


def changed_share(a: Path, b: Path) -> float:
    """Share of the pixels of ``a`` and ``b`` that changed (1.0 for different sizes)."""
    changed, total = changed_pixels(a, b)
    return changed / total


def differs(a: Path, b: Path) -> bool:
    """More changed pixels than rendering noise makes."""
    return changed_pixels(a, b)[0] > NOISE_PIXELS


def stale(rendered: list[Path], committed_dir: Path) -> tuple[list[str], dict[str, int]]:
    """Names with no committed picture, and committed pictures that no longer match (with
    how many pixels changed)."""
    missing = [p.name for p in rendered if not (committed_dir / p.name).exists()]
    changed = {
        p.name: pixels
        for p in rendered
        if (committed_dir / p.name).exists()
        and (pixels := changed_pixels(p, committed_dir / p.name)[0]) > NOISE_PIXELS
    }
    return missing, changed
