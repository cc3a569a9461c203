"""A unit's speech call, taken by the hub: SIP ``INVITE`` → G.711 RTP → a WebRTC track.

After an alarm a SCAIP unit calls the centre. The hub answers it on the SCAIP endpoint (ADR
0121): it finds the unit by the caller (its registered ``caller_id``, or its ``cid`` as the
``From`` user), answers the offer with one G.711 codec and an RTP port of its own, and
decodes what arrives into :class:`UnitAudioTrack`, an aiortc track the operator's WebRTC
connection carries to the console. ``BYE`` (either side) ends it. Calls from callers that
are not registered units are refused (403) before any port is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import secrets
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hub.carephones.accounts import AccountBook, UnitAccount
from hub.clock import Clock
from integrations.carephones.scaip import SipRequest, SipResponse
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
from integrations.carephones.scaip.sip import SipReply, build_request

_LOGGER = logging.getLogger(__name__)

FRAME_SAMPLES = RATE // 50  # 20 ms
# What a call keeps of the unit's audio for the operator's track (and for tests).
_KEEP_S = 10
# A refused call's status → its outcome in the alarm's history.
_OUTCOMES = {486: "busy", 600: "busy", 603: "declined", 480: "no_answer", 408: "no_answer"}


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
    unit: UnitAccount
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
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # RFC 4733 telephone events (a contact pressing a key: "1" = on my way).
    dtmf_payload_type: int | None = None
    digits: list[str] = field(default_factory=list)
    digit: asyncio.Event = field(default_factory=asyncio.Event)
    _last_event: int | None = None

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
    ) -> None:
        self.book = book
        self.find_alarm = find_alarm
        self.clock = clock
        self.host = host
        self.max_calls = max_calls
        self.calls: dict[str, SpeechCall] = {}
        # Sends a SIP message from the endpoint's UDP socket (calling out); set by the app.
        self.send: Callable[[bytes, tuple[str, int]], None] | None = None
        self.sip_port = 0
        self.ring_timeout_s = 60.0
        self.answer_timeout_s = 32.0  # RFC 3261 timer B: no answer at all
        self._timers: set[asyncio.Task[None]] = set()
        self.ended: deque[SpeechCall] = deque(maxlen=100)
        # Told when a call is answered (the console offers it to the alarm's operator).
        self.on_call: Callable[[SpeechCall], None] | None = None
        # The console's legs: told when a unit's call is answered and when any call ends.
        self.on_answered: list[Callable[[SpeechCall], None]] = []
        self.on_ended: list[Callable[[SpeechCall], None]] = []

    def unit_of(self, request: SipRequest) -> UnitAccount | None:
        """The registered unit calling: by caller id, or by ``cid`` as the From user."""
        caller = request.from_uri
        for unit in self.book.units():
            if unit.caller_id and _same_caller(unit.caller_id, caller):
                return unit
        user = caller.split(":", 1)[-1].split("@", 1)[0]
        return self.book.find("", user)

    async def invite(self, request: SipRequest) -> SipResponse:
        """Answer a unit's call (a re-INVITE of a call in progress gets the same answer)."""
        call_id = request.header("call-id") or ""
        existing = self.calls.get(call_id)
        if existing is not None:
            return self._ok(existing)
        unit = self.unit_of(request)
        if unit is None:
            return SipResponse(403, "Unknown caller")
        if len(self.calls) >= self.max_calls:
            return SipResponse(486, "Busy Here")
        try:
            offer = parse_offer(request.body.decode("utf-8", "replace"))
        except SdpError as err:
            return SipResponse(488, f"Not Acceptable Here: {err}")
        payload_type = PCMA if PCMA in offer.payload_types else offer.payload_types[0]
        call = SpeechCall(
            call_id=call_id,
            unit=unit,
            started_at=self.clock(),
            payload_type=payload_type,
            remote=(offer.address, offer.port),
            media=(offer.address, offer.port),
        )
        await self._open_media(call)
        if self.find_alarm is not None:
            try:
                found = await self.find_alarm(unit)
            except Exception:  # the call goes on; the console can still match it by unit
                _LOGGER.exception("alarm of the speech call from %s not found", unit.account)
                found = None
            if found is not None:
                call.alarm_id, call.operator = found
        _LOGGER.info(
            "speech call from %s (%s) answered: RTP %s ← %s:%s",
            unit.device.device_id, request.from_uri, call.local_port, *call.remote,
        )  # fmt: skip
        for hook in self.on_answered:
            hook(call)
        if self.on_call is not None:
            self.on_call(call)
        return self._ok(call)

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
        session = secrets.randbelow(1 << 31) if call.packets == 0 else call.local_port
        answer = build_answer(self.host, call.local_port, call.payload_type, session)
        return SipResponse(
            200,
            headers=(("Contact", f"<sip:arc@{self.host}>"),),
            body=answer.encode(),
            content_type="application/sdp",
        )

    def speak(self, call: SpeechCall, track: MediaStreamTrack) -> None:
        """Send what ``track`` carries (the operator's voice) to the unit as G.711 RTP."""
        self._own(self._speak(call, track))

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
            for out in resampler.resample(frame):
                pending += bytes(out.planes[0])[: out.samples * 2]
            while len(pending) >= FRAME_SAMPLES * 2 and call.media and call.transport:
                samples = list(struct.unpack(f"<{FRAME_SAMPLES}h", pending[: FRAME_SAMPLES * 2]))
                del pending[: FRAME_SAMPLES * 2]
                payload = encode(call.payload_type, samples)
                packet = RtpPacket(call.payload_type, sequence, timestamp, ssrc, payload)
                call.transport.sendto(build_rtp(packet), call.media)
                call.sent += 1
                sequence = (sequence + 1) & 0xFFFF
                timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF

    def bye(self, request: SipRequest) -> SipResponse:
        """The unit hung up."""
        call = self.calls.get(request.header("call-id") or "")
        if call is None:
            return SipResponse(481, "Call/Transaction Does Not Exist")
        self.end(call, "unit")
        return SipResponse(200)

    def end(self, call: SpeechCall, by: str) -> None:
        """End ``call`` (its RTP port closed, its track ended)."""
        if call.call_id not in self.calls:
            return
        self.calls.pop(call.call_id, None)
        call.finished.set()
        call.ended_at = self.clock()
        call.ended_by = by
        if call.transport is not None:
            call.transport.close()
        call.track.stop()
        self.ended.append(call)
        for hook in self.on_ended:
            hook(call)
        _LOGGER.info("speech call from %s ended by %s", call.unit.device.device_id, by)

    def close(self) -> None:
        """End every call (the hub stops)."""
        for call in list(self.calls.values()):
            self.end(call, "hub")
        for timer in self._timers:
            timer.cancel()

    # -- calling out (ADR 0122) --------------------------------------------------------

    async def call_out(self, unit: UnitAccount, uri: str, via: tuple[str, int]) -> SpeechCall:
        """Call ``uri`` (the unit, or a contact through the centre's PBX at ``via``)."""
        if self.send is None:
            raise RuntimeError("calling out needs the SCAIP UDP listener")
        call_id = f"{secrets.token_hex(8)}@{self.host}"
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
        )
        await self._open_media(call)
        offer = build_offer(self.host, call.local_port, secrets.randbelow(1 << 31))
        invite = build_request(
            "INVITE", uri, self._dialog_headers(call, "INVITE", 1), offer.encode(),
            "application/sdp",
        )  # fmt: skip
        self._own(self._until_answered(call, invite))
        return call

    def _dialog_headers(self, call: SpeechCall, method: str, cseq: int) -> list[tuple[str, str]]:
        return [
            (
                "Via",
                f"SIP/2.0/UDP {self.host}:{self.sip_port}"
                f";branch=z9hG4bK{secrets.token_hex(8)};rport",
            ),
            ("Max-Forwards", "70"),
            ("From", f"<sip:arc@{self.host}>;tag={call.local_tag}"),
            ("To", call.remote_to or f"<{call.target}>"),
            ("Call-ID", call.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:arc@{self.host}:{self.sip_port}>"),
        ]

    def _own(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _until_answered(self, call: SpeechCall, invite: bytes) -> None:
        # RFC 3261 timer A/B over UDP: resend at 0.5, 1, 2, 4, 4 ... s until any answer,
        # give up after answer_timeout_s; a ringing phone then has ring_timeout_s to answer.
        assert self.send is not None
        waited, interval = 0.0, 0.5
        while not call.outcome and not call.remote_to and waited < self.answer_timeout_s:
            self.send(invite, call.remote)
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
        call = self.calls.get(reply.header("call-id") or "")
        cseq = (reply.header("cseq") or "").split()
        if call is None or call.direction != "out" or cseq[-1:] != ["INVITE"]:
            return  # a 200 to our BYE, or a late retransmission
        if reply.status < 200:
            call.remote_to = reply.header("to") or call.remote_to  # ringing: stop resending
            return
        call.remote_to = reply.header("to") or call.remote_to
        ack = build_request("ACK", call.target, self._dialog_headers(call, "ACK", 1))
        if reply.status >= 300:
            assert self.send is not None
            self.send(ack, call.remote)
            call.outcome = _OUTCOMES.get(reply.status, "failed")
            call.answered.set()
            self.end(call, "callee")
            return
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
        call.answered.set()

    def hangup(self, call: SpeechCall) -> None:
        """The centre hangs up a call it made."""
        if self.send is not None and call.remote_to:
            bye = build_request("BYE", call.target, self._dialog_headers(call, "BYE", 2))
            self.send(bye, call.remote)
        self.end(call, "centre")


def _same_caller(registered: str, caller: str) -> bool:
    # "sip:unit@host" matches "sip:unit@host:5060;transport=udp"; "tel:+34..." by number.
    def norm(uri: str) -> str:
        uri = uri.split(";", 1)[0].lower()
        scheme, _, rest = uri.partition(":")
        user, at, host = rest.partition("@")
        return f"{scheme}:{user}@{host.split(':', 1)[0]}" if at else f"{scheme}:{user}"

    return norm(registered) == norm(caller)
