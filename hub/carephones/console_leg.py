"""The operator's leg of a carephone's speech call: the hub stands in for the home's tablet.

While a unit's speech call is live (ADR 0121) — from the moment it rings (ADR 0160) — the hub
puts an in-process party for the unit's resident on the live hub, so the console's "speak
with the home" (a centre call of ``hub.family.calls``, ADR 0044) rings it like a tablet. The
party answers a centre call by itself (and the unit's call with it, if it still rings),
answers the operator browser's WebRTC offer with an aiortc peer carrying the unit's voice
(``UnitAudioTrack``), and sends what the operator says to the unit as G.711 RTP. The
browser's code is the one it uses with tablets: nothing in the console knows the difference.
The operator hanging up that centre call ends the unit's call with a ``BYE`` (ADR 0160).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from hub.appkeys import CLOCK
from hub.carephones.speech import SpeechCall, SpeechCalls
from hub.family.calls.ice import ice_servers
from hub.family.calls.signalling import CallService
from hub.family.calls.state import CallError, CallEvent
from hub.family.live import Connection, LiveHub
from hub.family.parties import resident_party
from hub.family.settings import FAMILY_SETTINGS

_LOGGER = logging.getLogger(__name__)

_OVER = frozenset({"ended", "declined", "missed", "failed"})
# Candidates kept for a peer not there yet (a browser trickles a handful per offer).
EARLY_CANDIDATES = 32
# The party the hub's own TURN credentials are minted for.
HUB_PARTY = "hub"


def hub_rtc_configuration(app: web.Application) -> RTCConfiguration:
    """ICE servers for the hub's own WebRTC peers (the operator's legs of carephone calls
    and calls out): the centre's STUN and TURN (coturn) settings of ``[family]``, with
    fresh TURN credentials for the hub. None configured: host candidates only — never
    aiortc's default, a public STUN server."""
    settings = app.get(FAMILY_SETTINGS)
    if settings is None:
        return RTCConfiguration(iceServers=[])
    servers = ice_servers(
        settings.stun_urls, settings.turn_urls, settings.turn_secret, HUB_PARTY,
        app[CLOCK](), settings.turn_ttl_s,
    )  # fmt: skip
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in servers
        ]
    )


async def operator_leg(
    speech: SpeechCalls,
    call: SpeechCall,
    configuration: RTCConfiguration,
    offer: str,
    on_state: Callable[[RTCPeerConnection], Awaitable[None]],
) -> RTCPeerConnection:
    """The hub's aiortc peer for the operator's browser: the unit's voice on it, what the
    operator says sent to the unit; answered (``pc.localDescription``) before it returns.
    ``on_state`` is awaited at each change of the connection's state. Also used for the
    requests of another worker's console (ADR 0168, §4)."""
    pc = operator_peer(speech, call, configuration)

    @pc.on("connectionstatechange")
    async def on_change() -> None:
        await on_state(pc)

    await answer_offer(pc, offer)
    return pc


def operator_peer(
    speech: SpeechCalls, call: SpeechCall, configuration: RTCConfiguration
) -> RTCPeerConnection:
    """A new peer for the operator's browser, not answered yet: the unit's (or callee's)
    voice on it, what the operator says sent to the call. Also the operator's calls out
    (``hub.console.dial``)."""
    pc = RTCPeerConnection(configuration)
    pc.addTrack(call.track)
    # Set as the peer is closed (its signalling state is "closed" first thing in close()):
    # the operator's voice stops going to the call even if aiortc never ends its track.
    closed = asyncio.Event()

    @pc.on("signalingstatechange")
    def on_signalling() -> None:
        if pc.signalingState == "closed":
            closed.set()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            speech.speak(call, track, closed)

    return pc


async def answer_offer(pc: RTCPeerConnection, offer: str) -> None:
    """Answer the browser's ``offer`` on ``pc`` (``pc.localDescription``). Should that fail
    in any way (a bad offer: ``ValueError``/``TypeError``; anything else aiortc raises; a
    cancellation), ``pc`` is closed and the error raised: no half-made peer is left."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    except BaseException:
        await pc.close()
        raise


async def add_candidate(pc: RTCPeerConnection, candidate: dict[str, Any]) -> None:
    """A trickled ICE candidate from the operator's browser (most send none: ADR 0041)."""
    if not candidate.get("candidate"):
        return
    text = str(candidate["candidate"])
    parsed = candidate_from_sdp(text.split(":", 1)[1] if ":" in text[:10] else text)
    parsed.sdpMid = candidate.get("sdpMid")
    parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
    await pc.addIceCandidate(parsed)


class OperatorPeer:
    """The hub's peer for the operator's browser on one leg, and the browser's ICE candidates
    that came before it (ADR 0177 §4, §6). Used by both paths: :class:`CarephoneParty` here
    and the holder's ``HeldLeg`` of another worker's console (``hub.carephones.remote_leg``).

    The browser's frames are handled each in a task of its own, so a candidate may be handled
    before its offer, or while the offer's peer is being made (the remote description set, the
    answer made): it is kept (at most ``EARLY_CANDIDATES``) and added to the peer as soon as
    the peer exists, before the offer is answered, in the order handled. A candidate handled
    while those are being added waits its turn behind them; later ones go to the peer at once.

    Offers are handled concurrently too: of two offers whose peers are being made at once the
    later one's peer is kept and the other closed when made, and a peer made after the leg was
    dropped (the call is over) or closed (the leg is gone) is closed at once (ADR 0177 §7).
    """

    def __init__(self) -> None:
        self.pc: RTCPeerConnection | None = None
        self.early: list[dict[str, Any]] = []
        self.closed = False  # the leg is gone: no peer any more
        self._adding_to: RTCPeerConnection | None = None  # early candidates going to it
        # Offers begun, and drops: a peer made for an offer that is no longer the last is stale.
        self._offers = 0
        self._told_full = False  # the drop of early candidates beyond EARLY_CANDIDATES logged

    async def offer(
        self, make: Callable[[], Awaitable[RTCPeerConnection]]
    ) -> RTCPeerConnection | None:
        """The browser's (new) offer: the peer there was closed, one made by ``make`` (an
        answered :func:`operator_leg`), the early candidates added to it. None (and the peer
        made closed) when another offer came meanwhile, or the leg was dropped or closed:
        there is no answer to give."""
        self._offers += 1
        mine = self._offers
        await self._close_pc()
        if self.closed:
            return None
        pc = await make()
        if self.closed or self._offers != mine:
            await pc.close()  # superseded or orphaned: nobody would ever close it
            return None
        self.pc = pc
        self._adding_to = pc
        try:
            while self.early and self.pc is pc:
                kept = self.early.pop(0)
                try:
                    await add_candidate(pc, kept)
                except Exception:  # its own frame was handled already: only logged
                    _LOGGER.warning("an early ICE candidate refused", exc_info=True)
        finally:
            if self._adding_to is pc:
                self._adding_to = None
        return pc

    async def candidate(self, candidate: dict[str, Any]) -> None:
        """A trickled candidate: to the peer, or kept for it."""
        if self.closed:
            return
        if self.pc is not None and self._adding_to is not self.pc:
            await add_candidate(self.pc, candidate)
        elif len(self.early) < EARLY_CANDIDATES:
            self.early.append(candidate)  # its offer's peer is not there yet
        elif not self._told_full:
            self._told_full = True  # once per leg: a browser may trickle many more
            _LOGGER.warning(
                "operator's leg: more than %d ICE candidates before its peer; later ones dropped",
                EARLY_CANDIDATES,
            )

    async def drop(self) -> None:
        """The call is over: its peer closed, and one being made closed when made."""
        self._offers += 1
        self.early.clear()
        await self._close_pc()

    async def close(self) -> None:
        """The leg is gone: as :meth:`drop`, and no peer is made for it any more."""
        self.closed = True
        await self.drop()

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()


class CarephoneParty(Connection):
    """The home's side of centre calls while a unit's speech call is live.

    A live-hub connection without a socket: events are handled here, in tasks it owns.
    """

    def __init__(
        self,
        party: str,
        speech: SpeechCalls,
        call: SpeechCall,
        calls: CallService,
        configuration: RTCConfiguration | None = None,
    ) -> None:
        # No websocket and no outbox: Connection's other users only offer and close.
        self.party = party
        self.sign_in = f"carephone:{call.unit.device.device_id if call.unit else call.call_id}"
        self.speech = speech
        self.call = call
        self.calls = calls
        self.call_id: int | None = None
        self.peer = OperatorPeer()
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, text: str) -> bool:
        """One live event for the home."""
        try:
            event = json.loads(text)
        except ValueError:
            return True
        if isinstance(event, dict):
            self._own(self._handle(event))
        return True

    def close_soon(self) -> None:
        """The live hub drops the party: end the peer connection (and any being made)."""
        self._own(self.peer.close())

    def close_after_queued(self) -> None:
        """As :meth:`close_soon` (nothing is queued)."""
        self.close_soon()

    def _own(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, event: dict[str, Any]) -> None:
        kind, call_id = event.get("type"), event.get("call_id")
        try:
            if kind == "call.incoming" and event.get("kind") == "centre":
                if isinstance(call_id, int):
                    self.call_id = call_id
                    # The operator speaks with the home: the unit's call, if it still
                    # rings, is answered now (ADR 0160).
                    await self.speech.answer(self.call, "voice")
                    await self.calls.act(call_id, self.party, CallEvent.ACCEPT)
            elif kind == "call.signal" and call_id == self.call_id:
                await self._signal(event.get("data"))
            elif kind == "call.state" and call_id == self.call_id and event.get("status") in _OVER:
                await self._close_peer()
                view = event.get("call")
                ended_by = view.get("ended_by") if isinstance(view, dict) else None
                if event.get("status") == "ended" and ended_by not in (None, self.party):
                    # The operator hung up: the centre ends the unit's call too (ADR 0160).
                    self.speech.hang_up_unit(self.call, "operator")
                elif event.get("status") == "failed":
                    # The operator's leg never connected (the call's media timeout): nothing
                    # would ever end the unit's call (ADR 0168).
                    self.speech.hang_up_unit(self.call, "link_failed")
        except CallError as err:
            _LOGGER.info("carephone leg of call %s: %s", call_id, err.message)
        except Exception:
            _LOGGER.exception("carephone leg of call %s failed", call_id)

    async def _signal(self, data: object) -> None:
        if not isinstance(data, dict) or self.call_id is None:
            return
        sdp, candidate = data.get("sdp"), data.get("candidate")
        if isinstance(sdp, dict) and sdp.get("type") == "offer":
            call_id, offer = self.call_id, str(sdp["sdp"])

            async def on_state(pc: RTCPeerConnection) -> None:
                if pc.connectionState == "connected":
                    with contextlib.suppress(CallError):  # the call ended meanwhile
                        await self.calls.act(call_id, self.party, CallEvent.CONNECTED)
                elif pc.connectionState in ("failed", "closed") and self.peer.pc is pc:
                    # Not closed by us: ICE or DTLS failed, or the far end went away.
                    self.peer.pc = None
                    self._own(self._link_lost(pc))

            pc = await self.peer.offer(
                lambda: operator_leg(self.speech, self.call, self.configuration, offer, on_state)
            )
            if pc is None:
                return
            answer = {"sdp": {"type": "answer", "sdp": pc.localDescription.sdp}}
            self.calls.relay(call_id, self.party, answer, len(json.dumps(answer)))
        elif isinstance(candidate, dict):
            # Before its offer's peer exists (each frame is handled in a task of its own),
            # it is kept for it (ADR 0177 §6).
            await self.peer.candidate(candidate)

    async def _link_lost(self, pc: RTCPeerConnection) -> None:
        # The operator's audio link is gone without a hang-up (a browser that closed its
        # connection as it hangs up is followed by the hang-up itself: it is waited for, a
        # moment). Then the unit's call is ended with a BYE and its alarm says why (ADR 0168);
        # ending it also ends the centre call on the console (ConsoleLegs.ended).
        _LOGGER.info("operator's leg of unit call %s: %s", self.call.call_id, pc.connectionState)
        await pc.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.call.finished.wait(), self.speech.link_grace_s)
        if self.peer.pc is None:
            self.speech.hang_up_unit(self.call, "link_failed")

    async def _close_peer(self) -> None:
        await self.peer.drop()


class ConsoleLegs:
    """Puts a :class:`CarephoneParty` on the live hub for each live speech call."""

    def __init__(
        self,
        speech: SpeechCalls,
        live: LiveHub,
        calls: CallService,
        configuration: Callable[[], RTCConfiguration] | None = None,
    ) -> None:
        self.speech = speech
        self.live = live
        self.calls = calls
        # The ICE servers of each leg (fresh TURN credentials per call).
        self.configuration = configuration
        self.parties: dict[str, CarephoneParty] = {}

    def ringing(self, call: SpeechCall) -> None:
        """A unit calls: its home can be spoken with from the console (which answers it)."""
        resident = call.unit.device.resident_id if call.unit is not None else None
        if resident is None:
            _LOGGER.warning("speech call from %s: no resident to speak with", call.call_id)
            return
        configuration = self.configuration() if self.configuration is not None else None
        party = CarephoneParty(
            resident_party(int(resident)), self.speech, call, self.calls, configuration
        )
        self.parties[call.call_id] = party
        self.live.add(party)

    def ended(self, call: SpeechCall) -> None:
        """The unit's call ended: the home's party goes, and any centre call with it."""
        party = self.parties.pop(call.call_id, None)
        if party is None:
            return
        self.live.remove(party)
        if party.call_id is not None:
            party._own(self._hang_up(party, party.call_id))
        party.close_soon()

    async def _hang_up(self, party: CarephoneParty, call_id: int) -> None:
        with contextlib.suppress(CallError):  # already over
            await self.calls.act(call_id, party.party, CallEvent.HANGUP)
