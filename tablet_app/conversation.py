"""One conversation: the last messages, each saying who sent it and when, photos large.

The review found only two messages on screen, photos as 110 px thumbnails and no sender.
Now the buttons (Record a message, Take a photo, Older / Newer messages) stand in a
column on the right, so the messages have the full height on the left: three a screenful
(two while a "saved, we will send it" line is shown), a photo or video row taller than a
text row, and above each message "Maria, today at 08:25" ("You, …" for the resident's own).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from kivy.properties import StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from tablet_app.model import Message, Outgoing, Screen

if TYPE_CHECKING:
    from tablet_app.screens import ScreenBuilder


class _Picture(ButtonBehavior, Image):
    """A photo that opens full screen when touched."""

    name = StringProperty("")

    def __init__(self, *, on_tap: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_tap = on_tap

    def on_release(self) -> None:
        """Open the photo."""
        self._on_tap()


PER_SCREEN = 3  # messages on one screenful
PICTURE_WEIGHT = 1.8  # a photo or video row's height against a text row's


def page_of(messages: list[Message], older_steps: int, shown: int) -> tuple[list[Message], int]:
    """The messages of the screenful ``older_steps`` back from the newest (oldest first),
    and that step kept within what there is."""
    if not messages:
        return [], 0
    screens = -(-len(messages) // shown)
    step = max(0, min(older_steps, screens - 1))
    end = len(messages) - step * shown
    return messages[max(0, end - shown) : end], step


def conversation_screen(b: ScreenBuilder) -> Widget:
    """The header, the messages on the left and the buttons on the right."""
    from tablet_app.screens import _fill

    m, s = b.m, b.s
    col = b._column()
    col.add_widget(b._header(m.contact_title(m.open_contact_id), back=Screen.MESSAGES))
    body = BoxLayout(spacing=s.u(20))
    left = BoxLayout(orientation="vertical", spacing=s.u(16))
    line = m.outgoing_line()
    shown = PER_SCREEN - bool(line)
    everything = m.conversation(m.open_contact_id or "")
    recent, m.older_steps = page_of(everything, m.older_steps, shown)
    for message in recent:
        left.add_widget(_message_row(b, message))
    for _ in range(shown - len(recent)):
        left.add_widget(Widget())
    if line:
        text = b._text(
            line, 38, bold=True, name="outgoing.line", size_hint=(1, None), height=s.u(90)
        )
        _fill(text, b.p.surface, s.u(20))
        left.add_widget(text)
    body.add_widget(left)
    right = _buttons(
        b, older=len(everything) > shown * (m.older_steps + 1), newer=m.older_steps > 0
    )
    if right is not None:
        body.add_widget(right)
    col.add_widget(body)
    return col


def _message_row(b: ScreenBuilder, message: Message) -> Widget:
    from tablet_app.screens import _fill
    from tablet_app.wording import when_text

    m, s = b.m, b.s
    picture = message.kind in ("photo", "video")
    row = BoxLayout(spacing=s.u(20), size_hint_y=PICTURE_WEIGHT if picture else 1.0)
    _fill(row, b.p.surface, s.u(20))
    row.padding = s.u(12)
    who = m.t("messages.by_you") if message.outgoing else m.sender_name(message)
    when = when_text(message.sent_at, b.clock(), m.language)
    heading = m.t("messages.by", who=who, when=when)
    if message.kind == "photo" and message.media:
        # The photo itself is the button, as large as the row allows.
        row.add_widget(
            _Picture(
                source=message.media, fit_mode="contain", name=f"conversation.open.{message.id}",
                on_tap=partial(b._open, message), size_hint=(0.45, 1),
            )
        )  # fmt: skip
    elif message.kind != "text":
        row.add_widget(
            b._button(
                f"conversation.open.{message.id}",
                m.t(f"messages.{message.kind}"),
                "play" if message.kind in ("voice", "video") else None,
                b.p.messages,
                partial(b._open, message),
                vertical=False,
                icon_share=0.45,
                font_units=38,
                size_hint=(0.45 if picture else 0.4, 1),
            )
        )
    words = BoxLayout(orientation="vertical")
    words.add_widget(
        b._text(
            heading, 30, soft=True, halign="left", valign="top", size_hint=(1, None),
            height=s.u(44), name=f"conversation.by.{message.id}",
        )
    )  # fmt: skip
    words.add_widget(
        b._text(
            message.text, 38, halign="left", valign="top", name=f"conversation.text.{message.id}"
        )
    )
    row.add_widget(words)
    return row


def _buttons(b: ScreenBuilder, *, older: bool, newer: bool) -> Widget | None:
    """Record a message, Take a photo (where the devices exist) and the big Older /
    Newer messages buttons (no scrolling to learn), one above the other."""
    m = b.m
    busy = m.outgoing is Outgoing.SENDING
    fill = b.p.neutral if busy else b.p.messages
    wanted: list[tuple[str, str, str, Callable[[], None]]] = []
    if m.can_record:
        wanted.append(
            ("record.start", "record.button", "microphone", lambda: m.press_record(b.clock()))
        )
    if m.can_photo:
        wanted.append(("photo.take", "photo.button", "camera", m.press_photo))
    if older:
        wanted.append(
            ("conversation.older", "conversation.older", "back", partial(m.turn_conversation, 1))
        )
    if newer:
        wanted.append(
            (
                "conversation.newer",
                "conversation.newer",
                "forward",
                partial(m.turn_conversation, -1),
            )
        )
    if not wanted:
        return None
    column = BoxLayout(
        orientation="vertical", spacing=b.s.u(16), size_hint=(None, 1), width=b.s.u(330)
    )
    for name, key, icon, tap in wanted:
        colour = fill if name in ("record.start", "photo.take") else b.p.neutral
        column.add_widget(
            b._button(
                name, m.t(key), icon, colour, tap, vertical=False, icon_share=0.3,
                font_units=36, size_hint=(1, None), height=b.s.u(130),
            )
        )  # fmt: skip
    column.add_widget(Widget())  # the buttons stay at the top
    return column
