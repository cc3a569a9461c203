"""The Kivy application: one window, the view, and the runtime on the same asyncio loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.audio import SoundLoader

from tablet_app.model import Message, TabletModel
from tablet_app.ringtone import write_ring_tone
from tablet_app.runtime import TabletRuntime
from tablet_app.screens import Actions
from tablet_app.ui import TabletView
from tablet_app.videoplay import VideoMessages

_LOGGER = logging.getLogger(__name__)


class KivyRinger:
    """Plays the synthesised ring tone in a loop; silent where there is no audio."""

    def __init__(self, state_dir: Path) -> None:
        self._path = write_ring_tone(state_dir / "ring.wav")
        self._sound: Any = None
        self.ringing = False

    def start(self) -> None:
        """Start ringing."""
        self.ringing = True
        if self._sound is None:
            self._sound = SoundLoader.load(str(self._path))
        if self._sound is None:
            _LOGGER.info("no audio output; ringing silently")
            return
        self._sound.loop = True
        self._sound.play()

    def stop(self) -> None:
        """Stop ringing."""
        self.ringing = False
        if self._sound is not None:
            self._sound.stop()


class TabletApp(App):
    """The resident's app."""

    title = "Teleassist"

    def __init__(
        self,
        model: TabletModel,
        runtime: TabletRuntime,
        clock: Callable[[], datetime],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.runtime = runtime
        self.clock = clock
        self.view: TabletView | None = None
        self._ticker: Any = None
        self._video_sound: Any = None
        self.videos = VideoMessages(model, self._play_video_sound, self._stop_video_sound)

    def build(self) -> TabletView:
        """Create the view and the once-a-second tick."""
        actions = Actions(
            submit_pairing=self.runtime.submit_pairing,
            play_media=self._play,
            call_video=self.runtime.call_video,
            message_video=self.videos.feed,
            video_gone=self.videos.gone,
        )
        self.view = TabletView(self.model, self.clock, actions)
        self._ticker = Clock.schedule_interval(
            lambda _dt: self.view.tick() if self.view else None, 1.0
        )
        return self.view

    def on_stop(self) -> None:
        """Stop the tick and let the view go (the runtime is stopped by its owner)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.videos.stop()
        if self.view is not None:
            self.view.detach()

    def _play_video_sound(self, wav: Path) -> None:
        # Called from the decoding thread: Kivy's audio belongs to the main thread.
        def start(_dt: float) -> None:
            if self.videos.player is None:
                return  # stopped while the sound was being decoded
            self._video_sound = SoundLoader.load(str(wav))
            if self._video_sound is not None:
                self._video_sound.play()

        Clock.schedule_once(start, 0)

    def _stop_video_sound(self) -> None:
        if self._video_sound is not None:
            self._video_sound.stop()
            self._video_sound = None

    def _play(self, message: Message) -> None:
        if message.media is None:
            return
        sound = SoundLoader.load(message.media)
        if sound is None:
            _LOGGER.warning("cannot play %s on this device", message.id)
            return
        sound.play()
