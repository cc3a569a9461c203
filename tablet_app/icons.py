"""Icons drawn with Kivy graphics (no image files, no borrowed art).

Each icon is drawn in a unit square and scaled to the widget: thick strokes and
simple shapes, so they read at a glance with poor sight.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.graphics import (
    Color,
    Ellipse,
    Line,
    Mesh,
    Rectangle,
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


# The handset's outline, drawn once in a unit square (y up): a thick bow whose concave
# side faces the top right (the face), ending in two cups that reach towards the face:
# the ear cup at the top left, the mouth cup at the bottom right. Everyone recognises
# this silhouette from the old telephone; a thin bow between two boxes (the first
# drawing) read as a pair of headphones or a magnet.
_CENTRE = (0.88, 0.88)
_OUTER = 0.74  # radius of the outer, convex edge
_BODY = 0.58  # radius of the inner edge along the handle: the handle is 0.16 thick
_CUP = 0.38  # radius of the inner edge at the cups: they are 0.36 deep


def _inner_radius(degrees: float) -> float:
    """The inner edge's radius at ``degrees`` (180 = the ear end, 270 = the mouth end)."""
    from_end = min(degrees - 180, 270 - degrees)
    if from_end <= 20:
        return _CUP
    if from_end >= 32:
        return _BODY
    return _CUP + (_BODY - _CUP) * (from_end - 20) / 12


def _handset_outline() -> list[tuple[float, float]]:
    cx, cy = _CENTRE
    steps = [180 + 2.5 * i for i in range(37)]
    outer = [(_OUTER, a) for a in steps]
    inner = [(_inner_radius(a), a) for a in reversed(steps)]
    return [
        (cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
        for r, a in outer + inner
    ]


_HANDSET = _handset_outline()


def _handset(x: float, y: float, s: float, angle: float, scale: float) -> None:
    """The handset turned by ``angle`` degrees (anticlockwise) and shrunk by ``scale``
    about its own middle, filled solid and with its corners rounded."""
    xs = [p[0] for p in _HANDSET]
    ys = [p[1] for p in _HANDSET]
    mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    points = [
        (
            x + s * (0.5 + scale * ((px - mx) * cos - (py - my) * sin)),
            y + s * (0.5 + scale * ((px - mx) * sin + (py - my) * cos)),
        )
        for px, py in _HANDSET
    ]
    # The outline runs along the outer edge, then back along the inner one: pair them
    # up as a strip of triangles from end to end.
    half = len(points) // 2
    strip: list[float] = []
    for (ox, oy), (ix, iy) in zip(points[:half], reversed(points[half:]), strict=True):
        strip += [ox, oy, 0, 0, ix, iy, 0, 0]
    Mesh(vertices=strip, indices=list(range(len(strip) // 4)), mode="triangle_strip")
    # A round-jointed line around it softens the corners as on the real thing.
    flat = [c for point in points for c in point]
    Line(points=flat, width=0.025 * s, joint="round", close=True)


def _phone(x: float, y: float, s: float) -> None:
    # As it is held to the ear: ear cup top left, mouth cup bottom right.
    _handset(x, y, s, 0, 1.0)


def _hangup(x: float, y: float, s: float) -> None:
    """The handset put down: lying level, bow on top and both cups facing down, as on
    every telephone's red "end call" key."""
    _handset(x, y, s, -135, 0.78)


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


def _speaker(x: float, y: float, s: float) -> None:
    """A loudspeaker facing right: a box and its cone, filled."""
    Rectangle(pos=(x + 0.08 * s, y + 0.38 * s), size=(0.16 * s, 0.24 * s))
    Mesh(
        vertices=[
            x + 0.22 * s, y + 0.38 * s, 0, 0,
            x + 0.22 * s, y + 0.62 * s, 0, 0,
            x + 0.50 * s, y + 0.82 * s, 0, 0,
            x + 0.50 * s, y + 0.18 * s, 0, 0,
        ],
        indices=[0, 1, 2, 3],
        mode="triangle_fan",
    )  # fmt: skip


def _speaker_up(x: float, y: float, s: float) -> None:
    """Louder: the loudspeaker and a big plus."""
    w = 0.08 * s
    _speaker(x, y, s)
    Line(points=[x + 0.62 * s, y + 0.5 * s, x + 0.92 * s, y + 0.5 * s], width=w, cap="round")
    Line(points=[x + 0.77 * s, y + 0.35 * s, x + 0.77 * s, y + 0.65 * s], width=w, cap="round")


def _speaker_down(x: float, y: float, s: float) -> None:
    """Softer: the loudspeaker and a big minus."""
    _speaker(x, y, s)
    Line(points=[x + 0.62 * s, y + 0.5 * s, x + 0.92 * s, y + 0.5 * s], width=0.08 * s, cap="round")


def _microphone_off(x: float, y: float, s: float) -> None:
    """The microphone struck through: nobody hears you."""
    _microphone(x, y, s)
    Line(
        points=[x + 0.16 * s, y + 0.88 * s, x + 0.84 * s, y + 0.08 * s], width=0.08 * s, cap="round"
    )


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
    "speaker_up": _speaker_up,
    "speaker_down": _speaker_down,
    "microphone_off": _microphone_off,
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
