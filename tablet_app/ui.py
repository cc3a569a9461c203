"""The tablet's root widget: a calm status line on top, the current screen below."""

from __future__ import annotations

from typing import Any

from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from tablet_app.model import Screen, TabletModel
from tablet_app.screens import Actions, Clock, ScreenBuilder, _fill
from tablet_app.theme import Sizes, palette
from tablet_app.widgets import Text
from tablet_app.wording import clock_text, date_text


class TabletView(BoxLayout):
    """Draws ``model``; rebuilds the screen whenever the model changes."""

    def __init__(self, model: TabletModel, clock: Clock, actions: Actions, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", **kwargs)
        self.model = model
        self.clock = clock
        self.actions = actions
        self.builder: ScreenBuilder | None = None
        self.content: Widget | None = None
        self._clock_label: Text | None = None
        self._date_label: Text | None = None
        self.shown: Screen | None = None
        model.subscribe(self.refresh)
        Window.bind(size=self._on_window_size)
        self.refresh()

    def detach(self) -> None:
        """Stop following the model and the window, and stop the screen's clocks
        (before dropping this view)."""
        self.model.unsubscribe(self.refresh)
        Window.unbind(size=self._on_window_size)
        if self.builder is not None:
            self.builder.stop()

    def _on_window_size(self, *_: object) -> None:
        self.refresh()

    def sizes(self) -> Sizes:
        """Sizes for the current window and font setting."""
        return Sizes(height=float(Window.height), scale=self.model.font_scale)

    def refresh(self) -> None:
        """Rebuild everything from the model."""
        sizes = self.sizes()
        colours = palette(self.model.high_contrast)
        Window.clearcolor = colours.background
        if self.builder is not None:
            self.builder.stop()  # the old screen's video views must not keep polling
        self.builder = ScreenBuilder(self.model, sizes, colours, self.clock, self.actions)
        self.clear_widgets()
        if self.model.screen not in (Screen.PAIR,):
            self.add_widget(self._status_line(sizes))
        body = BoxLayout(padding=sizes.u(22))
        self.content = self.builder.build(self.model.screen)
        body.add_widget(self.content)
        self.add_widget(body)
        self.shown = self.model.screen

    def tick(self) -> None:
        """Every second: clock, date and the prompt's time bar."""
        now = self.clock()
        self.model.tick(now)
        if self._clock_label is not None:
            self._clock_label.text = clock_text(now)
        if self._date_label is not None:
            self._date_label.text = date_text(now, self.model.language)
        if self.builder is not None and self.builder.progress is not None:
            self.builder.progress.value = self.model.prompt_time_left(now)
        if self.builder is not None and self.builder.countdown is not None:
            self.builder.countdown.text = self.model.prompt_countdown(now)
        if self.builder is not None and self.builder.elapsed is not None:
            self.builder.elapsed.text = self.model.recording_label(now)
        if self.builder is not None and self.builder.duration is not None:
            self.builder.duration.text = self.builder.call_time()

    def _status_line(self, sizes: Sizes) -> Widget:
        colours = palette(self.model.high_contrast)
        now = self.clock()
        row = BoxLayout(
            size_hint=(1, None),
            # taller with the larger font setting, so the two lines of the offline notice
            # are not cut at the bottom
            height=sizes.u(84) * max(1.0, self.model.font_scale),
            padding=(sizes.u(24), sizes.u(6)),
            spacing=sizes.u(24),
        )
        _fill(row, colours.surface)
        self._clock_label = Text(
            clock_text(now),
            font_size=sizes.font(50),
            color=colours.text,
            bold=True,
            size_hint=(None, 1),
            width=sizes.u(170) * self.model.font_scale,
            halign="left",
        )
        self._date_label = Text(
            date_text(now, self.model.language),
            font_size=sizes.font(38),
            color=colours.text,
            halign="left",
            size_hint=(1, 1),
        )
        row.add_widget(self._clock_label)
        row.add_widget(self._date_label)
        if not self.model.online:
            notice = Text(
                self.model.t("status.offline"),
                font_size=sizes.font(32),
                color=colours.on_offline,
                name="status.offline",
                size_hint=(1.3, 1),
            )
            _fill(notice, colours.offline, sizes.u(16))
            row.add_widget(notice)
        return row
