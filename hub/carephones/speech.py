"""A unit's speech call, taken by the hub: SIP ``INVITE`` → G.711 RTP → a WebRTC track.

After an alarm a SCAIP unit calls the centre. The hub takes it on the SCAIP endpoint (ADR
0121): it finds the unit by the caller (its registered ``caller_id``, or its ``cid`` as the
``From`` user) and ties the call to the home's open alarm. As an alarm receiving centre does
(ADR 0160), it holds the call ringing (``180 Ringing``) until an operator takes it — accepts
the alarm, or speaks with the home — and only then answers (``200 OK``) with one G.711 codec
and an RTP port of its own, decoding what arrives into :class:`UnitAudioTrack`, an aiortc
track the operator's WebRTC connection carries to the console. When nobody has taken it
after ``ring_s``, the hub answers by itself and plays a hold message to the unit until an
operator speaks. A caller that hangs up while it rings (``CANCEL``) gets ``487`` for its
``INVITE``. ``BYE`` (either side) ends an answered call: the operator hanging up, or the
alarm resolved while the call is up, sends the unit a ``BYE`` (resent over UDP per RFC 3261
timer E until its final answer; ADR 0160). Calls from callers that are not
registered units are refused (403) before any port is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import secrets
import struct
import time
import wave
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hub.carephones.accounts import AccountBook, UnitAccount
from hub.carephones.transport import REPLY_PATH, ReplyPath
from hub.clock import Clock
from integrations.carephones.scaip import SipRequest, SipResponse
from integrations.carephones.scaip.digest import DigestError, authorization, parse_challenge
from integrations.carephones.scaip.media import (
    PCMA,
    RATE,
    TELEPHONE_EVENT,
    RtpPacket,
    SdpError,
    build_answer,
    build_offer,
    build_rtp,
    decode,
    encode,
    parse_offer,
    parse_rtp,
)
from integrations.carephones.scaip.sip import (
    SipReply,
    build_request,
    build_response,
    header_uri,
    remote_target,
    to_tag,
)

_LOGGER = logging.getLogger(__name__)

FRAME_SAMPLES = RATE // 50  # 20 ms
# What a call keeps of the unit's audio for the operator's track (and for tests).
_KEEP_S = 10
# A refused call's status → its outcome in the alarm's history.
_OUTCOMES = {486: "busy", 600: "busy", 603: "declined", 480: "no_answer", 408: "no_answer"}
# RFC 3261 timers for a 2xx sent over UDP: resent at T1, doubling to T2, until its ACK,
# given up after 64·T1.
T1, T2 = 0.5, 4.0
# Who ends a unit's call from the centre (ADR 0160): the operator hanging up, its alarm
# resolved, the operator's audio link failing (ADR 0168).
CENTRE_HANGS_UP = ("operator", "resolved", "link_failed")
# Call-IDs of ended calls remembered, so a replayed INVITE cannot open them again.
_ENDED_IDS = 2000
# Final refusals resent until their ACK at once, at most.
_FINALS = 200


class UnitAudioTrack(MediaStreamTrack):
    """The unit's voice as 20 ms frames (8 kHz, 16-bit mono), paced in real time.

    Frames are queued as RTP brings them (bounded: the oldest is dropped when the operator's
    side falls behind); when none is there, silence keeps the track's clock running.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: deque[list[int]] = deque(maxlen=50)  # 1 s
        self._pending: list[int] = []
        self._timestamp = 0
        self._start: float | None = None

    def feed(self, samples: list[int]) -> None:
        """Add decoded samples (any length)."""
        self._pending.extend(samples)
        while len(self._pending) >= FRAME_SAMPLES:
            self._frames.append(self._pending[:FRAME_SAMPLES])
            del self._pending[:FRAME_SAMPLES]

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame, on time."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._timestamp += FRAME_SAMPLES
            wait = self._start + self._timestamp / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing a real-time track, not waiting for an event
        samples = self._frames.popleft() if self._frames else [0] * FRAME_SAMPLES
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
        frame.sample_rate = RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


@dataclass
class SpeechCall:
    """One unit's call: who, when, where its RTP goes, what it said."""

    call_id: str
    # The unit calling, or (calling out) the home's unit if it has one.
    unit: UnitAccount | None
    started_at: datetime
    payload_type: int
    remote: tuple[str, int]
    local_port: int = 0
    # Where the other side wants our RTP (its offer, or its answer when calling out).
    media: tuple[str, int] | None = None
    packets: int = 0
    sent: int = 0  # RTP packets of the operator's voice sent to the unit
    ended_at: datetime | None = None
    ended_by: str = ""
    # The alarm the call is about (the home's newest open person alarm) and who holds it.
    alarm_id: str | None = None
    operator: str | None = None
    track: UnitAudioTrack = field(default_factory=UnitAudioTrack)
    audio: deque[int] = field(default_factory=lambda: deque(maxlen=RATE * _KEEP_S))
    transport: asyncio.DatagramTransport | None = None
    # Calling out (ADR 0122): the dialog's identity on our side and the callee's.
    direction: str = "in"
    target: str = ""
    local_tag: str = ""
    remote_to: str = ""
    outcome: str = ""
    answered_at: datetime | None = None
    branch: str = ""  # the INVITE's Via branch (its CANCEL and non-2xx ACK reuse it)
    cseq: int = 1  # the INVITE's CSeq number (2 once it was sent again with credentials)
    invite: bytes = b""  # the INVITE as it is (re)sent
    offer: bytes = b""
    authenticated: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # RFC 4733 telephone events (a contact pressing a key: "1" = on my way).
    dtmf_payload_type: int | None = None
    digits: list[str] = field(default_factory=list)
    digit: asyncio.Event = field(default_factory=asyncio.Event)
    _last_event: int | None = None
    # A unit's call held ringing (ADR 0160): "ringing" until taken, then "answered".
    state: str = "answered"
    request: SipRequest | None = None  # its INVITE, answered later
    reply_path: ReplyPath | None = None  # where that answer goes
    answer_sdp: bytes = b""
    answered_by: str = ""  # "operator" (accepted the alarm), "voice", "timeout", "hub"
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    # The operator's voice reaches the unit: the hold message stops.
    bridged: bool = False
    hold_sent: int = 0  # RTP packets of the hold message sent
    # The centre's BYE (ADR 0160): "ok" (200), "gone" (481: the unit had ended it already),
    # "refused" (another final answer), "no_answer" (none after 64·T1); "" until answered.
    bye_outcome: str = ""
    bye_answered: asyncio.Event = field(default_factory=asyncio.Event)
    bye_to: tuple[str, int] | None = None  # where the centre's BYE went (ADR 0168)
    _bye_provisional: bool = False

    def heard(self, samples: list[int]) -> None:
        """Samples decoded from the unit's RTP."""
        self.audio.extend(samples)
        self.track.feed(samples)

    def event(self, timestamp: int, payload: bytes) -> None:
        """One telephone-event packet: a key counts once (its packets share a timestamp)."""
        if len(payload) < 4 or payload[0] > 15 or timestamp == self._last_event:
            return
        self._last_event = timestamp
        self.digits.append("0123456789*#ABCD"[payload[0]])
        self.digit.set()


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: SpeechCall) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        packet = parse_rtp(data)
        if packet is not None and packet.payload_type == self.call.dtmf_payload_type:
            self.call.event(packet.timestamp, packet.payload)
            return
        if packet is None or packet.payload_type != self.call.payload_type:
            return  # RTCP, comfort noise, anything else: not voice
        self.call.packets += 1
        self.call.heard(decode(packet.payload_type, packet.payload))


class SpeechCalls:
    """The hub's side of units' speech calls on the SCAIP endpoint."""

    def __init__(
        self,
        *,
        book: AccountBook,
        clock: Clock,
        host: str,
        find_alarm: Callable[[UnitAccount], Awaitable[tuple[str, str | None] | None]] | None = None,
        max_calls: int = 200,
        ring_s: float = 0.0,
        hold_message: list[int] | None = None,
    ) -> None:
        self.book = book
        # How long a unit's call rings before the hub answers it with the hold message
        # (0: at once); the hold message, 8 kHz samples, played until an operator speaks.
        self.ring_s = ring_s
        self.hold_message = hold_message or []
        self.find_alarm = find_alarm
        self.clock = clock
        self.host = host
        self.max_calls = max_calls
        self.calls: dict[str, SpeechCall] = {}
        # Sends a SIP message from the endpoint's UDP socket (calling out); set by the app.
        self.send: Callable[[bytes, tuple[str, int]], None] | None = None
        self.sip_port = 0
        self.ring_timeout_s = 60.0
        # Credentials for a PBX that challenges our INVITEs (digest, RFC 2617/7616).
        self.pbx_user = ""
        self.pbx_password = ""
        self.answer_timeout_s = 32.0  # RFC 3261 timer B: no answer at all
        self._timers: set[asyncio.Task[None]] = set()
        self.ended: deque[SpeechCall] = deque(maxlen=100)
        # Calls cancelled while ringing, until their final answer is acknowledged (bounded).
        self._cancelled: dict[str, SpeechCall] = {}
        # Told when a call is answered (the console offers it to the alarm's operator).
        self.on_call: Callable[[SpeechCall], None] | None = None
        # The console's legs: told when a unit's call rings, when it is answered and when
        # any call ends.
        self.on_ringing: list[Callable[[SpeechCall], None]] = []
        self.on_answered: list[Callable[[SpeechCall], None]] = []
        self.on_ended: list[Callable[[SpeechCall], None]] = []
        # Told when the centre's BYE of a call has its outcome (``call.bye_outcome``).
        self.on_bye: list[Callable[[SpeechCall], None]] = []
        # The centre's BYEs waiting for their final answer, and (bounded) those answered, so
        # a late retransmitted answer is not taken for bad input.
        self._byes: dict[str, SpeechCall] = {}
        self._byes_done: OrderedDict[str, None] = OrderedDict()
        # Timer E/F of our BYEs (RFC 3261 17.1.2.2); tests may shorten them.
        self.t1, self.t2 = T1, T2
        # How long a unit's call waits, after the operator's WebRTC leg closed from the far
        # end, for that operator's hang-up before the hub ends it as a failed link (ADR 0168).
        self.link_grace_s = 2.0
        # Bad input on the speech path, by reason (``/metrics`` with the receiver's).
        self.refused: Counter[str] = Counter()
        self._ended_ids: OrderedDict[str, str] = OrderedDict()
        # Final refusals of units' INVITEs waiting for their ACK (bounded).
        self._finals: dict[str, tuple[asyncio.Event, SipResponse]] = {}

    def unit_of(self, request: SipRequest) -> UnitAccount | None:
        """The registered unit calling: by caller id, or by ``cid`` as the From user."""
        caller = request.from_uri
        for unit in self.book.units():
            if unit.caller_id and _same_caller(unit.caller_id, caller):
                return unit
        user = caller.split(":", 1)[-1].split("@", 1)[0]
        return self.book.find("", user)

    async def invite(self, request: SipRequest) -> SipResponse:
        """Take a unit's call: ``180 Ringing`` while it waits for an operator (a retransmitted
        INVITE gets the same answer as the first, ``200`` once answered)."""
        call_id = request.header("call-id") or ""
        existing = self.calls.get(call_id)
        if existing is not None:
            if existing.direction != "in":
                self.refused["invite_loop"] += 1
                return SipResponse(482, "Loop Detected")
            return (
                SipResponse(180, "Ringing") if existing.state == "ringing" else self._ok(existing)
            )
        final = self._finals.get(call_id)
        if final is not None:
            return final[1]  # the unit did not hear our refusal: the same again
        if call_id in self._ended_ids:
            # A replay (or a very late retransmission) of a call that is over: never a new one.
            self.refused["replayed_invite"] += 1
            return SipResponse(481, "Call/Transaction Does Not Exist")
        unit = self.unit_of(request)
        if unit is None:
            self.refused["unknown_caller"] += 1
            return SipResponse(403, "Unknown caller")
        if len(self.calls) >= self.max_calls:
            self.refused["busy"] += 1
            return SipResponse(486, "Busy Here")
        try:
            offer = parse_offer(request.body.decode("utf-8", "replace"))
        except SdpError as err:
            self.refused["bad_sdp"] += 1
            return SipResponse(488, f"Not Acceptable Here: {err}")
        payload_type = PCMA if PCMA in offer.payload_types else offer.payload_types[0]
        path = REPLY_PATH.get()
        call = SpeechCall(
            call_id=call_id,
            unit=unit,
            started_at=self.clock(),
            payload_type=payload_type,
            remote=(offer.address, offer.port),
            media=(offer.address, offer.port),
            dtmf_payload_type=TELEPHONE_EVENT if TELEPHONE_EVENT in offer.payload_types else None,
            state="ringing",
            request=request,
            reply_path=path,
        )
        self.calls[call_id] = call
        if self.find_alarm is not None:
            try:
                found = await self.find_alarm(unit)
            except Exception:  # the call goes on; the console can still match it by unit
                _LOGGER.exception("alarm of the speech call from %s not found", unit.account)
                found = None
            if found is not None:
                call.alarm_id, call.operator = found
        if call_id not in self.calls:
            return SipResponse(487, "Request Terminated")  # cancelled meanwhile
        _LOGGER.info(
            "speech call from %s (%s) ringing on alarm %s", unit.device.device_id,
            request.from_uri, call.alarm_id,
        )  # fmt: skip
        for hook in self.on_ringing:
            hook(call)
        if self.ring_s <= 0 or path is None:
            # Nothing to hold it with (no way to answer later), or the centre answers at once.
            await self._take(call, "hub")
            return self._ok(call)
        self._own(self._ring_timeout(call))
        return SipResponse(180, "Ringing")

    async def _ring_timeout(self, call: SpeechCall) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.answered.wait(), self.ring_s)
        if call.state == "ringing" and call.call_id in self.calls:
            await self.answer(call, "timeout")

    def ringing(
        self, *, alarm_id: str | None = None, home_id: str | None = None
    ) -> list[SpeechCall]:
        """Units' calls still ringing, on ``alarm_id`` or (not tied to an alarm) from a unit
        of ``home_id``."""
        return [
            call for call in self.calls.values()
            if call.direction == "in" and call.state == "ringing" and (
                (alarm_id is not None and call.alarm_id == alarm_id)
                or (call.alarm_id is None and home_id is not None and call.unit is not None
                    and str(call.unit.device.home_id) == home_id)
            )
        ]  # fmt: skip

    async def answer(self, call: SpeechCall, by: str) -> bool:
        """Answer a ringing call (``200 OK`` on its INVITE's path); False when it is not
        ringing any more (answered already, cancelled, ended)."""
        if call.state != "ringing" or call.call_id not in self.calls:
            return False
        await self._take(call, by)
        if call.call_id not in self.calls or call.request is None or call.reply_path is None:
            return False
        answer = build_response(call.request, self._ok(call))
        call.reply_path.send(answer)
        if not call.reply_path.reliable:
            self._own(self._resend_ok(call, answer))
        return True

    async def _take(self, call: SpeechCall, by: str) -> None:
        # The call is answered from here: its RTP port, its hold message, the hooks.
        call.state = "answered"
        call.answered_by = by
        call.answered_at = self.clock()
        call.answered.set()
        await self._open_media(call)
        session = secrets.randbelow(1 << 31)
        call.answer_sdp = build_answer(
            self.host, call.local_port, call.payload_type, session
        ).encode()
        _LOGGER.info(
            "speech call from %s answered (%s): RTP %s ← %s:%s", call.call_id, by,
            call.local_port, *call.remote,
        )  # fmt: skip
        if self.hold_message:
            self._own(self._hold(call))
        for hook in self.on_answered:
            hook(call)
        if self.on_call is not None:
            self.on_call(call)

    async def _resend_ok(self, call: SpeechCall, answer: bytes) -> None:
        # RFC 3261 13.3.1.4: the 2xx over UDP is resent until its ACK; without one after
        # 64·T1 the call is over.
        waited, interval = 0.0, T1
        while call.call_id in self.calls and not call.acked.is_set():
            try:
                await asyncio.wait_for(call.acked.wait(), interval)
            except TimeoutError:
                waited += interval
                if waited >= 64 * T1 or call.reply_path is None:
                    self.refused["no_ack"] += 1
                    self.end(call, "no_ack")
                    return
                call.reply_path.send(answer)
                interval = min(interval * 2, T2)

    async def _hold(self, call: SpeechCall) -> None:
        # The hold message, again and again with a second of silence between, paced in real
        # time, until the operator's voice reaches the unit or the call ends.
        message = self.hold_message + [0] * RATE
        sequence, timestamp = secrets.randbelow(1 << 16), secrets.randbelow(1 << 32)
        ssrc = secrets.randbelow(1 << 32)
        start, sent, position = time.monotonic(), 0, 0
        while call.call_id in self.calls and not call.bridged:
            if call.transport is None or call.media is None:
                return
            frame = message[position : position + FRAME_SAMPLES]
            frame += [0] * (FRAME_SAMPLES - len(frame))
            position = (position + FRAME_SAMPLES) % len(message)
            payload = encode(call.payload_type, frame)
            packet = RtpPacket(call.payload_type, sequence, timestamp, ssrc, payload)
            call.transport.sendto(build_rtp(packet), call.media)
            call.hold_sent += 1
            sent += 1
            sequence = (sequence + 1) & 0xFFFF
            timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
            wait = start + sent * FRAME_SAMPLES / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing real-time audio, not waiting for an event

    def ack(self, request: SipRequest) -> None:
        """The ACK of our 200, or of a final refusal: the unit has the answer (no more
        resending)."""
        final = self._finals.pop(request.header("call-id") or "", None)
        if final is not None:
            final[0].set()
            return
        call = self.calls.get(request.header("call-id") or "")
        if call is not None and call.direction == "in":
            call.acked.set()

    def cancel(self, request: SipRequest) -> SipResponse:
        """The unit hung up before it was answered: ``487`` for its INVITE, ``200`` here."""
        call = self.calls.get(request.header("call-id") or "")
        if call is None or call.direction != "in":
            self.refused["unknown_call"] += 1
            return SipResponse(481, "Call/Transaction Does Not Exist")
        if call.state == "ringing":
            self._terminate(call)
        # Answered already: the CANCEL has no effect (RFC 3261 9.2), the unit sends BYE.
        return SipResponse(200)

    def _terminate(self, call: SpeechCall) -> None:
        call.outcome = "cancelled"
        call.answered.set()  # the ring timer stops
        if call.request is not None and call.reply_path is not None:
            # After the 200 to the CANCEL (sent as this handler returns, in this same step).
            terminated = SipResponse(487, "Request Terminated")
            asyncio.get_running_loop().call_soon(self._final, call, terminated)
        self.end(call, "unit")

    def decline(self, call: SpeechCall, by: str) -> bool:
        """Refuse a unit's call that still rings, at once (``by``: ``resolved``, its alarm
        resolved before anyone took it): ``603 Decline`` on its INVITE's path, resent over
        UDP until the unit's ACK (ADR 0168). False when it does not ring (any more)."""
        if call.direction != "in" or call.state != "ringing" or call.call_id not in self.calls:
            return False
        call.outcome = "declined"
        call.answered.set()  # the ring timer stops
        if call.request is not None and call.reply_path is not None:
            reason = 'SIP;cause=603;text="the alarm was resolved"'
            self._final(call, SipResponse(603, "Decline", headers=(("Reason", reason),)))
        self.end(call, by)
        return True

    def _final(self, call: SpeechCall, refusal: SipResponse) -> None:
        # A final refusal of a unit's INVITE (487, 603): over UDP resent until its ACK
        # (RFC 3261 17.2.1, timer G: T1 doubling to T2), given up after 64·T1 (timer H);
        # a retransmitted INVITE meanwhile gets it again.
        path = call.reply_path
        if call.request is None or path is None:
            return
        answer = build_response(call.request, refusal)
        acked = asyncio.Event()
        self._finals[call.call_id] = (acked, refusal)
        while len(self._finals) > _FINALS:
            self._finals.pop(next(iter(self._finals)))[0].set()  # bounded: the oldest stops
        try:
            path.send(answer)
        except Exception:  # the unit's connection is gone: nobody to tell
            self._finals.pop(call.call_id, None)
            return
        if path.reliable:
            self._finals.pop(call.call_id, None)  # TCP: no retransmissions to stop
            return
        self._own(self._resend_final(call.call_id, answer, path, acked))

    async def _resend_final(
        self, call_id: str, answer: bytes, path: ReplyPath, acked: asyncio.Event
    ) -> None:
        waited, interval = 0.0, self.t1
        while not acked.is_set():
            wait = min(interval, 64 * self.t1 - waited)
            try:
                await asyncio.wait_for(acked.wait(), wait)
            except TimeoutError:
                waited += wait
                if waited >= 64 * self.t1:
                    break
                with contextlib.suppress(Exception):
                    path.send(answer)
                interval = min(interval * 2, self.t2)
        entry = self._finals.get(call_id)
        if entry is not None and entry[0] is acked:
            del self._finals[call_id]

    async def _open_media(self, call: SpeechCall) -> None:
        # The call's own RTP port; the call is live from here.
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _RtpProtocol(call), local_addr=(self.host, 0)
        )
        call.transport = transport
        call.local_port = transport.get_extra_info("sockname")[1]
        self.calls[call.call_id] = call

    def _ok(self, call: SpeechCall) -> SipResponse:
        return SipResponse(
            200,
            headers=(("Contact", f"<sip:arc@{self.host}>"),),
            body=call.answer_sdp,
            content_type="application/sdp",
        )

    def speak(
        self, call: SpeechCall, track: MediaStreamTrack, until: asyncio.Event | None = None
    ) -> None:
        """Send what ``track`` carries (the operator's voice) to the unit as G.711 RTP, until
        the track ends, ``call`` finishes or ``until`` is set (its peer closed). aiortc does
        not end the remote track of a peer closed before its receiver started (ADR 0177 §9):
        waiting on the track alone would wait until the hub stops."""
        self._own(self._speak_until(call, track, until))

    async def _speak_until(
        self, call: SpeechCall, track: MediaStreamTrack, until: asyncio.Event | None
    ) -> None:
        speaking = asyncio.ensure_future(self._speak(call, track))
        ends = [call.finished.wait()] + ([until.wait()] if until is not None else [])
        tasks = [speaking, *(asyncio.ensure_future(end) for end in ends)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await _settled(tasks)
        if not speaking.cancelled():
            speaking.result()  # its own error, if any, is this task's

    async def _speak(self, call: SpeechCall, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        sequence, timestamp = secrets.randbelow(1 << 16), secrets.randbelow(1 << 32)
        ssrc = secrets.randbelow(1 << 32)
        pending = bytearray()
        # The track is paced by its source (a WebRTC peer's audio arrives in real time),
        # so each 20 ms of it leaves as one packet when it is there.
        while call.call_id in self.calls:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            if call.media is None:
                continue  # calling out, not answered yet: nowhere to send it, nothing kept
            for out in resampler.resample(frame):
                pending += bytes(out.planes[0])[: out.samples * 2]
            while len(pending) >= FRAME_SAMPLES * 2 and call.media and call.transport:
                samples = list(struct.unpack(f"<{FRAME_SAMPLES}h", pending[: FRAME_SAMPLES * 2]))
                del pending[: FRAME_SAMPLES * 2]
                payload = encode(call.payload_type, samples)
                packet = RtpPacket(call.payload_type, sequence, timestamp, ssrc, payload)
                call.bridged = True  # the hold message stops
                call.transport.sendto(build_rtp(packet), call.media)
                call.sent += 1
                sequence = (sequence + 1) & 0xFFFF
                timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF

    def bye(self, request: SipRequest) -> SipResponse:
        """The unit hung up."""
        call_id = request.header("call-id") or ""
        call = self.calls.get(call_id)
        if call is None and (call_id in self._byes or call_id in self._byes_done):
            return SipResponse(200)  # both sides hung up at once: it is over either way
        if call is None:
            self.refused["unknown_call"] += 1
            return SipResponse(481, "Call/Transaction Does Not Exist")
        if call.state == "ringing":
            self._terminate(call)  # a BYE before the answer: hung up all the same
        else:
            self.end(call, "unit")
        return SipResponse(200)

    def end(self, call: SpeechCall, by: str) -> None:
        """End ``call`` (its RTP port closed, its track ended)."""
        if call.call_id not in self.calls:
            return
        self.calls.pop(call.call_id, None)
        if call.direction == "in":
            self._ended_ids[call.call_id] = call.outcome or "ended"
            while len(self._ended_ids) > _ENDED_IDS:
                self._ended_ids.popitem(last=False)
        call.finished.set()
        call.ended_at = self.clock()
        call.ended_by = by
        if call.transport is not None:
            call.transport.close()
        call.track.stop()
        self.ended.append(call)
        for hook in self.on_ended:
            hook(call)
        _LOGGER.info("speech call %s (%s) ended by %s", call.call_id, call.direction, by)

    def close(self) -> None:
        """End every call (the hub stops; a unit whose call rings is told to call again)."""
        for call in list(self.calls.values()):
            if call.state == "ringing" and call.request is not None and call.reply_path:
                with contextlib.suppress(Exception):  # the listener may be closed already
                    call.reply_path.send(
                        build_response(call.request, SipResponse(480, "Temporarily Unavailable"))
                    )
            self.end(call, "hub")
        for timer in self._timers:
            timer.cancel()

    # -- calling out (ADR 0122) --------------------------------------------------------

    def new_call_id(self) -> str:
        """A Call-ID for a call out (known before it is placed: ADR 0168, §4)."""
        return f"{secrets.token_hex(8)}@{self.host}"

    async def call_out(
        self, unit: UnitAccount | None, uri: str, via: tuple[str, int], call_id: str = ""
    ) -> SpeechCall:
        """Call ``uri`` (the unit, or a contact through the centre's PBX at ``via``)."""
        if self.send is None:
            raise RuntimeError("calling out needs the SCAIP UDP listener")
        call_id = call_id or self.new_call_id()
        call = SpeechCall(
            call_id=call_id,
            unit=unit,
            started_at=self.clock(),
            payload_type=PCMA,
            remote=via,
            direction="out",
            target=uri,
            local_tag=secrets.token_hex(6),
            dtmf_payload_type=TELEPHONE_EVENT,
            branch=f"z9hG4bK{secrets.token_hex(8)}",
        )
        await self._open_media(call)
        call.offer = build_offer(self.host, call.local_port, secrets.randbelow(1 << 31)).encode()
        call.invite = build_request(
            "INVITE", uri, self._dialog_headers(call, "INVITE", 1), call.offer, "application/sdp"
        )
        self._own(self._until_answered(call))
        return call

    def _dialog_headers(
        self, call: SpeechCall, method: str, cseq: int, *, same_branch: bool = False
    ) -> list[tuple[str, str]]:
        # The INVITE, its CANCEL and the ACK of a non-2xx answer share the INVITE's branch
        # (RFC 3261 9.1, 17.1.1.3); a CANCEL's To has no tag (the INVITE's To).
        invite_transaction = method == "INVITE" or same_branch
        branch = call.branch if invite_transaction else f"z9hG4bK{secrets.token_hex(8)}"
        to = f"<{call.target}>" if method in ("INVITE", "CANCEL") else call.remote_to
        return [
            ("Via", f"SIP/2.0/UDP {self.host}:{self.sip_port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:arc@{self.host}>;tag={call.local_tag}"),
            ("To", to or f"<{call.target}>"),
            ("Call-ID", call.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:arc@{self.host}:{self.sip_port}>"),
        ]

    def _own(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _until_answered(self, call: SpeechCall) -> None:
        # RFC 3261 timer A/B over UDP: resend at 0.5, 1, 2, 4, 4 ... s until any answer,
        # give up after answer_timeout_s; a ringing phone then has ring_timeout_s to answer.
        assert self.send is not None
        waited, interval = 0.0, 0.5
        while not call.outcome and not call.remote_to and waited < self.answer_timeout_s:
            self.send(call.invite, call.remote)
            try:
                await asyncio.wait_for(call.answered.wait(), interval)
            except TimeoutError:
                waited += interval
                interval = min(interval * 2, 4.0)
        if not call.outcome and call.remote_to:
            # Ringing: the callee has ring_timeout_s to pick up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.answered.wait(), self.ring_timeout_s)
        if not call.outcome:
            call.outcome = "no_answer"
            self.end(call, "timeout")

    def reply(self, reply: SipReply) -> None:
        """A response to a request we sent."""
        call_id = reply.header("call-id") or ""
        call = self.calls.get(call_id)
        cseq = (reply.header("cseq") or "").split()
        if cseq[-1:] == ["BYE"]:
            self._bye_reply(call_id, reply)
            return
        if cseq[-1:] != ["INVITE"]:
            return  # a 200 to our CANCEL
        if call is None and reply.status >= 300 and call_id in self._cancelled:
            # The 487 (or any final refusal) of a call we cancelled: acknowledged, so the
            # callee stops resending it.
            self._ack_refusal(self._cancelled[call_id], reply)
            return
        if call is None or call.direction != "out":
            return  # a late retransmission
        if cseq[0] != str(call.cseq):
            return  # an answer to the INVITE before we sent it again with credentials
        if reply.status in (401, 407) and self._authenticate(call, reply):
            return
        if reply.status < 200:
            call.remote_to = reply.header("to") or call.remote_to  # ringing: stop resending
            return
        call.remote_to = reply.header("to") or call.remote_to
        if reply.status >= 300:
            self._ack_refusal(call, reply)
            call.outcome = _OUTCOMES.get(reply.status, "failed")
            call.answered.set()
            self.end(call, "callee")
            return
        ack = build_request("ACK", call.target, self._dialog_headers(call, "ACK", call.cseq))
        try:
            answer = parse_offer(reply.body.decode("utf-8", "replace"))
        except SdpError:
            call.outcome = "media_failed"
            call.answered.set()
            self.hangup(call)
            return
        call.payload_type = answer.payload_types[0]
        call.media = (answer.address, answer.port)
        assert self.send is not None
        self.send(ack, call.remote)
        call.outcome = "answered"
        call.answered_at = self.clock()
        call.answered.set()

    def _authenticate(self, call: SpeechCall, reply: SipReply) -> bool:
        """Answer a PBX's challenge once: ACK it, send the INVITE again (a new transaction,
        CSeq + 1) with the credentials. False when we have none or already tried."""
        if call.authenticated or not self.pbx_user:
            return False
        header = reply.header("www-authenticate" if reply.status == 401 else "proxy-authenticate")
        try:
            challenge = parse_challenge(header or "")
        except DigestError as err:
            _LOGGER.warning("call %s: PBX challenge not answered: %s", call.call_id, err)
            return False
        self._ack_refusal(call, reply)
        call.authenticated = True
        call.cseq += 1
        call.branch = f"z9hG4bK{secrets.token_hex(8)}"
        value = authorization(
            challenge, username=self.pbx_user, password=self.pbx_password, method="INVITE",
            uri=call.target, cnonce=secrets.token_hex(8),
        )  # fmt: skip
        name = "Authorization" if reply.status == 401 else "Proxy-Authorization"
        headers = [*self._dialog_headers(call, "INVITE", call.cseq), (name, value)]
        call.invite = build_request("INVITE", call.target, headers, call.offer, "application/sdp")
        assert self.send is not None
        self.send(call.invite, call.remote)
        return True

    def _ack_refusal(self, call: SpeechCall, reply: SipReply) -> None:
        assert self.send is not None
        headers = self._dialog_headers(call, "ACK", call.cseq, same_branch=True)
        headers = [("To", reply.header("to") or call.remote_to) if n == "To" else (n, v)
                   for n, v in headers]  # fmt: skip
        self.send(build_request("ACK", call.target, headers), call.remote)

    def hangup(self, call: SpeechCall) -> None:
        """The centre hangs up a call it made: ``BYE`` once answered; ringing, ``CANCEL``
        (its final answer, a 487, is acknowledged when it comes); not answered at all yet,
        the ``INVITE`` is no longer resent."""
        if call.call_id not in self.calls:
            return
        if self.send is not None and call.outcome == "answered":
            bye = build_request(
                "BYE", call.target, self._dialog_headers(call, "BYE", call.cseq + 1)
            )
            send, remote = self.send, call.remote
            self._send_bye(call, bye, lambda data: send(data, remote), reliable=False)
        elif not call.outcome:
            call.outcome = "cancelled"
            if self.send is not None and call.remote_to:
                cancel = build_request(
                    "CANCEL", call.target, self._dialog_headers(call, "CANCEL", call.cseq)
                )
                self.send(cancel, call.remote)
                self._cancelled[call.call_id] = call
                while len(self._cancelled) > 200:
                    self._cancelled.pop(next(iter(self._cancelled)))
            call.answered.set()
        self.end(call, "centre")

    # -- the centre ends a unit's call (ADR 0160) -------------------------------------

    def hang_up_unit(self, call: SpeechCall, by: str) -> bool:
        """End a unit's answered call from the centre (``by``: ``operator`` hanging up,
        ``resolved``: its alarm resolved): ``BYE`` on the INVITE's path, resent over UDP
        until its final answer; the call's media ends at once. False when there is nothing
        to end (not a unit's call, still ringing, over already, or no path to the unit)."""
        if (
            call.direction != "in" or call.state != "answered" or call.call_id not in self.calls
            or call.request is None or call.reply_path is None
        ):  # fmt: skip
            return False
        path, invite = call.reply_path, call.request
        bye = self._unit_bye(call, invite, path.reliable)
        send = path.send
        # To the dialog's remote target, the unit's Contact (RFC 3261 12.2.1.1); where that
        # cannot be used (none, a name, a NAT's inside address...), where the INVITE came
        # from. Over TCP the unit's own connection carries it (ADR 0168).
        target = (
            remote_target(header_uri(invite.header("contact") or ""), path.source)
            if path.source is not None and not path.reliable and self.send is not None
            else None
        )
        if target is not None and self.send is not None:
            send = _sender(self.send, target)
        call.bye_to = target or path.source
        _LOGGER.info(
            "BYE of speech call %s to %s (%s)", call.call_id, call.bye_to,
            "its Contact" if target else "where it came from",
        )  # fmt: skip
        self._send_bye(call, bye, send, reliable=path.reliable)
        self.end(call, by)
        return True

    def _unit_bye(self, call: SpeechCall, invite: SipRequest, reliable: bool) -> bytes:
        # We are the UAS of the unit's dialog (RFC 3261 12.1.1, 12.2.1.1): the request goes
        # to its Contact, From is the INVITE's To with our tag, To its From; our own CSeq
        # space starts at 1; its Record-Route, if any, is our route set (in order).
        to = invite.header("to") or ""
        if ";tag=" not in to.replace(" ", ""):
            to = f"{to};tag={to_tag(invite)}"
        contact = header_uri(invite.header("contact") or "")
        target = contact if contact.lower().startswith(("sip:", "sips:")) else invite.from_uri
        transport = "TCP" if reliable else "UDP"
        branch = f"z9hG4bK{secrets.token_hex(8)}"
        headers = [
            ("Via", f"SIP/2.0/{transport} {self.host}:{self.sip_port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            *(("Route", route) for route in invite.all("record-route")),
            ("From", to),
            ("To", invite.header("from") or ""),
            ("Call-ID", call.call_id),
            ("CSeq", "1 BYE"),
            ("Reason", 'SIP;cause=200;text="ended by the centre"'),
        ]
        return build_request("BYE", target, headers)

    def _send_bye(
        self, call: SpeechCall, bye: bytes, send: Callable[[bytes], None], *, reliable: bool
    ) -> None:
        self._byes[call.call_id] = call
        try:
            send(bye)
        except Exception:  # the unit's connection is gone: nobody to tell
            _LOGGER.info("BYE of call %s not sent: its path is closed", call.call_id)
            self._bye_over(call, "gone")
            return
        self._own(self._bye_transaction(call, bye, send, reliable))

    async def _bye_transaction(
        self, call: SpeechCall, bye: bytes, send: Callable[[bytes], None], reliable: bool
    ) -> None:
        # RFC 3261 17.1.2.2: over UDP resent at T1, doubling to T2 (at T2 once a provisional
        # answer came), until a final answer; timer F gives up after 64·T1 (TCP too).
        waited, interval = 0.0, self.t1
        while not call.bye_answered.is_set():
            wait = min(interval, 64 * self.t1 - waited)
            try:
                await asyncio.wait_for(call.bye_answered.wait(), wait)
            except TimeoutError:
                waited += wait
                if waited >= 64 * self.t1:
                    self._bye_over(call, "no_answer")
                    return
                if not reliable:
                    with contextlib.suppress(Exception):
                        send(bye)
                interval = self.t2 if call._bye_provisional else min(interval * 2, self.t2)

    def _bye_reply(self, call_id: str, reply: SipReply) -> None:
        call = self._byes.get(call_id)
        if call is None:
            if call_id not in self._byes_done:
                # An answer to a BYE we never sent (or a stranger's): ignored, counted.
                self.refused["unknown_bye_answer"] += 1
                _LOGGER.info("answer %s to a BYE of unknown call %r", reply.status, call_id[:80])
            return
        if reply.status < 200:
            call._bye_provisional = True
            return
        self._bye_over(call, {200: "ok", 481: "gone"}.get(reply.status, "refused"))

    def _bye_over(self, call: SpeechCall, outcome: str) -> None:
        if self._byes.pop(call.call_id, None) is None:
            return
        self._byes_done[call.call_id] = None
        while len(self._byes_done) > _ENDED_IDS:
            self._byes_done.popitem(last=False)
        call.bye_outcome = outcome
        call.bye_answered.set()
        _LOGGER.info("BYE of speech call %s: %s", call.call_id, outcome)
        for hook in self.on_bye:
            hook(call)


HOLD_MESSAGES = Path(__file__).parent / "hold"


async def _settled(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until ``tasks`` (cancelled) are done, before the task awaiting them ends. A
    second cancel of that task while it waits (the call ends as the hub stops) is kept until
    they are done, then raised: it must not end first and leave them running unawaited."""
    cancelled = False
    while True:
        try:
            await asyncio.wait(tasks)
            break
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def load_hold_message(value: str) -> list[int]:
    """The hold message as 8 kHz samples: ``"ca"``/``"es"``/``"en"`` (shipped), a WAV file's
    path (mono, 16-bit, any rate), or nothing (``""``). Raises ``ValueError`` at start-up
    for anything else, so a centre never learns of a bad file from a resident's call."""
    if not value:
        return []
    path = HOLD_MESSAGES / f"{value}.wav" if value.isalpha() and len(value) == 2 else Path(value)
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise ValueError(f"hold message {path}: a mono 16-bit WAV file is needed")
            rate, data = wav.getframerate(), wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as err:
        raise ValueError(f"hold message {value!r} cannot be read: {err}") from None
    if rate == RATE:
        return list(struct.unpack(f"<{len(data) // 2}h", data[: len(data) // 2 * 2]))
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(data) // 2)
    frame.planes[0].update(data[: len(data) // 2 * 2])
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = bytearray()
    for piece in [*resampler.resample(frame), *resampler.resample(None)]:
        out += bytes(piece.planes[0])[: piece.samples * 2]
    return list(struct.unpack(f"<{len(out) // 2}h", out))


def _sender(
    send: Callable[[bytes, tuple[str, int]], None], where: tuple[str, int]
) -> Callable[[bytes], None]:
    def to_where(data: bytes) -> None:
        send(data, where)

    return to_where


def _same_caller(registered: str, caller: str) -> bool:
    # "sip:unit@host" matches "sip:unit@host:5060;transport=udp"; "tel:+34..." by number.
    def norm(uri: str) -> str:
        uri = uri.split(";", 1)[0].lower()
        scheme, _, rest = uri.partition(":")
        user, at, host = rest.partition("@")
        return f"{scheme}:{user}@{host.split(':', 1)[0]}" if at else f"{scheme}:{user}"

    return norm(registered) == norm(caller)
