"""Colours and sizes of the tablet, in a normal and a high-contrast variant.

Sizes are in *units* of 1/800 of the window height, so the layout looks the same on a
1280×800 and a 1920×1200 tablet of the same physical size (both ~10 inches). On a
10.1-inch 1280×800 screen one unit is ~0.17 mm: the smallest touch target we draw
(``MIN_TARGET_UNITS`` = 90 units) is ~15 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

RGBA = tuple[float, float, float, float]

# 10.1-inch, 16:10 screen: 217 mm wide over 1280 px, the same on 1920 px at 1.5 units/px.
MM_PER_UNIT = 217.0 / 1280.0
MIN_TARGET_MM = 15.0
MIN_TARGET_UNITS = 90


def rgba(hex_colour: str, alpha: float = 1.0) -> RGBA:
    """``"#1E7B34"`` as a Kivy colour tuple."""
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return (r, g, b, alpha)


@dataclass(frozen=True, slots=True)
class Palette:
    """Every colour a screen uses."""

    background: RGBA
    surface: RGBA
    text: RGBA
    text_soft: RGBA
    on_button: RGBA
    ok: RGBA
    help: RGBA
    messages: RGBA
    call: RGBA
    agenda: RGBA
    neutral: RGBA
    badge: RGBA
    on_badge: RGBA
    offline: RGBA
    on_offline: RGBA
    border: RGBA
    border_width: float


NORMAL = Palette(
    background=rgba("#F6F2EA"),
    surface=rgba("#FFFFFF"),
    text=rgba("#1A1A1A"),
    text_soft=rgba("#4A4A4A"),
    on_button=rgba("#FFFFFF"),
    ok=rgba("#1B7A33"),
    help=rgba("#C0261F"),
    messages=rgba("#1E5AA8"),
    call=rgba("#00695C"),
    agenda=rgba("#6A3A96"),
    neutral=rgba("#4B4F58"),
    badge=rgba("#FFD400"),
    on_badge=rgba("#1A1A1A"),
    offline=rgba("#FFE9B0"),
    on_offline=rgba("#5A3A00"),
    border=rgba("#00000000", 0.0),
    border_width=0.0,
)

HIGH_CONTRAST = Palette(
    background=rgba("#000000"),
    surface=rgba("#000000"),
    text=rgba("#FFFFFF"),
    text_soft=rgba("#FFFF66"),
    on_button=rgba("#FFFFFF"),
    ok=rgba("#006B1F"),
    help=rgba("#B00000"),
    messages=rgba("#0038A8"),
    call=rgba("#005048"),
    agenda=rgba("#4B1C7A"),
    neutral=rgba("#303030"),
    badge=rgba("#FFFF00"),
    on_badge=rgba("#000000"),
    offline=rgba("#FFFF00"),
    on_offline=rgba("#000000"),
    border=rgba("#FFFFFF"),
    border_width=4.0,
)


def palette(high_contrast: bool) -> Palette:
    """The palette for the resident's setting."""
    return HIGH_CONTRAST if high_contrast else NORMAL


@dataclass(frozen=True, slots=True)
class Sizes:
    """Sizes in pixels for a window ``height`` and a font ``scale``."""

    height: float
    scale: float = 1.0

    @property
    def unit(self) -> float:
        """Pixels per layout unit."""
        return self.height / 800.0

    def u(self, units: float) -> float:
        """``units`` in pixels."""
        return units * self.unit

    def font(self, units: float) -> float:
        """A font size of ``units``, scaled by the resident's font setting."""
        return units * self.unit * self.scale

    @property
    def min_target(self) -> float:
        """The smallest touch target in pixels (~15 mm)."""
        return MIN_TARGET_UNITS * self.unit
