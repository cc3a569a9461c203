"""Video on the call screen: the other person large, the resident's own camera small.

The call engine (``tablet_app.calls``) keeps the newest frame of each side in a
:class:`FrameFeed`; a :class:`VideoView` looks at it on Kivy's clock (15 times a
second, no busy loop) and, when a new frame is there, copies it into a Kivy texture.
Until the first frame arrives the caller's face is shown instead. Whoever builds a view
stops it (:meth:`VideoView.stop`) when the screen holding it is rebuilt or dropped, so
rebuilt screens leave no clock running behind. (A view cannot tell on its own: it may be
taken off the screen before its clock ever looked at it while it was shown.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.widget import Widget

FPS = 15.0


class FrameFeed(Protocol):
    """Where a view finds frames: a count and the newest frame (an ``av.VideoFrame``)."""

    frames: int
    last: Any


Feed = Callable[[], "FrameFeed | None"]


def rgba_pixels(frame: Any) -> tuple[int, int, bytes]:
    """``(width, height, RGBA bytes top row first)`` of an ``av.VideoFrame``."""
    rgba = frame.reformat(format="rgba")
    width, height = rgba.width, rgba.height
    plane = rgba.planes[0]
    data = bytes(plane)
    row = width * 4
    if plane.line_size != row:  # rows are padded for alignment: drop the padding
        data = b"".join(
            data[y * plane.line_size : y * plane.line_size + row] for y in range(height)
        )
    return width, height, data


class VideoView(Widget):
    """Draws the newest frame of ``feed`` fitted into the widget (black bars if needed).

    ``placeholder`` (e.g. the caller's face) is shown until the first frame; without one
    the view draws nothing until then.
    """

    name = StringProperty("")
    has_frame = BooleanProperty(False)

    def __init__(
        self,
        feed: Feed,
        *,
        placeholder: Widget | None = None,
        border: tuple[float, float, float, float] | None = None,
        fps: float = FPS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._feed = feed
        self._placeholder = placeholder
        self._border = border
        self._seen = 0
        self._source: FrameFeed | None = None
        self.texture: Texture | None = None
        self.video_rect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.frames_shown = 0  # frames copied to the screen so far
        if placeholder is not None:
            self.add_widget(placeholder)
        self.bind(pos=self._layout, size=self._layout)
        self._event = Clock.schedule_interval(self._poll, 1.0 / fps)
        self._poll(0.0)

    def _poll(self, _dt: float) -> None:
        """One look at the feed."""
        source = self._feed()
        if source is not self._source:  # a new call: start counting again
            self._source, self._seen = source, 0
        if source is None or source.last is None or source.frames == self._seen:
            return
        self._seen = source.frames
        self._show(source.last)

    def stop(self) -> None:
        """Stop looking at the feed (the view is leaving the screen for good)."""
        self._event.cancel()

    def _show(self, frame: Any) -> None:
        width, height, data = rgba_pixels(frame)
        if self.texture is None or self.texture.size != (width, height):
            self.texture = Texture.create(size=(width, height), colorfmt="rgba")
            self.texture.flip_vertical()  # frames come top row first, OpenGL wants bottom
        self.texture.blit_buffer(data, colorfmt="rgba", bufferfmt="ubyte")
        self.frames_shown += 1
        if not self.has_frame:
            self.has_frame = True
            if self._placeholder is not None:
                self.remove_widget(self._placeholder)
        self._layout()

    def _layout(self, *_: object) -> None:
        if self._placeholder is not None and not self.has_frame:
            self._placeholder.pos = self.pos
            self._placeholder.size = self.size
        self.canvas.before.clear()
        if self.texture is None or not self.has_frame:
            return
        tw, th = self.texture.size
        scale = min(self.width / tw, self.height / th) if tw and th else 0.0
        w, h = tw * scale, th * scale
        x, y = self.x + (self.width - w) / 2, self.y + (self.height - h) / 2
        self.video_rect = (x, y, w, h)
        with self.canvas.before:
            Color(1, 1, 1, 1)
            Rectangle(texture=self.texture, pos=(x, y), size=(w, h))
            if self._border is not None:
                Color(*self._border)
                Line(rectangle=(x, y, w, h), width=3)
