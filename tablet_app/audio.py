"""Sound in calls: the other side's voice out of the loudspeaker, our microphone in.

aiortc decodes the remote Opus stream into ``av.AudioFrame`` objects on the event loop;
a loudspeaker wants exactly N samples whenever *it* asks, on its own thread. Between the
two sits a :class:`JitterBuffer`: bounded, thread-safe, primed to a small target before it
plays (so network jitter does not become clicks) and trimmed back to that target when it
grows past its limit (so a stall never turns into seconds of delay).

The loudspeaker is a port (:class:`AudioOutput`) with two adapters: :class:`SoundDeviceOutput`
(PortAudio through ``sounddevice``, which reaches PulseAudio/PipeWire through ALSA) and
:class:`CapturedOutput`, which records the PCM handed to the output at the output's pace,
for tests and the benchmark on machines without a sound card. The microphone side for
tests is :class:`ToneTrack`, a steady sine at a known frequency (docs/adr/0056).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
CHUNK_SAMPLES = 960  # 20 ms at 48 kHz: one Opus frame
BYTES_PER_SAMPLE = 2  # 16-bit mono

# Gain steps of the resident's volume (software gain on top of the system mixer).
VOLUME_GAINS: tuple[float, ...] = (0.5, 0.7, 1.0, 1.4, 2.0)
NORMAL_VOLUME = 2  # index into VOLUME_GAINS
LOUD_VOLUME = 3  # hands-free at an alarm: the resident may be across the room

Pull = Callable[[int], bytes]


class JitterBuffer:
    """16-bit mono PCM between the network (``push``) and the loudspeaker (``pull``).

    * Until ``target_ms`` of sound is buffered (at the start and after running dry) it
      plays silence: the cushion that absorbs network jitter.
    * Above ``max_ms`` it drops the oldest sound back down to ``target_ms`` and counts it:
      the delay in a conversation stays bounded whatever the network did.
    """

    def __init__(self, target_ms: int = 60, max_ms: int = 300, rate: int = SAMPLE_RATE) -> None:
        if not 0 < target_ms < max_ms:
            raise ValueError("need 0 < target_ms < max_ms")
        self.rate = rate
        self.target_bytes = rate * target_ms // 1000 * BYTES_PER_SAMPLE
        self.max_bytes = rate * max_ms // 1000 * BYTES_PER_SAMPLE
        self._data = bytearray()
        self._lock = threading.Lock()  # pull runs on the sound card's thread
        self._primed = False
        self.underruns = 0  # times the loudspeaker asked and the buffer had run dry
        self.dropped_samples = 0  # sound thrown away to keep the delay bounded
        self.played_samples = 0  # real sound handed to the loudspeaker

    @property
    def buffered_ms(self) -> float:
        """How much sound waits to be played."""
        with self._lock:
            return len(self._data) / BYTES_PER_SAMPLE / self.rate * 1000

    def push(self, pcm: bytes) -> None:
        """Append decoded sound; trim the oldest if the buffer is over its limit."""
        with self._lock:
            self._data += pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE]
            if len(self._data) > self.max_bytes:
                excess = len(self._data) - self.target_bytes
                del self._data[:excess]
                self.dropped_samples += excess // BYTES_PER_SAMPLE

    def pull(self, samples: int) -> bytes:
        """Exactly ``samples`` samples: buffered sound, padded with silence if short."""
        wanted = samples * BYTES_PER_SAMPLE
        with self._lock:
            if not self._primed:
                if len(self._data) < self.target_bytes:
                    return bytes(wanted)
                self._primed = True
            out = bytes(self._data[:wanted])
            del self._data[:wanted]
            if len(out) < wanted:
                self.underruns += 1
                self._primed = False  # fill the cushion again before playing on
            self.played_samples += len(out) // BYTES_PER_SAMPLE
        return out + bytes(wanted - len(out))

    def clear(self) -> None:
        """Forget what is buffered (a call ended)."""
        with self._lock:
            self._data.clear()
            self._primed = False


def apply_gain(pcm: bytes, gain: float) -> bytes:
    """``pcm`` (16-bit) louder or softer, clipped instead of wrapping around."""
    if gain == 1.0 or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) * gain
    return bytes(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())


def dominant_frequency(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """The strongest frequency (Hz) in 16-bit mono ``pcm``, from a Hann-windowed FFT."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    if samples.size < 2:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    spectrum[0] = 0.0  # ignore any DC offset
    return float(np.argmax(spectrum) * rate / samples.size)


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit ``pcm`` (0 for silence, ~6400 for a 9000 sine)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


# ---------------------------------------------------------------- the loudspeaker port


class AudioOutput(Protocol):
    """Where a call's sound goes: the output asks ``pull`` for samples at its own pace."""

    def start(self, pull: Pull) -> None:
        """Begin playing what ``pull(samples)`` returns (16-bit mono, 48 kHz)."""

    async def stop(self) -> None:
        """Stop playing (the call ended)."""


class SoundDeviceOutput:
    """The loudspeaker through PortAudio (``sounddevice``); silent, with a warning, if absent.

    PortAudio calls back on its own thread for every block; the callback only copies
    from the jitter buffer, so it never waits on the event loop.
    """

    def __init__(self, device: int | str | None = None, latency: str = "low") -> None:
        self.device = device
        self.latency = latency
        self._stream: Any = None

    def start(self, pull: Pull) -> None:
        """Open the output stream; a tablet without sound keeps the call going silently."""
        if self._stream is not None:
            return
        try:
            import sounddevice

            def callback(outdata: Any, frames: int, _time: Any, status: Any) -> None:
                if status:
                    _LOGGER.debug("sound output: %s", status)
                outdata[:] = pull(frames)

            stream = sounddevice.RawOutputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=CHUNK_SAMPLES,
                device=self.device,
                latency=self.latency,
                callback=callback,
            )
            stream.start()
        except Exception as err:  # no PortAudio library, no device (PortAudioError), bad settings
            _LOGGER.warning("no loudspeaker: the call plays no sound (%s)", err)
            return
        self._stream = stream

    async def stop(self) -> None:
        """Close the stream (in a thread: PortAudio waits for the last block)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.close)


class CapturedOutput:
    """Records what reaches the loudspeaker, pulled in 20 ms blocks at real-time pace.

    Stands in for the sound card in tests and the benchmark: what it records is exactly
    what a device would have played (after the jitter buffer and the volume).
    """

    def __init__(self, keep_s: float = 30.0) -> None:
        self.keep_bytes = int(keep_s * SAMPLE_RATE) * BYTES_PER_SAMPLE
        self.pcm = bytearray()
        self.pulled_samples = 0
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()

    def start(self, pull: Pull) -> None:
        """Start pulling on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(pull), name="capture")

    async def _run(self, pull: Pull) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        blocks = 0
        while True:
            self.pcm += pull(CHUNK_SAMPLES)
            if len(self.pcm) > self.keep_bytes:
                del self.pcm[: len(self.pcm) - self.keep_bytes]
            self.pulled_samples += CHUNK_SAMPLES
            self._progress.set()
            blocks += 1
            # a sound card asks no faster than it plays
            due = started + blocks * CHUNK_SAMPLES / SAMPLE_RATE
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def stop(self) -> None:
        """Stop pulling (what was recorded stays readable)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_for_progress(self) -> None:
        """Return after the next block was pulled (tests wait on sound, not on time)."""
        self._progress.clear()
        await self._progress.wait()

    def recent(self, seconds: float) -> bytes:
        """The last ``seconds`` of what was played."""
        size = int(seconds * SAMPLE_RATE) * BYTES_PER_SAMPLE
        return bytes(self.pcm[-size:])

    async def wait_for_tone(
        self, hz: float, *, window_s: float = 0.5, tolerance_hz: float = 10.0, level: float = 500
    ) -> float:
        """Return the dominant frequency once the last ``window_s`` is a tone of ``hz``.

        Bound it with ``asyncio.timeout``: it waits for sound, never for a guessed time.
        """
        while True:
            self._progress.clear()
            window = self.recent(window_s)
            full = len(window) >= int(window_s * SAMPLE_RATE) * BYTES_PER_SAMPLE
            if full and rms(window) > level:
                found = dominant_frequency(window)
                if abs(found - hz) <= tolerance_hz:
                    return found
            await self._progress.wait()


# ---------------------------------------------------------------- from the network


async def play_track(track: MediaStreamTrack, buffer: JitterBuffer) -> None:
    """Decode ``track``'s frames into ``buffer`` (16-bit mono 48 kHz) until it ends."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if not isinstance(frame, av.AudioFrame):
                continue
            for out in resampler.resample(frame):
                buffer.push(bytes(out.planes[0])[: out.samples * BYTES_PER_SAMPLE])


# ---------------------------------------------------------------- a synthetic microphone


class ToneTrack(MediaStreamTrack):
    """A steady sine (880 Hz by default) in 20 ms frames, at the pace of a real microphone."""

    kind = "audio"

    def __init__(self, hz: float = 880.0, amplitude: int = 9000) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            due = self._start + self._sent / SAMPLE_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(CHUNK_SAMPLES) + self._sent) / SAMPLE_RATE
        pcm = (self.amplitude * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)
        frame = av.AudioFrame(format="s16", layout="mono", samples=CHUNK_SAMPLES)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._sent += CHUNK_SAMPLES
        return frame
