"""Video messages on the tablet: the file decoded by PyAV, shown at its own pace.

A :class:`FilePlayer` decodes the video in a thread of its own and keeps the newest frame
as a :class:`~tablet_app.video.FrameFeed`, so the same :class:`~tablet_app.video.VideoView`
that shows calls shows messages. Frames are released at their timestamps (a slow tablet
drops frames, never slows the film down); the sound is the file's audio track decoded to
WAV (as voice messages are, :mod:`tablet_app.playback`) and played beside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

_LOGGER = logging.getLogger(__name__)

MAX_VIDEO_S = 600.0  # longer than the hub accepts; a bound against a hostile file


class FilePlayer:
    """Plays one video file into ``last``/``frames``; :meth:`stop` ends it at once."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.frames = 0
        self.last: Any = None
        self.duration_s = 0.0
        self.finished = threading.Event()
        self.failed = False
        self._stop = threading.Event()
        self._clock = clock
        self._thread = threading.Thread(target=self._run, name="video-message", daemon=True)

    def start(self) -> FilePlayer:
        """Start decoding (returns itself)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and wait for the decoding thread (a second at most)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                if stream.duration is not None and stream.time_base is not None:
                    self.duration_s = float(stream.duration * stream.time_base)
                started = self._clock()
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    at = float(frame.time or 0.0)
                    if at > MAX_VIDEO_S:
                        return
                    wait = at - (self._clock() - started)
                    if wait > 0 and self._stop.wait(wait):
                        return
                    if wait < -0.2:
                        continue  # behind: drop this frame, show the next one on time
                    self.last = frame
                    self.frames += 1
        except (av.FFmpegError, IndexError, OSError) as err:
            _LOGGER.warning("video message %s cannot be played: %s", self.path.name, err)
            self.failed = True
        finally:
            self.finished.set()


class VideoMessages:
    """The one video message playing: started when its screen asks for frames, stopped
    when that screen is left (not when it is only redrawn, e.g. by a message arriving).

    ``play_sound(wav)`` and ``stop_sound()`` are the app's (Kivy's audio, on its thread);
    the WAV is decoded from the file's audio track in the player's own thread.
    """

    def __init__(
        self,
        model: Any,
        play_sound: Callable[[Path], None] = lambda _p: None,
        stop_sound: Callable[[], None] = lambda: None,
    ) -> None:
        self._model = model
        self._play_sound = play_sound
        self._stop_sound = stop_sound
        self._key: tuple[str, int] | None = None
        self.player: FilePlayer | None = None

    def feed(self, message: Any, round_: int) -> FilePlayer | None:
        """The player of ``message`` for this round of "play", started on first ask."""
        key = (message.id, round_)
        if key != self._key:
            self.stop()
            if not message.media:
                return None
            self._key = key
            self.player = FilePlayer(Path(message.media)).start()
            threading.Thread(
                target=self._sound, args=(Path(message.media),), name="video-sound", daemon=True
            ).start()
        return self.player

    def _sound(self, source: Path) -> None:
        from tablet_app.playback import UnplayableVoice, voice_to_wav

        target = source.with_name(source.name + ".wav")
        try:
            if not target.exists():
                voice_to_wav(source, target)
        except (UnplayableVoice, av.FFmpegError, OSError) as err:
            _LOGGER.info("video message without sound: %s", err)
            return
        self._play_sound(target)

    def gone(self) -> None:
        """The view left the screen: stop unless the same video is still what is shown."""
        model = self._model
        shown = (model.open_message_id, model.video_round)
        if model.screen.value != "video" or shown != self._key:
            self.stop()

    def stop(self) -> None:
        """Stop the picture and the sound."""
        if self.player is not None:
            self.player.stop()
            self.player = None
            self._stop_sound()
        self._key = None
