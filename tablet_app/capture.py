"""The tablet's microphone and camera for messages, and the voice recorder.

Like :mod:`tablet_app.calls` for calls, the devices sit behind small protocols so tests
and ``--demo`` use synthetic ones (a tone, a colour-bar picture) and a real tablet uses
ALSA and V4L2 through PyAV (already installed for aiortc). A device that is not there
says so with ``available()`` and its button is not shown.

Voice messages are Ogg/Opus (mono, 48 kHz, 24 kbit/s): what the hub accepts as
``voice`` and what browsers play in an ``<audio>`` element, ~180 KB a minute.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import glob
import io
import logging
import math
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import av
from PIL import Image, ImageDraw

from tablet_app.audio import CHUNK_SAMPLES, SAMPLE_RATE
from tablet_app.calls import synthetic_picture

_LOGGER = logging.getLogger(__name__)

VOICE_BIT_RATE = 24_000
VOICE_CONTENT_TYPE = "audio/ogg"
PHOTO_CONTENT_TYPE = "image/jpeg"


class Microphone(Protocol):
    """Where the voice comes from: 16-bit mono PCM at :data:`SAMPLE_RATE`."""

    def available(self) -> bool:
        """Whether there is a microphone to record with."""

    def chunks(self) -> AsyncIterator[bytes]:
        """Sound as it is captured, until the iterator is closed."""


class Camera(Protocol):
    """Where photos come from."""

    def available(self) -> bool:
        """Whether there is a camera."""

    async def snap(self) -> bytes:
        """One photo, as JPEG."""


# ---------------------------------------------------------------- synthetic devices


class SyntheticMicrophone:
    """A steady tone (440 Hz by default), at the pace of a real microphone."""

    def __init__(self, tone_hz: float = 440.0, *, realtime: bool = True) -> None:
        self.tone_hz = tone_hz
        self.realtime = realtime

    def available(self) -> bool:
        """Always there."""
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        """20 ms of tone at a time."""
        step = 2 * math.pi * self.tone_hz / SAMPLE_RATE
        position = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            samples = array.array(
                "h", (int(9000 * math.sin(step * (position + k))) for k in range(CHUNK_SAMPLES))
            )
            position += CHUNK_SAMPLES
            yield samples.tobytes()
            if self.realtime:
                # a real device delivers sound no faster than it is spoken
                due = started + position / SAMPLE_RATE
                await asyncio.sleep(max(0.0, due - loop.time()))
            else:
                await asyncio.sleep(0)


class SyntheticCamera:
    """A colour-bar picture (the same bars as the synthetic call camera)."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        self.width = width
        self.height = height
        self.taken = 0

    def available(self) -> bool:
        """Always there."""
        return True

    async def snap(self) -> bytes:
        """A JPEG of the bars with a white disc (so each photo is a real picture)."""
        self.taken += 1
        picture = synthetic_picture(self.width, self.height, self.taken * 16)
        draw = ImageDraw.Draw(picture)
        r = self.height // 8
        draw.ellipse((self.width // 2 - r, self.height // 3 - r, self.width // 2 + r,
                      self.height // 3 + r), fill=(255, 255, 255))  # fmt: skip
        return _jpeg(picture)


class NoDevice:
    """No microphone or camera: the buttons are hidden."""

    def available(self) -> bool:
        """Never there."""
        return False

    async def chunks(self) -> AsyncIterator[bytes]:  # pragma: no cover - never called
        """Nothing."""
        return
        yield b""

    async def snap(self) -> bytes:
        """No camera."""
        raise OSError("no camera")


def _jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


# ---------------------------------------------------------------- real devices


class AlsaMicrophone:
    """The tablet's microphone through ALSA (PyAV's ``alsa`` input).

    PyAV reads the device in a thread (its reads block); the sound is handed to the
    event loop through a bounded queue. If the loop falls behind by more than a few
    seconds the oldest sound is dropped and logged rather than held without limit.
    """

    def __init__(self, device: str = "default", sound_dir: str = "/dev/snd") -> None:
        self.device = device
        self.sound_dir = sound_dir

    def available(self) -> bool:
        """A capture device exists (``/dev/snd/pcmC*D*c``)."""
        return bool(glob.glob(f"{self.sound_dir}/pcmC*D*c"))

    async def chunks(self) -> AsyncIterator[bytes]:
        """Sound from ALSA, converted to 16-bit mono 48 kHz."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=250)  # ~5 s
        stop = threading.Event()

        def put(item: bytes | None) -> None:
            if queue.full():
                _LOGGER.warning("microphone: the app fell behind; 20 ms of sound dropped")
                queue.get_nowait()
            queue.put_nowait(item)

        def read() -> None:
            try:
                with av.open(self.device, format="alsa", options={"channels": "1"}) as source:
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                    for frame in source.decode(audio=0):
                        for out in resampler.resample(frame):
                            loop.call_soon_threadsafe(put, bytes(out.planes[0])[: out.samples * 2])
                        if stop.is_set():
                            break
            except (OSError, av.FFmpegError) as err:
                _LOGGER.warning("microphone %s failed: %s", self.device, err)
            finally:
                loop.call_soon_threadsafe(put, None)

        reader = loop.run_in_executor(None, read)
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await reader


class V4l2Camera:
    """The tablet's camera through V4L2 (PyAV's ``v4l2`` input)."""

    def __init__(self, device: str = "/dev/video0", size: str = "1280x720") -> None:
        self.device = device
        self.size = size

    def available(self) -> bool:
        """The device file exists."""
        return Path(self.device).exists()

    async def snap(self) -> bytes:
        """One photo, after a few frames so the camera can set its exposure."""
        return await asyncio.to_thread(self._snap)

    def _snap(self) -> bytes:
        with av.open(self.device, format="v4l2", options={"video_size": self.size}) as source:
            for index, frame in enumerate(source.decode(video=0)):
                if index >= 5:
                    return _jpeg(frame.to_image())
        raise OSError(f"camera {self.device} gave no picture")


# ---------------------------------------------------------------- the recorder


class VoiceRecorder:
    """Records one voice message at a time from a microphone into Ogg/Opus, in memory.

    Encoding happens as the sound arrives (an Opus frame every 20 ms is cheap), so
    stopping is immediate.
    """

    def __init__(self, microphone: Microphone) -> None:
        self.microphone = microphone
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._buffer = io.BytesIO()
        self._container: Any = None
        self._stream: Any = None
        self._progress = asyncio.Event()

    @property
    def recording(self) -> bool:
        """Whether a recording is going on."""
        return self._task is not None

    @property
    def seconds(self) -> float:
        """How much sound has been captured so far."""
        return self.samples / SAMPLE_RATE

    async def wait_for(self, seconds: float) -> None:
        """Return once ``seconds`` of sound were captured (bound it with ``asyncio.timeout``)."""
        while self.seconds < seconds:
            self._progress.clear()
            await self._progress.wait()

    def start(self) -> None:
        """Start recording (nothing happens if a recording is already going on)."""
        if self._task is not None:
            return
        self.samples = 0
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format="ogg")
        self._stream = self._container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        self._stream.codec_context.bit_rate = VOICE_BIT_RATE
        # constrained VBR: the size stays close to the bit rate (~180 KB a minute)
        self._stream.codec_context.options = {"vbr": "constrained"}
        self._task = asyncio.get_running_loop().create_task(self._capture(), name="voice")

    async def _capture(self) -> None:
        source = self.microphone.chunks()
        try:
            async for chunk in source:
                self._encode(chunk)
                self._progress.set()
        finally:
            with contextlib.suppress(Exception):
                await source.aclose()  # type: ignore[attr-defined]

    def _encode(self, chunk: bytes) -> None:
        count = len(chunk) // 2
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(chunk[: count * 2])
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.samples
        self.samples += count
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    async def _end_capture(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self) -> bytes:
        """Stop and return the recording as an Ogg/Opus file (empty if nothing was heard)."""
        await self._end_capture()
        if self._container is None:
            return b""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = self._stream = None
        return self._buffer.getvalue() if self.samples else b""

    async def cancel(self) -> None:
        """Throw the recording away."""
        await self._end_capture()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container = self._stream = None
        self.samples = 0
