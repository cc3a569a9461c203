"""One builder per screen: the model in, a Kivy widget tree out.

Screens are rebuilt from the model on every change (they are small), so what the
resident sees is always what the model says. Only the clock and the prompt's time
bar are updated in place every second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from tablet_app import circle_screens
from tablet_app.conversation import conversation_screen
from tablet_app.gallery import gallery_screen
from tablet_app.model import (
    CALL_VOLUME_STEPS,
    AgendaItem,
    CallState,
    HelpState,
    Message,
    Outgoing,
    Screen,
    TabletModel,
)
from tablet_app.theme import RGBA, Palette, Sizes
from tablet_app.video import FrameFeed, VideoView
from tablet_app.widgets import BigButton, Face, Text, TimeBar

Clock = Callable[[], datetime]


def _no_video() -> tuple[FrameFeed | None, FrameFeed | None]:
    return None, None


@dataclass
class Actions:
    """What the app does for touches the model cannot handle alone."""

    submit_pairing: Callable[[], None]
    play_media: Callable[[Message], None]
    # The current call's video: (the other person, our own camera); ``None`` if absent.
    call_video: Callable[[], tuple[FrameFeed | None, FrameFeed | None]] = _no_video
    # A video message's frames: (message, round) → its player, started on first ask;
    # ``video_gone`` is told when the view showing it leaves the screen.
    message_video: Callable[[Message, int], FrameFeed | None] = lambda _m, _r: None
    video_gone: Callable[[], None] = lambda: None


class _MessageVideo(VideoView):
    """A video message's view: tells the app when it leaves the screen for good."""

    def __init__(self, feed: Any, gone: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(feed, **kwargs)
        self._gone = gone

    def stop(self) -> None:
        super().stop()
        self._gone()


def _fill(widget: Widget, colour: RGBA, radius: float = 0.0) -> None:
    """Paint ``widget``'s background, following its size."""

    def paint(*_: object) -> None:
        widget.canvas.before.clear()
        with widget.canvas.before:
            Color(*colour)
            if radius:
                RoundedRectangle(pos=widget.pos, size=widget.size, radius=[radius])
            else:
                Rectangle(pos=widget.pos, size=widget.size)

    widget.bind(pos=paint, size=paint)
    paint()


class ScreenBuilder:
    """Builds each screen for one model, size and palette."""

    def __init__(
        self, model: TabletModel, sizes: Sizes, palette: Palette, clock: Clock, actions: Actions
    ) -> None:
        self.m = model
        self.s = sizes
        self.p = palette
        self.clock = clock
        self.actions = actions
        self.progress: TimeBar | None = None
        self.countdown: Text | None = None  # the prompt's time left, updated every second
        self.elapsed: Text | None = None  # the recording's running time, updated every second
        self.duration: Text | None = None  # a call's running time, updated every second
        self.videos: list[VideoView] = []  # views with a clock of their own; see stop()

    def stop(self) -> None:
        """Stop what the built screens keep running (the video views' clocks); call it
        before the screen is rebuilt or dropped."""
        for view in self.videos:
            view.stop()
        self.videos.clear()

    # ------------------------------------------------------------ helpers

    def _text(self, text: str, units: float, *, soft: bool = False, **kw: Any) -> Text:
        colour = self.p.text_soft if soft else self.p.text
        return Text(text, font_size=self.s.font(units), color=colour, **kw)

    def _button(
        self,
        name: str,
        label: str,
        icon: str | None,
        fill: RGBA,
        on_tap: Callable[[], None],
        **kw: Any,
    ) -> BigButton:
        return BigButton(
            name=name,
            label=label,
            icon=icon,
            fill=fill,
            sizes=self.s,
            palette=self.p,
            on_tap=on_tap,
            **kw,
        )

    def _column(self, spacing: float = 20) -> BoxLayout:
        return BoxLayout(orientation="vertical", spacing=self.s.u(spacing))

    def _header(self, title: str, *, back: Screen = Screen.HOME) -> BoxLayout:
        """A row with the big Home button and the screen's title."""
        row = BoxLayout(size_hint=(1, None), height=self.s.u(110), spacing=self.s.u(20))
        label = self.m.t("home.back") if back is Screen.HOME else self.m.t("nav.back")
        icon = "house" if back is Screen.HOME else "back"
        row.add_widget(
            self._button(
                "back",
                label,
                icon,
                self.p.neutral,
                lambda: self.m.go(back),
                vertical=False,
                icon_share=0.35,
                font_units=38,
                size_hint=(None, 1),
                width=self.s.u(300),
            )
        )
        row.add_widget(self._text(title, 56, bold=True, halign="left"))
        return row

    def _home_button(
        self, name: str = "done", action: Callable[[], None] | None = None
    ) -> BigButton:
        return self._button(
            name,
            self.m.t("home.back"),
            "house",
            self.p.neutral,
            action or (lambda: self.m.go(Screen.HOME)),
            vertical=False,
            icon_share=0.3,
            font_units=44,
            size_hint=(None, None),
            size=(self.s.u(420), self.s.u(130)),
            pos_hint={"center_x": 0.5},
        )

    def _centered(self, widget: Widget) -> BoxLayout:
        row = BoxLayout(size_hint=(1, None), height=widget.height)
        row.add_widget(Widget())
        row.add_widget(widget)
        row.add_widget(Widget())
        return row

    # ------------------------------------------------------------ screens

    def build(self, screen: Screen) -> Widget:
        """The widget tree of ``screen``."""
        self.progress = None
        self.countdown = None
        self.elapsed = None
        self.duration = None
        builder: Callable[[], Widget] = getattr(self, f"_{screen.value}")
        return builder()

    def _home(self) -> Widget:
        m, p = self.m, self.p
        grid = self._column(spacing=14)
        # What today holds, before anything to press: the review found Home said nothing
        # of the day (was "I'm OK" pressed? what comes next?).
        first, second = m.home_today(self.clock())
        today = BoxLayout(orientation="vertical", size_hint=(1, 0.19))
        # One line each, cut with an ellipsis rather than spilling onto the buttons when
        # a long agenda title meets the larger font setting.
        for text, units, bold, name in (
            (first, 38, True, "home.today"),
            (second, 36, False, "home.next"),
        ):
            today.add_widget(
                self._text(text, units, bold=bold, name=name, halign="left", shorten=True)
            )
        grid.add_widget(today)
        top = BoxLayout(spacing=self.s.u(20), size_hint=(1, 0.46))
        top.add_widget(
            self._button(
                "home.ok",
                m.t("home.ok"),
                "check",
                p.ok,
                lambda: m.press_ok(self.clock()),
                font_units=64,
            )
        )
        top.add_widget(
            self._button(
                "home.help",
                m.t("home.help"),
                "bell",
                p.help,
                lambda: m.press_help(self.clock()),
                font_units=64,
            )
        )
        bottom = BoxLayout(spacing=self.s.u(20), size_hint=(1, 0.35))
        unread = m.unread_count()
        bottom.add_widget(
            self._button(
                "home.messages",
                m.t("home.messages"),
                "envelope",
                p.messages,
                lambda: m.go(Screen.MESSAGES),
                badge=str(unread) if unread else "",
            )
        )
        bottom.add_widget(
            self._button("home.call", m.t("home.call"), "phone", p.call, lambda: m.go(Screen.CALL))
        )
        bottom.add_widget(
            self._button(
                "home.agenda", m.t("home.agenda"), "calendar", p.agenda, lambda: m.go(Screen.AGENDA)
            )
        )
        grid.add_widget(top)
        grid.add_widget(bottom)
        return grid

    def _checkin(self) -> Widget:
        m, now = self.m, self.clock()
        col = self._column()
        col.add_widget(_icon_badge(self.s, self.p.ok, "check", self.p))
        col.add_widget(self._text(m.t("checkin.title"), 80, bold=True, size_hint=(1, 0.22)))
        sent = m.t("checkin.queued") if m.check_in_queued else m.t("checkin.sent")
        col.add_widget(self._text(sent, 48, size_hint=(1, 0.16)))
        due = m.next_check_in(now)
        col.add_widget(
            self._text(
                m.t("checkin.next", when=due) if due else "",
                40,
                soft=True,
                size_hint=(1, 0.12),
                name="checkin.next",
            )
        )
        col.add_widget(self._home_button())
        return col

    def _help(self) -> Widget:
        m = self.m
        big, small = m.help_lines()
        colour = {
            HelpState.RECEIVED: self.p.ok,
            HelpState.WAITING_NETWORK: self.p.offline,
        }.get(m.help_state, self.p.help)
        if m.help_state is HelpState.WAITING_NETWORK:
            return self._help_offline(big, small)
        icon = "check" if m.help_state is HelpState.RECEIVED else "bell"
        col = self._column()
        col.add_widget(_icon_badge(self.s, colour, icon, self.p))
        col.add_widget(self._text(big, 64, bold=True, size_hint=(1, 0.3), name="help.line"))
        col.add_widget(self._text(small, 44, soft=True, size_hint=(1, 0.16), name="help.more"))
        col.add_widget(self._home_button())
        return col

    def _help_offline(self, big: str, small: str) -> Widget:
        """Help could not reach the centre: what to do instead, one big line each."""
        from tablet_app.icons import Icon

        col = self._column(spacing=16)
        col.add_widget(
            self._text(
                big, 60, bold=True, size_hint=(1, None), height=self.s.u(90), name="help.line"
            )
        )
        col.add_widget(
            self._text(
                small, 44, soft=True, size_hint=(1, None), height=self.s.u(60), name="help.more"
            )
        )
        for n, (icon, words) in enumerate(self.m.help_alternatives()):
            row = BoxLayout(
                size_hint=(1, None),
                height=self.s.u(110),
                spacing=self.s.u(24),
                padding=(self.s.u(20), self.s.u(12)),
            )
            _fill(row, self.p.offline, radius=self.s.u(20))
            badge = Icon(
                name=icon,
                color=self.p.on_offline,
                size_hint=(None, 1),
                width=self.s.u(86),
            )
            row.add_widget(badge)
            row.add_widget(
                Text(
                    words,
                    font_size=self.s.font(52),
                    color=self.p.on_offline,
                    bold=True,
                    halign="left",
                    name=f"help.alt.{n}",
                )
            )
            col.add_widget(row)
        col.add_widget(Widget())
        col.add_widget(self._home_button())
        return col

    def _prompt(self) -> Widget:
        m = self.m
        col = self._column()
        if m.prompt_result is not None:
            good = m.prompt_result in ("fine", "taken")
            icon = "check" if good else "bell"
            colour = (
                self.p.ok if good else self.p.neutral if m.prompt_result == "later" else self.p.help
            )
            col.add_widget(_icon_badge(self.s, colour, icon, self.p))
            col.add_widget(self._text(m.prompt_result_text(), 60, bold=True, name="prompt.result"))
            col.add_widget(
                self._button(
                    "prompt.close",
                    m.t("home.back"),
                    "house",
                    self.p.neutral,
                    m.close_prompt,
                    vertical=False,
                    icon_share=0.3,
                    font_units=44,
                    size_hint=(None, None),
                    size=(self.s.u(420), self.s.u(130)),
                    pos_hint={"center_x": 0.5},
                )
            )
            return col
        col.add_widget(
            self._text(
                m.prompt_question(), 72, bold=True, size_hint=(1, 0.3), name="prompt.question"
            )
        )
        fine, help_ = m.prompt_buttons()
        medication = m.prompt is not None and m.prompt.kind == "medication"
        no_icon = "bell"  # "I need help", or the medication's "remind me later"
        row = BoxLayout(spacing=self.s.u(30), size_hint=(1, 0.54))
        row.add_widget(
            self._button(
                "prompt.fine",
                fine,
                "check",
                self.p.ok,
                lambda: m.answer_prompt("fine", self.clock()),
                font_units=58,
            )
        )
        row.add_widget(
            self._button(
                "prompt.help",
                help_,
                no_icon,
                self.p.neutral if medication else self.p.help,
                lambda: m.answer_prompt("help", self.clock()),
                font_units=58,
            )
        )
        col.add_widget(row)
        # The time left in words and as a thick bar, and what happens when it runs out.
        now = self.clock()
        self.countdown = self._text(
            m.prompt_countdown(now), 40, size_hint=(1, None), height=self.s.u(60),
            name="prompt.countdown",
        )  # fmt: skip
        col.add_widget(self.countdown)
        self.progress = TimeBar(
            value=m.prompt_time_left(now),
            fill=self.p.text_soft,
            track=self.p.surface,
            size_hint=(1, None),
            height=self.s.u(18),
            name="prompt.timebar",
        )
        col.add_widget(self.progress)
        return col

    def _messages(self) -> Widget:
        m = self.m
        col = self._column()
        header = self._header(m.t("messages.title"))
        if m.gallery_photos():
            header.add_widget(
                self._button(
                    "gallery.open", m.t("gallery.open"), "camera", self.p.messages,
                    m.open_gallery, vertical=False, icon_share=0.3, font_units=38,
                    size_hint=(None, 1), width=self.s.u(340),
                )
            )  # fmt: skip
        col.add_widget(header)
        everyone = m.conversations()
        people = m.on_people_page(everyone)
        if not people:
            col.add_widget(self._text(m.t("messages.none"), 52))
            return col
        grid = GridLayout(cols=3, spacing=self.s.u(20))
        for person in people:
            unread = m.unread_count(person.id)
            grid.add_widget(
                self._button(
                    f"messages.contact.{person.id}",
                    self._name_and_relation(person.id, person.name),
                    None,
                    self.p.messages,
                    partial(m.open_conversation, person.id),
                    picture=Face(person.id, person.photo, name=person.name),
                    icon_share=3.0 if len(everyone) <= 3 else 1.0,
                    vertical=len(everyone) <= 3,
                    font_units=46 if not m.relationship(person.id) else 40,
                    badge=str(unread) if unread else "",
                )
            )
        self._people_grid_end(grid, col, people, len(everyone))
        return col

    def _name_and_relation(self, contact_id: str, name: str) -> str:
        """A face's label: the name, and on a second line how they are related."""
        related = self.m.relationship(contact_id)
        return f"{name}\n{related}" if related else name

    def _people_grid_end(
        self, grid: GridLayout, col: BoxLayout, people: list[Any], total: int
    ) -> None:
        """Fill the grid's last row, and turn pages when there are more than six faces."""
        from tablet_app.circle_screens import page_turner

        rows = 1 if total <= 3 else 2
        for _ in range(rows * 3 - len(people)):
            grid.add_widget(Widget())
        col.add_widget(grid)
        pages = self.m.people_pages(total)
        if pages > 1:
            page = min(self.m.people_page, pages - 1)
            col.add_widget(
                page_turner(self, "people", page, pages, total,
                            partial(self.m.turn_people_page, total))
            )  # fmt: skip

    def _conversation(self) -> Widget:
        if self.m.outgoing is Outgoing.RECORDING:
            return self._recording()
        return conversation_screen(self)

    def _recording(self) -> Widget:
        """The microphone is on: one huge button to send, a smaller one to cancel."""
        m = self.m
        who = m.contact(m.recording_contact_id)
        col = self._column(24)
        col.add_widget(
            self._text(
                m.t("messages.to", name=who.name) if who else "",
                56,
                bold=True,
                size_hint=(1, None),
                height=self.s.u(100),
            )
        )
        send = self._button(
            "record.stop",
            m.recording_label(self.clock()),
            "microphone",
            self.p.help,
            lambda: m.press_record(self.clock()),
            vertical=False,
            icon_share=0.3,
            font_units=64,
        )
        self.elapsed = send.label
        col.add_widget(send)
        col.add_widget(
            self._button(
                "record.cancel",
                m.t("record.cancel"),
                "cross",
                self.p.neutral,
                m.cancel_recording,
                vertical=False,
                icon_share=0.3,
                font_units=44,
                size_hint=(None, None),
                size=(self.s.u(420), self.s.u(130)),
                pos_hint={"center_x": 0.5},
            )
        )
        return col

    def _open(self, message: Message) -> None:
        if message.kind == "photo":
            self.m.open_photo(message.id)
        elif message.kind == "video" and message.media:
            self.m.open_video(message.id)
        else:
            self.actions.play_media(message)

    def _video(self) -> Widget:
        """A video message: the picture as large as the screen allows, two big buttons."""
        m = self.m
        message = next((x for x in m.messages if x.id == m.open_message_id), None)
        col = self._column(10)
        who = m.contact(message.contact_id if message else None)
        col.add_widget(
            self._header(
                m.t("messages.from", name=who.name) if who else "", back=Screen.CONVERSATION
            )
        )
        if message is None:
            return col
        round_ = m.video_round
        view = _MessageVideo(
            lambda: self.actions.message_video(message, round_),
            self.actions.video_gone,
            name="video.view",
        )
        self.videos.append(view)
        col.add_widget(view)
        row = BoxLayout(spacing=self.s.u(30), size_hint=(1, None), height=self.s.u(120))
        row.add_widget(
            self._button(
                "video.again", m.t("video.again"), "play", self.p.messages, m.replay_video,
                vertical=False, icon_share=0.3, font_units=46,
            )
        )  # fmt: skip
        row.add_widget(
            self._button(
                "video.done", m.t("video.done"), "back", self.p.neutral,
                lambda: m.go(Screen.CONVERSATION), vertical=False, icon_share=0.3, font_units=46,
            )
        )  # fmt: skip
        col.add_widget(row)
        return col

    def _gallery(self) -> Widget:
        return gallery_screen(self)

    def _photo(self) -> Widget:
        m = self.m
        message = next((x for x in m.messages if x.id == m.open_message_id), None)
        col = self._column(10)
        who = m.contact(message.contact_id if message else None)
        col.add_widget(
            self._header(m.t("messages.from", name=who.name) if who else "", back=m.photo_back)
        )
        if message is not None and message.media and Path(message.media).is_file():
            col.add_widget(Image(source=message.media, fit_mode="contain"))
        if message is not None and message.text:
            col.add_widget(self._text(message.text, 40, size_hint=(1, 0.12)))
        return col

    def _call(self) -> Widget:
        m = self.m
        if m.call_state is CallState.IDLE:
            return self._call_pick()
        if m.call_centre and m.call_state is CallState.TALKING:
            return self._centre_call()
        who = m.contact(m.call_contact_id)
        face = Face(who.id if who else "", who.photo if who else None, name=who.name if who else "")
        talking = m.call_state is CallState.TALKING
        if talking:
            return self._video_call(face)
        col = self._column()
        face_box = BoxLayout(size_hint=(1, 0.5))
        face_box.add_widget(face)
        col.add_widget(face_box)
        col.add_widget(
            self._text(
                m.call_headline(),
                64,
                bold=True,
                size_hint=(1, 0.16),
                name="call.headline",
            )
        )
        row = BoxLayout(spacing=self.s.u(40), size_hint=(1, 0.3))
        if m.call_state is CallState.RINGING:
            row.add_widget(
                self._button(
                    "call.answer",
                    m.t("call.answer"),
                    "phone",
                    self.p.ok,
                    m.answer_call,
                    vertical=False,
                    icon_share=0.35,
                    font_units=56,
                )
            )
            row.add_widget(
                self._button(
                    "call.decline",
                    m.t("call.decline"),
                    "hangup",
                    self.p.help,
                    m.decline_call,
                    vertical=False,
                    icon_share=0.35,
                    font_units=56,
                )
            )
        elif m.call_state is CallState.CALLING:
            row.add_widget(Widget(size_hint=(0.25, 1)))
            row.add_widget(
                self._button(
                    "call.hangup",
                    m.t("call.hangup"),
                    "hangup",
                    self.p.help,
                    m.decline_call,
                    vertical=False,
                    icon_share=0.35,
                    font_units=56,
                )
            )
            row.add_widget(Widget(size_hint=(0.25, 1)))
        else:
            row.add_widget(Widget(size_hint=(0.25, 1)))
            row.add_widget(
                self._button(
                    "call.home",
                    m.t("home.back"),
                    "house",
                    self.p.neutral,
                    lambda: m.go(Screen.HOME),
                    vertical=False,
                    icon_share=0.35,
                    font_units=56,
                )
            )
            row.add_widget(Widget(size_hint=(0.25, 1)))
        col.add_widget(row)
        return col

    def _centre_call(self) -> Widget:
        """ "Speaking with the centre": the whole screen, one big button to end it.

        Nothing else to read or touch: the resident may be far from the screen and only
        needs to know that the voice in the room is the centre's.
        """
        m = self.m
        col = self._column(spacing=30)
        col.add_widget(_icon_badge(self.s, self.p.ok, "phone", self.p))
        col.add_widget(
            self._text(m.call_headline(), 76, bold=True, size_hint=(1, 0.3), name="call.headline")
        )
        col.add_widget(
            self._button(
                "call.hangup",
                m.t("call.centre_end"),
                "hangup",
                self.p.help,
                m.decline_call,
                vertical=False,
                icon_share=0.3,
                font_units=64,
                size_hint=(0.7, 0.32),
                pos_hint={"center_x": 0.5},
            )
        )
        return col

    def _video_call(self, face: Face) -> Widget:
        """Talking with family: the other person fills the screen (their face until the
        first frame), our camera small in the top right corner, who and for how long in
        the top left, and along the bottom four big buttons: Softer, Louder, Microphone
        off (or on) and Hang up. The review found the picture in a box with nothing to
        press but Hang up, and no way to tell how long the call had lasted."""
        m, p, u = self.m, self.p, self.s.u
        box = FloatLayout()
        remote = VideoView(
            lambda: self.actions.call_video()[0],
            placeholder=face,
            name="call.video",
            size_hint=(1, 1),
            pos_hint={"x": 0, "y": 0},
        )
        own = VideoView(
            lambda: self.actions.call_video()[1],
            border=p.on_button,
            name="call.self",
            size_hint=(0.22, 0.3),
            pos_hint={"right": 1, "top": 1},
        )
        for view in (remote, own):
            self.videos.append(view)
            box.add_widget(view)
        shade = (0.0, 0.0, 0.0, 0.62)  # white words readable over any picture
        band = BoxLayout(
            orientation="vertical",
            size_hint=(0.5, None),
            height=u(140),
            pos_hint={"x": 0, "top": 1},
            padding=(u(24), u(10)),
        )
        _fill(band, shade, u(20))
        font = self.s.font
        band.add_widget(
            Text(
                m.call_headline(), font_size=font(46), color=p.on_button, bold=True,
                halign="left", name="call.headline",
            )
        )  # fmt: skip
        self.duration = Text(
            self.call_time(), font_size=font(40), color=p.on_button, halign="left",
            name="call.duration",
        )  # fmt: skip
        band.add_widget(self.duration)
        box.add_widget(band)
        # Along the bottom: "your microphone is off" while it is, then the buttons.
        bottom = BoxLayout(
            orientation="vertical", size_hint=(1, None), pos_hint={"x": 0, "y": 0},
            spacing=u(12),
        )  # fmt: skip
        if m.call_muted:
            notice = Text(
                m.t("call.muted"), font_size=font(40), color=p.on_offline, bold=True,
                size_hint=(1, None), height=u(80), name="call.muted",
            )  # fmt: skip
            _fill(notice, p.offline, u(16))
            bottom.add_widget(notice)
        controls = BoxLayout(size_hint=(1, None), height=u(150), spacing=u(16))
        mic_key, mic_icon = ("call.mic_on", "microphone") if m.call_muted else (
            "call.mic_off", "microphone_off"
        )  # fmt: skip
        # Softer at the softest step and Louder at the loudest are greyed out: a tap there
        # would change nothing.
        softest, loudest = m.call_volume <= 0, m.call_volume >= CALL_VOLUME_STEPS - 1
        buttons = (
            ("call.softer", m.t("call.softer"), "speaker_down", p.neutral, m.call_softer, 0.22,
             softest),
            ("call.louder", m.t("call.louder"), "speaker_up", p.neutral, m.call_louder, 0.22,
             loudest),
            ("call.mic", m.t(mic_key), mic_icon, p.neutral, m.toggle_microphone, 0.26, False),
            ("call.hangup", m.t("call.hangup"), "hangup", p.help, m.decline_call, 0.30, False),
        )  # fmt: skip
        for name, label, icon, fill, tap, share, off in buttons:
            controls.add_widget(
                self._button(
                    name, label, icon, fill, tap, vertical=False, icon_share=0.4,
                    font_units=36, size_hint=(share, 1), disabled=off,
                )
            )  # fmt: skip
        bottom.add_widget(controls)
        bottom.height = sum(child.height for child in bottom.children) + u(12) * (
            len(bottom.children) - 1
        )
        box.add_widget(bottom)
        return box

    def call_time(self) -> str:
        """``4:07 · Volume 3 of 5``: the call's running time and the loudspeaker's step."""
        m = self.m
        volume = m.t("call.volume", n=m.call_volume + 1, total=CALL_VOLUME_STEPS)
        running = m.call_duration(self.clock())
        return f"{running}   ·   {volume}" if running else volume

    def _call_pick(self) -> Widget:
        m = self.m
        col = self._column()
        header = self._header(m.t("call.title"))
        header.add_widget(
            self._button(
                "circle.open",
                m.t("link.button"),
                "people",
                self.p.neutral,
                m.open_circle,
                vertical=False,
                icon_share=0.3,
                font_units=32,
                size_hint=(None, 1),
                width=self.s.u(360),
            )
        )
        col.add_widget(header)
        people = m.call_contacts()
        total = len(m.callable_contacts())
        if not people:
            col.add_widget(self._text(m.t("call.none"), 52))
            return col
        grid = GridLayout(cols=3, spacing=self.s.u(20))
        for person in people:
            grid.add_widget(
                self._button(
                    f"call.face.{person.id}",
                    self._name_and_relation(person.id, person.name),
                    None,
                    self.p.call,
                    partial(m.call_contact, person.id),
                    picture=Face(person.id, person.photo, name=person.name),
                    icon_share=3.0 if total <= 3 else 1.0,
                    vertical=total <= 3,
                    font_units=46 if not m.relationship(person.id) else 40,
                )
            )
        self._people_grid_end(grid, col, people, total)
        return col

    def _agenda(self) -> Widget:
        m, now = self.m, self.clock()
        col = self._column(16)
        col.add_widget(self._header(m.t("agenda.title")))
        total = len(m.agenda_items(now))
        page, items = m.agenda_on_page(now)
        if not items:
            col.add_widget(self._text(m.t("agenda.none"), 52))
            return col
        for item in items:
            col.add_widget(self._agenda_row(item, now))
        pages = m.agenda_pages(now)
        # a last page that is not full keeps the rows the size of the other pages'
        for _ in range(m.agenda_per_page(total) - len(items)):
            col.add_widget(Widget())
        if pages > 1:
            from tablet_app.circle_screens import page_turner

            col.add_widget(
                page_turner(self, "agenda", page, pages, total,
                            partial(m.turn_agenda_page, now),
                            per_page=m.agenda_per_page(total))
            )  # fmt: skip
        return col

    def _agenda_row(self, item: AgendaItem, now: datetime) -> Widget:
        m = self.m
        row = BoxLayout(spacing=self.s.u(16), padding=self.s.u(10))
        _fill(row, self.p.surface, self.s.u(20))
        from tablet_app.icons import Icon

        # a sign of what kind of thing it is: someone coming home, a group, else the calendar
        icon = {"visit": "house", "group": "people"}.get(item.kind, "calendar")
        row.add_widget(
            Icon(
                name=icon,
                color=self.p.agenda,
                size_hint=(None, 1),
                width=self.s.u(90),
            )
        )
        row.add_widget(self._text(m.agenda_line(item, now), 40, halign="left", bold=True))
        if item.invitation and item.response == "pending":
            for accept, key, fill, icon in (
                (True, "agenda.accept", self.p.ok, "check"),
                (False, "agenda.decline", self.p.help, "cross"),
            ):
                row.add_widget(
                    self._button(
                        f"agenda.{'accept' if accept else 'decline'}.{item.id}",
                        m.t(key),
                        icon,
                        fill,
                        partial(m.respond_invitation, item.id, accept),
                        vertical=False,
                        icon_share=0.3,
                        font_units=34,
                        size_hint=(None, 1),
                        width=self.s.u(270),
                    )
                )
        elif item.invitation:
            row.add_widget(
                self._text(
                    m.t(f"agenda.{item.response}"),
                    34,
                    soft=True,
                    size_hint=(None, 1),
                    width=self.s.u(270),
                )
            )
        return row

    def _notice(self) -> Widget:
        m = self.m
        col = self._column()
        col.add_widget(_icon_badge(self.s, self.p.agenda, "calendar", self.p))
        col.add_widget(self._text(m.notice_title, 60, bold=True, size_hint=(1, 0.18)))
        col.add_widget(self._text(m.notice_text, 50, size_hint=(1, 0.3), name="notice.text"))
        if m.notice_confirm:
            # The centre asked to hear it was read: the one button says so.
            col.add_widget(
                self._button(
                    "notice.read",
                    m.t("notice.read"),
                    "check",
                    self.p.ok,
                    m.close_notice,
                    vertical=False,
                    icon_share=0.3,
                    font_units=44,
                    size_hint=(None, None),
                    size=(self.s.u(520), self.s.u(130)),
                    pos_hint={"center_x": 0.5},
                )
            )
        else:
            col.add_widget(self._home_button("notice.ok", m.close_notice))
        return col

    def _pair(self) -> Widget:
        m = self.m
        row = BoxLayout(spacing=self.s.u(30))
        left = self._column()
        left.add_widget(self._text(m.t("pair.title"), 60, bold=True, size_hint=(1, 0.25)))
        left.add_widget(self._text(m.t("pair.hint"), 40, soft=True, size_hint=(1, 0.25)))
        from tablet_app.model import SETUP_CODE_DIGITS

        # one place per digit of the work order's code, filled as they are typed
        shown = " ".join([*m.pair_digits, *"_" * (SETUP_CODE_DIGITS - len(m.pair_digits))])
        code = self._text(shown, 90, bold=True, size_hint=(1, 0.3), name="pair.code")
        _fill(code, self.p.surface, self.s.u(20))
        left.add_widget(code)
        left.add_widget(self._text(m.pair_error or "", 40, size_hint=(1, 0.2), name="pair.error"))
        row.add_widget(left)
        pad = GridLayout(cols=3, spacing=self.s.u(14), size_hint=(0.9, 1))
        for digit in "123456789":
            pad.add_widget(self._digit(digit))
        pad.add_widget(
            self._button("pair.erase", "", "back", self.p.neutral, m.pair_erase, icon_share=0.9)
        )
        pad.add_widget(self._digit("0"))
        pad.add_widget(
            self._button(
                "pair.ok",
                m.t("pair.ok"),
                "check",
                self.p.ok,
                self.actions.submit_pairing,
                icon_share=0.6,
                font_units=32,
            )
        )
        row.add_widget(pad)
        return row

    def _digit(self, digit: str) -> BigButton:
        return self._button(
            f"pair.digit.{digit}",
            digit,
            None,
            self.p.messages,
            lambda: self.m.pair_press(digit),
            font_units=70,
        )

    def _link(self) -> Widget:
        m = self.m
        col = self._column(10)
        col.add_widget(self._header(m.t("link.title"), back=Screen.CIRCLE))
        code = m.link_code or "…"
        col.add_widget(self._text(code, 120, bold=True, size_hint=(1, 0.3), name="link.code"))
        col.add_widget(self._text(m.t("link.hint"), 40, size_hint=(1, 0.14)))
        col.add_widget(circle_screens.granted(self))
        if m.link_expires is not None:
            from tablet_app.wording import clock_text

            col.add_widget(
                self._text(
                    m.t("link.expires", time=clock_text(m.link_expires)),
                    36,
                    soft=True,
                    size_hint=(1, 0.1),
                )
            )
        return col

    def _circle(self) -> Widget:
        return circle_screens.circle(self)

    def _member(self) -> Widget:
        return circle_screens.member(self)

    def _member_remove(self) -> Widget:
        return circle_screens.member_remove(self)

    def _link_grant(self) -> Widget:
        return circle_screens.link_grant(self)


def _icon_badge(sizes: Sizes, fill: RGBA, icon: str, palette: Palette) -> Widget:
    """A big round coloured disc with a white icon: the headline picture of a screen."""
    from kivy.graphics import Ellipse

    from tablet_app.icons import Icon

    box = BoxLayout(size_hint=(1, None), height=sizes.u(190))
    holder = Widget()
    side = sizes.u(180)

    def paint(*_: object) -> None:
        holder.canvas.before.clear()
        with holder.canvas.before:
            Color(*fill)
            Ellipse(pos=(holder.center_x - side / 2, holder.center_y - side / 2), size=(side, side))

    holder.bind(pos=paint, size=paint)
    icon_widget = Icon(
        name=icon, color=palette.on_button if fill != palette.offline else palette.on_offline
    )

    def place(*_: object) -> None:
        icon_widget.size = (side * 0.7, side * 0.7)
        icon_widget.center = holder.center

    holder.bind(pos=place, size=place)
    holder.add_widget(icon_widget)
    box.add_widget(holder)
    return box
