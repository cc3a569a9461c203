"""Calls with aiortc (video and sound), signalled through the hub's family websocket.

The hub only relays: ``call.start`` / ``call.accept`` / ``call.decline`` / ``call.hangup``
and ``call.signal`` frames carrying ``{"sdp": {...}}`` or ``{"candidate": {...}}`` (see
docs/family-api.md). The caller sends the offer once the call is accepted; the callee
answers. Camera and microphone sit behind :class:`MediaDevices`, so tests feed synthetic
media and count the frames that arrive; the other side's sound goes through a jitter
buffer to an :class:`~tablet_app.audio.AudioOutput` (the loudspeaker, or a recorder in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame
from PIL import Image, ImageDraw

from tablet_app.audio import (
    LOUD_VOLUME,
    NORMAL_VOLUME,
    VOLUME_GAINS,
    AudioOutput,
    JitterBuffer,
    ToneTrack,
    apply_gain,
    play_track,
)

_LOGGER = logging.getLogger(__name__)

# An announcement that has not ended by then no longer holds the caller's voice back.
ANNOUNCE_MAX_S = 10.0

Send = Callable[[dict[str, Any]], Awaitable[None]]


class MediaDevices(Protocol):
    """Where the tablet's outgoing audio and video come from."""

    def tracks(self, video: bool = True) -> list[MediaStreamTrack]:
        """Fresh local tracks for one call (no camera when ``video`` is false)."""


# The synthetic camera's colour bars (RGB), left to right: tests look for them on screen.
SYNTHETIC_BARS: tuple[tuple[int, int, int], ...] = (
    (220, 40, 40),
    (40, 170, 60),
    (40, 80, 220),
    (240, 200, 40),
)
SYNTHETIC_BAND = 1 / 6  # the bottom share of the picture where a grey ramp moves


def synthetic_picture(width: int, height: int, shift: int) -> Image.Image:
    """Four colour bars over a moving grey ramp (so every frame differs)."""
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    bar = width / len(SYNTHETIC_BARS)
    band_top = int(height * (1 - SYNTHETIC_BAND))
    for index, colour in enumerate(SYNTHETIC_BARS):
        draw.rectangle((int(index * bar), 0, int((index + 1) * bar) - 1, band_top - 1), fill=colour)
    for x in range(width):
        grey = (x + shift) % 256
        draw.line((x, band_top, x, height - 1), fill=(grey, grey, grey))
    return picture


class SyntheticVideo(VideoStreamTrack):
    """Colour bars over a moving grey ramp (320×240, 15 fps): a camera for tests and demos."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._count = 0

    async def recv(self) -> VideoFrame:
        """The next frame, paced by aiortc's clock."""
        pts, time_base = await self.next_timestamp()
        picture = synthetic_picture(self.width, self.height, self._count * 4)
        frame: VideoFrame = VideoFrame.from_image(picture).reformat(format="yuv420p")
        self._count += 1
        frame.pts = pts
        frame.time_base = time_base if time_base else fractions.Fraction(1, 90000)
        return frame


class SyntheticMedia:
    """Synthetic camera and microphone (a steady tone): what the tests and the demo use."""

    def __init__(self, tone_hz: float = 880.0) -> None:
        self.tone_hz = tone_hz

    def tracks(self, video: bool = True) -> list[MediaStreamTrack]:
        """A tone, and the colour bars when ``video``."""
        tone: list[MediaStreamTrack] = [ToneTrack(self.tone_hz)]
        return [SyntheticVideo(), *tone] if video else tone


class DeviceMedia:
    """The real camera (V4L2) and microphone (PulseAudio, else ALSA) where present."""

    def __init__(self, camera: str = "/dev/video0", microphone: str = "default") -> None:
        self.camera = camera
        self.microphone = microphone

    def tracks(self, video: bool = True) -> list[MediaStreamTrack]:
        """The tracks that could be opened (a call without a camera still has sound)."""
        found: list[MediaStreamTrack] = []
        if video and Path(self.camera).exists():
            try:
                camera = MediaPlayer(self.camera, format="v4l2", options={"video_size": "640x480"})
                if camera.video is not None:
                    found.append(camera.video)
            except (OSError, ValueError) as err:
                _LOGGER.warning("camera %s unavailable: %s", self.camera, err)
        # The PyAV wheel has no PulseAudio input ("no container format 'pulse'"): ALSA then.
        for system in ("pulse", "alsa"):
            try:
                audio = MediaPlayer(self.microphone, format=system)
            except (OSError, ValueError) as err:
                _LOGGER.info("microphone unavailable through %s: %s", system, err)
                continue
            if audio.audio is not None:
                found.append(audio.audio)
                break
        return found


class FrameSink:
    """Counts the remote video frames and keeps the last one (for the screen)."""

    def __init__(self) -> None:
        self.frames = 0
        self.last: VideoFrame | None = None
        self._changed = asyncio.Event()

    def add(self, frame: VideoFrame) -> None:
        """One more frame arrived."""
        self.frames += 1
        self.last = frame
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` frames arrived (bound it with ``asyncio.timeout``)."""
        while self.frames < count:
            self._changed.clear()
            await self._changed.wait()


class _Preview(MediaStreamTrack):
    """Passes the local camera's frames to the call and keeps each one for the self-view."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, sink: FrameSink) -> None:
        super().__init__()
        self._source = source
        self._sink = sink

    async def recv(self) -> Any:
        """The camera's next frame, also shown small on the tablet."""
        frame = await self._source.recv()
        if isinstance(frame, VideoFrame):
            self._sink.add(frame)
        return frame

    def stop(self) -> None:
        """Stop this track and the camera behind it."""
        super().stop()
        self._source.stop()


class _Microphone(MediaStreamTrack):
    """Passes the microphone's sound to the call, or silence while the resident has it
    switched off (the track stays: the other side hears nothing, nothing renegotiates)."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, engine: CallEngine) -> None:
        super().__init__()
        self._source = source
        self._engine = engine

    async def recv(self) -> Any:
        """The microphone's next frame, silenced if the microphone is off."""
        frame = await self._source.recv()
        if self._engine.muted and isinstance(frame, AudioFrame):
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
        return frame

    def stop(self) -> None:
        """Stop this track and the microphone behind it."""
        super().stop()
        self._source.stop()


class CallEngine:
    """One call at a time: the WebRTC side of answering, placing and ending calls."""

    def __init__(
        self,
        send: Send,
        media: MediaDevices,
        *,
        ice_servers: list[RTCIceServer] | None = None,
        on_failed: Callable[[], None] = lambda: None,
        output: AudioOutput | None = None,
        on_connected: Callable[[], None] = lambda: None,
        on_volume: Callable[[int], None] = lambda _level: None,
    ) -> None:
        self._send = send
        self.media = media
        self.ice_servers = ice_servers or []
        self.on_failed = on_failed
        self.on_connected = on_connected
        # Told the step the operator set from the console, so the screen shows it.
        self.on_volume = on_volume
        self.output = output
        self.call_id: int | None = None
        self.caller = False
        self.video = True  # False for the centre's voice calls
        self.pc: RTCPeerConnection | None = None
        self.sink = FrameSink()  # the other side's video
        self.local = FrameSink()  # our own camera, for the small self-view
        self.ended_sink: FrameSink | None = None
        self.jitter = JitterBuffer()  # the other side's sound, on its way to the loudspeaker
        self.volume = NORMAL_VOLUME  # index into VOLUME_GAINS
        self.muted = False  # the resident switched the microphone off
        self.audio_tracks = 0  # remote audio tracks consumed in this call
        # True while the tablet says its announcement: the caller's sound is dropped, not
        # mixed over it (the caller's console shows "announcing" and waits).
        self.announcing = False
        self._playing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ sound

    def _pull(self, samples: int) -> bytes:
        """What the loudspeaker plays next (called on its own thread)."""
        pcm = self.jitter.pull(samples)  # pulled even while held: no backlog afterwards
        if self.announcing:
            return bytes(len(pcm))
        return apply_gain(pcm, VOLUME_GAINS[self.volume])

    def set_volume(self, level: int) -> int:
        """Set the resident's volume step (clamped to the known steps); the step set."""
        self.volume = max(0, min(len(VOLUME_GAINS) - 1, level))
        return self.volume

    def louder(self) -> int:
        """One step louder (the operator asked: the resident cannot hear)."""
        return self.set_volume(self.volume + 1)

    def softer(self) -> int:
        """One step softer."""
        return self.set_volume(self.volume - 1)

    def set_muted(self, muted: bool) -> None:
        """Switch the microphone off (the other side hears silence) or on again."""
        self.muted = muted

    def _start_sound(self, track: MediaStreamTrack) -> None:
        self.audio_tracks += 1
        if self.output is None:
            _LOGGER.info("call %s: no audio output configured; sound not played", self.call_id)
        elif not self._playing:
            self._playing = True
            self.output.start(self._pull)
        self._own(play_track(track, self.jitter))

    def _peer(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        for track in self.media.tracks(video=self.video):
            pc.addTrack(
                _Preview(track, self.local) if track.kind == "video" else _Microphone(track, self)
            )

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._own(self._consume(track))
            elif track.kind == "audio":
                self._start_sound(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            _LOGGER.info("call %s connection %s", self.call_id, pc.connectionState)
            if pc.connectionState == "connected":
                # The hub records when the voice got through (the alarm's voice contact).
                if self.call_id is not None:
                    with contextlib.suppress(Exception):
                        await self._send({"type": "call.connected", "call_id": self.call_id})
                self.on_connected()
            elif pc.connectionState == "failed":
                # ICE could not recover from the drop: end cleanly, tell the hub and the UI.
                await self.hangup()
                self.on_failed()

        return pc

    def _own(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):  # MediaStreamError when the call ends
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.sink.add(frame)

    # ------------------------------------------------------------ the resident's actions

    async def place(self, callee: str) -> None:
        """Ask the hub to ring ``callee`` (a party such as ``u:3``)."""
        self.caller = True
        self.volume = NORMAL_VOLUME
        self.muted = False
        await self._send({"type": "call.start", "callee": callee})

    async def accept(
        self,
        call_id: int,
        *,
        voice_only: bool = False,
        loud: bool = False,
        announce: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Answer the ringing call ``call_id``; the caller's offer follows.

        ``voice_only``: no camera (the centre's calls); ``loud``: start at the loud volume
        step (hands-free at an alarm) instead of the normal one; ``announce``: said first —
        the media connects meanwhile, but the caller is heard only once it has been said
        (at most ``ANNOUNCE_MAX_S``), and is told ``{"announcing"}`` / ``{"announced"}``.
        """
        if self.pc is not None:
            await self.close()  # a call the hub ended for this one (the centre's at an alarm)
        self.call_id = call_id
        self.caller = False
        self.video = not voice_only
        self.volume = LOUD_VOLUME if loud else NORMAL_VOLUME
        self.muted = False
        self.announcing = announce is not None
        self.pc = self._peer()
        await self._send({"type": "call.accept", "call_id": call_id})
        if announce is not None:
            await self._signal({"announcing": True})
            self._own(self._announce(call_id, announce))

    async def _announce(self, call_id: int, announce: Callable[[], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(ANNOUNCE_MAX_S):
                await announce()
        except TimeoutError:
            _LOGGER.warning("call %s: announcement still going after %s s", call_id, ANNOUNCE_MAX_S)
        except Exception:  # a broken speaker must not keep the centre unheard
            _LOGGER.exception("call %s: announcement failed", call_id)
        if self.call_id == call_id:
            self.announcing = False
            await self._signal({"announced": True})

    async def decline(self, call_id: int) -> None:
        """Decline a ringing call."""
        await self._send({"type": "call.decline", "call_id": call_id})

    async def hangup(self) -> None:
        """End the current call (tell the hub) and close the connection."""
        if self.call_id is not None:
            with contextlib.suppress(Exception):
                await self._send({"type": "call.hangup", "call_id": self.call_id})
        await self.close()

    async def close(self) -> None:
        """Close the peer connection and stop reading frames."""
        pc, self.pc = self.pc, None
        self.call_id = None
        self.announcing = False
        if pc is not None:
            await pc.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._playing and self.output is not None:
            self._playing = False
            await self.output.stop()
        self.jitter.clear()
        if pc is not None:
            # The next call counts its own frames; this one's stay readable until then.
            self.ended_sink, self.sink = self.sink, FrameSink()
            self.local = FrameSink()

    # ------------------------------------------------------------ frames from the hub

    async def on_call_state(self, call_id: int, status: str) -> None:
        """``call.state`` for one of our calls."""
        if status == "ringing" and self.caller and self.call_id is None:
            self.call_id = call_id
        elif status == "accepted" and self.caller and call_id == self.call_id:
            await self._offer()
        elif status in ("declined", "missed", "ended") and call_id == self.call_id:
            await self.close()

    async def _offer(self) -> None:
        self.pc = pc = self._peer()
        await pc.setLocalDescription(await pc.createOffer())
        await self._signal({"sdp": _sdp(pc)})

    async def on_signal(self, call_id: int, data: dict[str, Any]) -> None:
        """Offer, answer or ICE candidate from the other side."""
        if call_id != self.call_id or self.pc is None:
            _LOGGER.info("signal for call %s ignored (current %s)", call_id, self.call_id)
            return
        pc = self.pc
        volume = data.get("volume")
        if volume in ("up", "down"):
            # The operator's "louder": a control message on the call's signalling channel.
            level = self.louder() if volume == "up" else self.softer()
            self.on_volume(level)
            await self._signal({"volume_level": level})
            return
        sdp = data.get("sdp")
        candidate = data.get("candidate")
        if isinstance(sdp, dict):
            description = RTCSessionDescription(sdp=str(sdp["sdp"]), type=str(sdp["type"]))
            await pc.setRemoteDescription(description)
            if description.type == "offer":
                await pc.setLocalDescription(await pc.createAnswer())
                await self._signal({"sdp": _sdp(pc)})
        elif isinstance(candidate, dict) and candidate.get("candidate"):
            text = str(candidate["candidate"])
            parsed = candidate_from_sdp(
                text.split(":", 1)[1] if text.startswith("candidate:") else text
            )
            parsed.sdpMid = candidate.get("sdpMid")
            parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
            await pc.addIceCandidate(parsed)

    async def _signal(self, data: dict[str, Any]) -> None:
        await self._send({"type": "call.signal", "call_id": self.call_id, "data": data})


def _sdp(pc: RTCPeerConnection) -> dict[str, str]:
    description = pc.localDescription
    return {"type": description.type, "sdp": description.sdp}
