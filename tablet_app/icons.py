"""Icons drawn with Kivy graphics (no image files, no borrowed art).

Each icon is drawn in a unit square and scaled to the widget: thick strokes and
simple shapes, so they read at a glance with poor sight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import (
    Color,
    Ellipse,
    Line,
    PopMatrix,
    PushMatrix,
    Rectangle,
    Rotate,
    RoundedRectangle,
    Triangle,
)
from kivy.properties import ColorProperty, StringProperty
from kivy.uix.widget import Widget

Draw = Callable[[float, float, float], None]


def _check(x: float, y: float, s: float) -> None:
    Line(
        points=[x + 0.16 * s, y + 0.52 * s, x + 0.41 * s, y + 0.27 * s, x + 0.86 * s, y + 0.75 * s],
        width=0.075 * s,
        cap="round",
        joint="round",
    )


def _bell(x: float, y: float, s: float) -> None:
    w = 0.075 * s
    Ellipse(pos=(x + 0.28 * s, y + 0.42 * s), size=(0.44 * s, 0.40 * s))
    Rectangle(pos=(x + 0.28 * s, y + 0.30 * s), size=(0.44 * s, 0.33 * s))
    RoundedRectangle(pos=(x + 0.18 * s, y + 0.24 * s), size=(0.64 * s, 0.09 * s), radius=[w / 2])
    Ellipse(pos=(x + 0.43 * s, y + 0.10 * s), size=(0.14 * s, 0.14 * s))
    Ellipse(pos=(x + 0.455 * s, y + 0.79 * s), size=(0.09 * s, 0.09 * s))
    # ringing waves on both sides
    Line(circle=(x + 0.5 * s, y + 0.55 * s, 0.40 * s, 50, 100), width=w * 0.6, cap="round")
    Line(circle=(x + 0.5 * s, y + 0.55 * s, 0.40 * s, 260, 310), width=w * 0.6, cap="round")


def _envelope(x: float, y: float, s: float) -> None:
    w = 0.06 * s
    Line(rounded_rectangle=(x + 0.1 * s, y + 0.22 * s, 0.8 * s, 0.56 * s, 0.05 * s), width=w)
    Line(
        points=[x + 0.13 * s, y + 0.74 * s, x + 0.5 * s, y + 0.45 * s, x + 0.87 * s, y + 0.74 * s],
        width=w,
        joint="round",
        cap="round",
    )


def _handset(x: float, y: float, s: float, angle: float) -> None:
    """A telephone handset standing upright, ear cup at the top and mouth cup at the
    bottom, both facing right, turned by ``angle`` degrees (anticlockwise).

    Drawn as one solid silhouette (a thick bowed handle and two big rounded cups), the
    shape people know from the old telephone, not an outline that breaks up when small.
    """
    cx, cy = x + 0.5 * s, y + 0.5 * s
    PushMatrix()
    Rotate(angle=angle, origin=(cx, cy))
    # The handle: a bow from cup to cup, bulging away from the face.
    Line(
        points=[
            x + 0.34 * s, y + 0.78 * s,
            x + 0.26 * s, y + 0.64 * s,
            x + 0.24 * s, y + 0.50 * s,
            x + 0.26 * s, y + 0.36 * s,
            x + 0.34 * s, y + 0.22 * s,
        ],
        width=0.06 * s,
        joint="round",
        cap="round",
    )  # fmt: skip
    # The cups: much wider than the handle, reaching towards the face.
    radius = [0.11 * s]
    RoundedRectangle(pos=(x + 0.27 * s, y + 0.64 * s), size=(0.40 * s, 0.28 * s), radius=radius)
    RoundedRectangle(pos=(x + 0.27 * s, y + 0.08 * s), size=(0.40 * s, 0.28 * s), radius=radius)
    PopMatrix()


def _phone(x: float, y: float, s: float) -> None:
    # Tilted as it is held to the ear: ear cup top left, mouth cup bottom right.
    _handset(x, y, s, 45)


def _hangup(x: float, y: float, s: float) -> None:
    """The handset put down: lying flat, cups facing down, under a bar (the cradle)."""
    _handset(x, y + 0.08 * s, s, -90)
    Line(
        points=[x + 0.12 * s, y + 0.16 * s, x + 0.88 * s, y + 0.16 * s],
        width=0.05 * s,
        cap="round",
    )


def _calendar(x: float, y: float, s: float) -> None:
    w = 0.06 * s
    Line(rounded_rectangle=(x + 0.14 * s, y + 0.12 * s, 0.72 * s, 0.66 * s, 0.05 * s), width=w)
    Rectangle(pos=(x + 0.14 * s, y + 0.60 * s), size=(0.72 * s, 0.18 * s))
    Line(points=[x + 0.32 * s, y + 0.70 * s, x + 0.32 * s, y + 0.88 * s], width=w, cap="round")
    Line(points=[x + 0.68 * s, y + 0.70 * s, x + 0.68 * s, y + 0.88 * s], width=w, cap="round")
    for col in range(3):
        for row in range(2):
            Rectangle(
                pos=(x + (0.25 + col * 0.19) * s, y + (0.22 + row * 0.17) * s),
                size=(0.11 * s, 0.10 * s),
            )


def _house(x: float, y: float, s: float) -> None:
    w = 0.07 * s
    Line(
        points=[x + 0.1 * s, y + 0.5 * s, x + 0.5 * s, y + 0.86 * s, x + 0.9 * s, y + 0.5 * s],
        width=w,
        cap="round",
        joint="round",
    )
    Line(
        points=[
            x + 0.22 * s,
            y + 0.56 * s,
            x + 0.22 * s,
            y + 0.12 * s,
            x + 0.78 * s,
            y + 0.12 * s,
            x + 0.78 * s,
            y + 0.56 * s,
        ],
        width=w,
        joint="round",
    )
    Rectangle(pos=(x + 0.42 * s, y + 0.12 * s), size=(0.16 * s, 0.26 * s))


def _play(x: float, y: float, s: float) -> None:
    Triangle(
        points=[x + 0.3 * s, y + 0.18 * s, x + 0.3 * s, y + 0.82 * s, x + 0.84 * s, y + 0.5 * s]
    )


def _back(x: float, y: float, s: float) -> None:
    w = 0.08 * s
    Line(points=[x + 0.85 * s, y + 0.5 * s, x + 0.2 * s, y + 0.5 * s], width=w, cap="round")
    Line(
        points=[x + 0.45 * s, y + 0.78 * s, x + 0.17 * s, y + 0.5 * s, x + 0.45 * s, y + 0.22 * s],
        width=w,
        cap="round",
        joint="round",
    )


def _forward(x: float, y: float, s: float) -> None:
    # The back arrow mirrored: "more people" on the My people pages.
    w = 0.08 * s
    Line(points=[x + 0.15 * s, y + 0.5 * s, x + 0.8 * s, y + 0.5 * s], width=w, cap="round")
    Line(
        points=[x + 0.55 * s, y + 0.78 * s, x + 0.83 * s, y + 0.5 * s, x + 0.55 * s, y + 0.22 * s],
        width=w,
        cap="round",
        joint="round",
    )


def _cross(x: float, y: float, s: float) -> None:
    w = 0.08 * s
    Line(points=[x + 0.22 * s, y + 0.22 * s, x + 0.78 * s, y + 0.78 * s], width=w, cap="round")
    Line(points=[x + 0.22 * s, y + 0.78 * s, x + 0.78 * s, y + 0.22 * s], width=w, cap="round")


def _people(x: float, y: float, s: float) -> None:
    for cx, r in ((0.34, 0.13), (0.68, 0.11)):
        Ellipse(pos=(x + (cx - r) * s, y + 0.58 * s), size=(2 * r * s, 2 * r * s))
        Ellipse(
            pos=(x + (cx - r * 1.9) * s, y + 0.12 * s),
            size=(r * 3.8 * s, r * 3.4 * s),
            angle_start=-90,
            angle_end=90,
        )


def _microphone(x: float, y: float, s: float) -> None:
    w = 0.07 * s
    RoundedRectangle(pos=(x + 0.37 * s, y + 0.40 * s), size=(0.26 * s, 0.48 * s), radius=[0.13 * s])
    Line(circle=(x + 0.5 * s, y + 0.55 * s, 0.23 * s, 90, 270), width=w, cap="round")
    Line(points=[x + 0.5 * s, y + 0.32 * s, x + 0.5 * s, y + 0.14 * s], width=w, cap="round")
    Line(points=[x + 0.34 * s, y + 0.12 * s, x + 0.66 * s, y + 0.12 * s], width=w, cap="round")


def _camera(x: float, y: float, s: float) -> None:
    w = 0.06 * s
    Line(rounded_rectangle=(x + 0.1 * s, y + 0.22 * s, 0.8 * s, 0.52 * s, 0.06 * s), width=w)
    RoundedRectangle(pos=(x + 0.34 * s, y + 0.72 * s), size=(0.32 * s, 0.12 * s), radius=[w])
    Line(circle=(x + 0.5 * s, y + 0.48 * s, 0.15 * s), width=w)


ICONS: dict[str, Draw] = {
    "check": _check,
    "bell": _bell,
    "envelope": _envelope,
    "phone": _phone,
    "hangup": _hangup,
    "calendar": _calendar,
    "house": _house,
    "play": _play,
    "back": _back,
    "forward": _forward,
    "cross": _cross,
    "people": _people,
    "microphone": _microphone,
    "camera": _camera,
}


class Icon(Widget):
    """A square icon centred in the widget, drawn in ``color``."""

    name = StringProperty("check")
    color = ColorProperty([1, 1, 1, 1])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, name=self._redraw, color=self._redraw)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        self.canvas.clear()
        draw = ICONS.get(self.name)
        if draw is None:
            return
        side = min(self.width, self.height)
        x = self.x + (self.width - side) / 2
        y = self.y + (self.height - side) / 2
        with self.canvas:
            Color(*self.color)
            draw(x, y, side)
