"""The few Kivy widgets every screen is made of: big buttons, text, faces and badges.

Interactive widgets carry a ``name`` ("home.ok", "call.face.maria") so tests can find
them and touch them like a finger would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.core.image import Image as CoreImage
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.properties import ColorProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from tablet_app.icons import ICONS, Icon
from tablet_app.model import GROUP_PREFIX
from tablet_app.theme import RGBA, Palette, Sizes
from tablet_app.wording import initials


class Text(Label):
    """A wrapped, centred label that fills its box.

    Lines break between words, never inside one: a word wider than the box ("neighbour"
    on a face's button) makes the font smaller until it fits, as Kivy would otherwise cut
    it ("neighbou" / "r"). A ``shorten`` label keeps its size and ends with an ellipsis.
    """

    name = StringProperty("")

    def __init__(self, text: str, *, font_size: float, color: RGBA, **kwargs: Any) -> None:
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        super().__init__(text=text, font_size=font_size, color=color, **kwargs)
        self._wanted = font_size
        self.bind(size=self._wrap, text=self._wrap)
        self._wrap()

    def _wrap(self, *_: object) -> None:
        self.text_size = (self.width, self.height)
        if not self.shorten:
            self.font_size = self._word_fit()

    def _word_fit(self) -> float:
        """The wanted font size, or the largest smaller one at which every word fits."""
        room = float(self.width - 2 * self.padding_x)
        words = self.text.split()
        wanted = float(self._wanted)
        if room <= 0 or not words:
            return wanted
        measure = CoreLabel(font_size=wanted, bold=self.bold, font_name=self.font_name)
        widest = float(max(measure.get_extents(word)[0] for word in words))
        if widest <= room:
            return wanted
        size = wanted * room / widest
        while size > 1:
            measure.options["font_size"] = size
            if max(measure.get_extents(word)[0] for word in words) <= room:
                break
            size -= 1
        return max(size, 1)


class TimeBar(Widget):
    """A thick rounded bar that empties as time runs out (``value`` 1.0 → 0.0)."""

    name = StringProperty("")
    value = NumericProperty(1.0)
    fill = ColorProperty([0, 0, 0, 1])
    track = ColorProperty([0.8, 0.8, 0.8, 1])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, value=self._redraw)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        self.canvas.clear()
        radius = [self.height / 2]
        with self.canvas:
            Color(*self.track)
            RoundedRectangle(pos=self.pos, size=self.size, radius=radius)
            share = min(1.0, max(0.0, float(self.value)))
            if share > 0:
                Color(*self.fill)
                width = max(self.height, self.width * share)
                RoundedRectangle(pos=self.pos, size=(width, self.height), radius=radius)


DISABLED_ALPHA = 0.55  # how much of a greyed-out button's words and picture show
DISABLED_GREY = 0.72  # the light grey a greyed-out button's colour is mixed with


class BigButton(ButtonBehavior, BoxLayout):
    """A large rounded button with an icon and a label, and an optional badge."""

    name = StringProperty("")
    fill = ColorProperty([0, 0, 0, 1])
    badge = StringProperty("")
    badge_color = ColorProperty([1, 0.83, 0, 1])
    badge_text_color = ColorProperty([0, 0, 0, 1])
    radius = NumericProperty(24)
    border_width = NumericProperty(0)

    def __init__(
        self,
        *,
        name: str,
        label: str,
        icon: str | None,
        fill: RGBA,
        sizes: Sizes,
        palette: Palette,
        on_tap: Callable[[], None],
        font_units: float = 46,
        vertical: bool = True,
        icon_share: float = 0.5,  # the picture's size hint against the label's 1.0
        text_color: RGBA | None = None,
        picture: Widget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            orientation="vertical" if vertical else "horizontal",
            padding=sizes.u(14),
            spacing=sizes.u(8),
            **kwargs,
        )
        self.name = name
        self.fill = fill
        self.radius = sizes.u(26)
        self.border_width = palette.border_width
        self._border = palette.border
        self._badge_font = sizes.font(40)
        self.badge_color = palette.badge
        self.badge_text_color = palette.on_badge
        self._on_tap = on_tap
        colour = text_color or palette.on_button
        if picture is not None:
            picture.size_hint = (1, icon_share) if vertical else (icon_share, 1)
            self.add_widget(picture)
        elif icon:
            hint = (1, icon_share) if vertical else (icon_share, 1)
            self.add_widget(Icon(name=icon, color=colour, size_hint=hint))
        self.label = Text(
            label, font_size=sizes.font(font_units), color=colour, bold=True, size_hint=(1, 1)
        )
        # A button that cannot act now (Louder at the loudest step) stays in its place,
        # greyed out: its words and picture faded, its colour pale. Kivy's ``disabled``
        # already ignores the touch.
        self.label.disabled_color = (*colour[:3], DISABLED_ALPHA)
        self.add_widget(self.label)
        self.bind(
            pos=self._redraw, size=self._redraw, state=self._redraw, badge=self._redraw,
            disabled=self._redraw,
        )  # fmt: skip
        self._redraw()

    def on_release(self) -> None:
        """Run the button's action."""
        self._on_tap()

    def _redraw(self, *_: object) -> None:
        r, g, b, a = self.fill
        if self.disabled:
            # Opaque (it may sit over a call's video) and pale: halfway to a light grey.
            r, g, b = ((c + DISABLED_GREY) / 2 for c in (r, g, b))
            for child in self.children:
                if child is not self.label:
                    child.opacity = DISABLED_ALPHA
        else:
            for child in self.children:
                child.opacity = 1
            if self.state == "down":
                r, g, b = r * 0.75, g * 0.75, b * 0.75
        self.canvas.before.clear()
        with self.canvas.before:
            Color(r, g, b, a)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
            if self.border_width:
                Color(*self._border)
                Line(
                    rounded_rectangle=(*self.pos, *self.size, self.radius),
                    width=self.border_width,
                )
        self.canvas.after.clear()
        if self.badge:
            self._draw_badge()

    def _draw_badge(self) -> None:
        text = CoreLabel(text=self.badge, font_size=self._badge_font, bold=True)
        text.refresh()
        texture = text.texture
        side = max(texture.width, texture.height) * 1.5
        x = self.right - side * 0.85
        y = self.top - side * 0.85
        with self.canvas.after:
            Color(*self.badge_color)
            Ellipse(pos=(x, y), size=(side, side))
            Color(*self.badge_text_color)
            Line(circle=(x + side / 2, y + side / 2, side / 2), width=2)
            Rectangle(
                texture=texture,
                pos=(x + (side - texture.width) / 2, y + (side - texture.height) / 2),
                size=texture.size,
            )


# ---------------------------------------------------------------- faces

_BACKGROUNDS = ("#F4C7A1", "#B9D7EA", "#C8E6C9", "#F8BBD0", "#FFE082", "#D1C4E9")
_INITIALS_INK = "#1C1C1C"  # dark on every pastel background above (contrast over 10:1)


def _pick(options: tuple[str, ...], key: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return options[digest[0] % len(options)]


def _hex(colour: str) -> RGBA:
    from tablet_app.theme import rgba

    return rgba(colour)


class Face(Widget):
    """A person's picture: their photo if there is one, else their initials on a tile.

    The review found the drawn cartoon faces gave people the wrong gender and hair; a
    resident recognises initials and a colour, and is never told something untrue.
    """

    person = StringProperty("")
    photo = StringProperty("")
    # not ``name``: that is how tests and screens look widgets up
    person_name = StringProperty("")

    def __init__(
        self, person: str, photo: str | None = None, *, name: str = "", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.person = person
        self.photo = photo or ""
        self.person_name = name
        self._texture: Any = None
        if self.photo and Path(self.photo).is_file():
            self._texture = CoreImage(self.photo).texture
        self.bind(pos=self._redraw, size=self._redraw)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        self.canvas.clear()
        side = min(self.width, self.height)
        x = self.x + (self.width - side) / 2
        y = self.y + (self.height - side) / 2
        with self.canvas:
            if self._texture is not None:
                self._draw_photo(x, y, side)
            else:
                self._draw_initials(x, y, side)

    def _draw_photo(self, x: float, y: float, side: float) -> None:
        tex = self._texture
        crop = min(tex.width, tex.height)
        region = tex.get_region((tex.width - crop) // 2, (tex.height - crop) // 2, crop, crop)
        Color(1, 1, 1, 1)
        RoundedRectangle(texture=region, pos=(x, y), size=(side, side), radius=[side * 0.12])

    def _draw_initials(self, x: float, y: float, s: float) -> None:
        Color(*_hex(_pick(_BACKGROUNDS, self.person or self.person_name, "bg")))
        RoundedRectangle(pos=(x, y), size=(s, s), radius=[s * 0.12])
        if self.person.startswith(GROUP_PREFIX):
            # A group conversation: people together, not one person's initials.
            Color(*_hex(_INITIALS_INK))
            ICONS["people"](x + s * 0.1, y + s * 0.1, s * 0.8)
            return
        letters = initials(self.person_name)
        if not letters or s < 4:
            return
        text = CoreLabel(
            text=letters, font_size=s * (0.46 if len(letters) == 1 else 0.38), bold=True
        )
        text.refresh()
        texture = text.texture
        Color(*_hex(_INITIALS_INK))
        Rectangle(
            texture=texture,
            pos=(x + (s - texture.width) / 2, y + (s - texture.height) / 2),
            size=texture.size,
        )


def walk(widget: Widget) -> Iterator[Widget]:
    """``widget`` and all its descendants."""
    yield widget
    for child in widget.children:
        yield from walk(child)


def find(root: Widget, name: str) -> Widget:
    """The descendant called ``name``; ``LookupError`` if there is none."""
    for widget in walk(root):
        if getattr(widget, "name", None) == name:
            return widget
    raise LookupError(f"no widget called {name!r} on this screen")


def buttons(root: Widget) -> list[BigButton]:
    """Every big button under ``root``."""
    return [w for w in walk(root) if isinstance(w, BigButton)]
