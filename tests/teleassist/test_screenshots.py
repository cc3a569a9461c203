"""``teleassist screenshots DIR`` runs to the end and writes every screen it promises.

The README's command for regenerating ``docs/screenshots/`` is run as a user runs it
(a child process, a real hub, headless Chromium, Kivy under Xvfb). To keep CI short, the
operator console (the part that broke: its card is redrawn by live updates, and every
language and size reveals the same key-safe code) runs in two languages; every other
surface runs once, in Spanish.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tablet_app.shots import scenes
from teleassist.screenshots import family, operator, service, tablet, visor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1200  # a guard against a hang, not a measure: CI runs two workers at once


def _expected(
    area: str, screens: list[str], sizes: tuple[tuple[int, int], ...], langs: list[str]
) -> set[str]:
    return {
        f"{area}-{screen}-{lang}-{w}x{h}.png"
        for screen in screens
        for lang in langs
        for w, h in sizes
    }


def _run(out_dir: Path, *args: str) -> list[Path]:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "screenshots", str(out_dir), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [Path(line) for line in result.stdout.splitlines() if line.endswith(".png")]


def _check_pictures(out_dir: Path, written: list[Path], expected: set[str]) -> None:
    """Every expected file was written and listed, and is a real picture of its size (a
    page that scrolls is shot whole: as wide as the window, at least as tall)."""
    assert expected <= {p.name for p in written}
    for name in sorted(expected):
        width, height = (int(n) for n in name.removesuffix(".png").rsplit("-", 1)[1].split("x"))
        with Image.open(out_dir / name) as image:
            assert image.format == "PNG", name
            assert image.width == width, name
            assert image.height >= height, name
            # A blank or failed page has a handful of colours; a real screen has many.
            colours = image.convert("RGB").getcolors(maxcolors=100_000)
            assert colours is None or len(colours) > 20, name


def test_the_operator_console_in_two_languages(tmp_path: Path) -> None:
    langs = ["ca", "en"]
    written = _run(tmp_path, "--area", "operator", *(f"--lang={lang}" for lang in langs))
    expected = _expected(
        "operator",
        ["queue", "card", "supervisor", "voice", "listen", "voice-listened"],
        operator.SIZES,
        langs,
    )
    _check_pictures(tmp_path, written, expected)


@pytest.mark.tablet
def test_every_other_surface_once(tmp_path: Path) -> None:
    areas = ["family", "service", "tablet", "visor"]
    written = _run(tmp_path, "--lang=es", *(f"--area={area}" for area in areas))
    lang = ["es"]
    expected = (
        _expected(
            "family",
            ["home", "status", "chat", "agenda", "groups", "call-incoming", "call"],
            (family.PHONE,),
            lang,
        )
        | _expected(
            "service",
            [
                *("form", "list", "list_suspended", "new_referral", "assessment", "referral"),
                *("work_order", "work_order_tablet", "suspended", "discharged", "figures"),
            ],
            ((service.WIDTH, service.HEIGHT),),
            lang,
        )
        | _expected("service", ["work_orders", "work_order"], (service.PHONE,), lang)
        | _expected("tablet", [n.replace("_", "") for n in scenes()], tablet.SIZES, lang)
        | _expected("visor", ["start", "resident"], visor.SIZES, lang)
    )
    _check_pictures(tmp_path, written, expected)
