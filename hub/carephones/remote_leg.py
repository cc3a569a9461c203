"""Speaking with a home whose carephone's call another hub worker holds (ADR 0168, §4).

The centre call of "speak with the home" (``hub.family.calls``) lives on the operator's
worker, where their socket is; the unit's call — its RTP port, the hub's WebRTC peer — on
the worker that took the unit's ``INVITE``. Between them:

- on the operator's worker a :class:`RemoteParty` stands in for the home on the live hub,
  as :class:`~hub.carephones.console_leg.CarephoneParty` does on the holder: it accepts the
  centre call, passes the browser's offer to the holder (``signal``) and relays its answer,
  and tells the holder when the operator hangs up (``hangup``) or the media never came;
- on the holder, :class:`RemoteLegs` answers those requests with the local path's code
  (``speak`` answers a ringing call; the offer gets an aiortc peer carrying the unit's
  voice) and tells the operator's worker when the unit's call ends (``ended``), so its
  centre call ends too.

Calls out (``hub.console.dial``) register their own handlers for their signal and hang-up
(:attr:`RemoteLegs.dials`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection

from hub.carephones.console_leg import OperatorPeer, operator_leg
from hub.carephones.requests import CallRequests, Handler, api_error
from hub.carephones.routing import (
    UNREACHABLE,
    Answer,
    CallRequest,
    Holder,
    Kind,
    Local,
    route,
    speakable,
)
from hub.carephones.speech import SpeechCall, SpeechCalls
from hub.cluster.keys import OWNERSHIP
from hub.family.calls.signalling import CallService
from hub.family.calls.state import CallError, CallEvent
from hub.family.live import Connection, LiveHub

_LOGGER = logging.getLogger(__name__)

_OVER = frozenset({"ended", "declined", "missed", "failed"})
HANGUP_BY = frozenset({"operator", "link_failed"})


@dataclass
class HeldLeg:
    """On the holder: the operator's leg of a unit's call, asked for by ``origin``."""

    origin: str
    call: SpeechCall
    # Its peer, and the ICE candidates that came before it: each request is handled in a
    # task of its own, so a candidate's may run while the offer's peer is being made, or
    # before the offer's request is read at all (ADR 0177 §4, §6).
    peer: OperatorPeer = field(default_factory=OperatorPeer)


class RemoteParty(Connection):
    """On the operator's worker: the home's side of the centre call, the unit's call being
    held by ``target``. A live-hub connection without a socket (see ``CarephoneParty``)."""

    def __init__(
        self, party: str, unit_call_id: str, target: str, operator: str, legs: RemoteLegs
    ) -> None:
        self.party = party
        self.sign_in = f"carephone-remote:{unit_call_id}"
        self.unit_call_id = unit_call_id
        self.target = target
        self.operator = operator
        self.legs = legs
        self.call_id: int | None = None
        self.over = False  # its leg failed: the holder was told to hang up
        # Done once it is over: the signals still waiting for the holder give up at once.
        self._failed: asyncio.Future[None] | None = None

    def offer(self, text: str) -> bool:
        try:
            event = json.loads(text)
        except ValueError:
            return True
        if isinstance(event, dict):
            self.legs.own(self._handle(event))
        return True

    def close_soon(self) -> None:
        """Nothing of its own to close: the holder's peer ends with the call."""

    def close_after_queued(self) -> None:
        """As :meth:`close_soon`."""

    async def _handle(self, event: dict[str, Any]) -> None:
        kind, call_id = event.get("type"), event.get("call_id")
        calls = self.legs.calls()
        if calls is None:
            return
        try:
            if kind == "call.incoming" and event.get("kind") == "centre":
                if isinstance(call_id, int) and self.call_id is None:
                    self.call_id = call_id  # the holder answered the unit's call (speak)
                    await calls.act(call_id, self.party, CallEvent.ACCEPT)
            elif kind == "call.signal" and call_id == self.call_id and call_id is not None:
                if self.over:
                    return  # the holder was told to hang up: nothing more to ask it
                data = event.get("data")
                # Each signal is a task of its own: once one of them failed the leg, those
                # still waiting give up at once (they would each wait out their own timeout,
                # 10 s, for a holder that is gone or hanging up).
                answer = await self.legs.requests.ask(
                    self.target, Kind.SIGNAL, call_id=self.unit_call_id, body={"data": data},
                    until=self._failure(),
                )  # fmt: skip
                if not answer.ok:
                    # The operator's leg never came (the holder refused the offer, or did
                    # not answer in time): the centre call ends, and so must the unit's call
                    # on the holder, or its line stays answered with nobody on it (ADR 0177;
                    # the centre call's end, by this party, hangs up nothing by itself).
                    if self.over:
                        return  # another signal of this leg failed first
                    self.over = True
                    self._failure().set_result(None)
                    self._tell_operator(answer)
                    self.legs.withdraw(self)
                    with contextlib.suppress(CallError):  # the operator hung up meanwhile
                        await calls.act(call_id, self.party, CallEvent.HANGUP)
                    # A holder that did not answer in time is told, not waited for (ADR
                    # 0177 §5): it is most likely dead, and a second timeout would count
                    # the one failure twice and hold this task 5 s more for nothing.
                    await self._hang_up("link_failed", wait=answer.code != UNREACHABLE)
                    return
                sdp = answer.body.get("sdp")
                if isinstance(sdp, dict):
                    relayed = {"sdp": sdp}
                    calls.relay(call_id, self.party, relayed, len(json.dumps(relayed)))
            elif kind == "call.state" and call_id == self.call_id and event.get("status") in _OVER:
                self.legs.withdraw(self)
                view = event.get("call")
                ended_by = view.get("ended_by") if isinstance(view, dict) else None
                if event.get("status") == "failed":
                    await self._hang_up("link_failed")
                elif ended_by not in (None, self.party):
                    await self._hang_up("operator")
        except CallError as err:
            _LOGGER.info("remote carephone leg of call %s: %s", call_id, err.message)
        except Exception:
            _LOGGER.exception("remote carephone leg of call %s failed", call_id)

    def _failure(self) -> asyncio.Future[None]:
        if self._failed is None:
            self._failed = asyncio.get_running_loop().create_future()
        return self._failed

    async def _hang_up(self, by: str, *, wait: bool = True) -> None:
        if not wait:
            # Written for the holder all the same: one that was only slow reads it and
            # hangs up; a dead one's row is pruned with the others.
            self.legs.requests.tell(
                self.target, Kind.HANGUP, call_id=self.unit_call_id, body={"by": by}
            )
            return
        answer = await self.legs.requests.ask(
            self.target, Kind.HANGUP, call_id=self.unit_call_id, body={"by": by}
        )
        if not answer.ok:
            _LOGGER.warning(
                "hanging up unit call %s on %s: %s", self.unit_call_id, self.target, answer.code
            )

    def _tell_operator(self, answer: Answer) -> None:
        live = self.legs.live()
        if live is None:
            return
        error = api_error(answer)
        live.publish(
            [self.operator],
            {"type": "error", "error": error.code, "message": error.message,
             "call_id": self.call_id, **error.extra},
        )  # fmt: skip


class RemoteLegs:
    """Both sides of speaking with a carephone across workers (see the module's text)."""

    def __init__(
        self,
        requests: CallRequests,
        speech: SpeechCalls,
        live: Callable[[], LiveHub | None],
        calls: Callable[[], CallService | None],
        configuration: Callable[[], RTCConfiguration],
        dials: Callable[[], dict[Kind, Handler]] = dict,
    ) -> None:
        self.requests = requests
        self.speech = speech
        self.live = live
        self.calls = calls
        self.configuration = configuration
        self.held: dict[str, HeldLeg] = {}  # unit call id → the leg (holder)
        self.remote: dict[str, RemoteParty] = {}  # unit call id → its stand-in (speaker)
        # Calls out: their signal and hang-up handlers (hub.console.dial, app key
        # DIAL_HANDLERS), looked up when asked.
        self.dials = dials
        self._tasks: set[asyncio.Task[None]] = set()
        requests.handlers.update(
            {
                Kind.SPEAK: self._speak,
                Kind.SIGNAL: self._signal,
                Kind.HANGUP: self._hangup,
                Kind.PROBE: self._probe,
                Kind.CONNECTED: self._connected,
                Kind.ENDED: self._ended,
            }
        )
        speech.on_ended.append(self._unit_call_ended)

    def own(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the legs' work and close their peers (the hub stops)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for leg in list(self.held.values()):
            await _close(leg)
        self.held.clear()

    # ------------------------------------------------------------ the operator's worker

    async def speak_elsewhere(
        self,
        party: str,
        home_id: str,
        alarm_id: str,
        operator: str,
        live_workers: frozenset[str] | None = None,
    ) -> bool:
        """ "Speak with the home" here while another worker may hold the home's unit call:
        True (and a stand-in for the home is on the live hub) when that worker took the
        request; False for the local path. Raises the holder's refusal, or the ``504``."""
        live = self.live()
        if not self.requests.clustered or live is None or live.online(party):
            return False
        book = self.requests.book
        holders = [h for h in await book.holders(home_id=home_id) if speakable(h)]
        if live_workers is not None:
            lapsed = {h.worker for h in holders if h.worker not in live_workers}
            lapsed.discard(book.worker)
            if lapsed:  # their leases ran out: their calls died with them
                await book.clear_workers(lapsed)
        where = route(
            book.worker, held_here=False, holders=holders, clustered=True,
            live_workers=live_workers,
        )  # fmt: skip
        if isinstance(where, Local):
            return False
        answer = await self.requests.ask(
            where.worker, Kind.SPEAK, call_id=where.call_id, alarm_id=alarm_id, operator=operator
        )
        if not answer.ok:
            raise api_error(answer)
        stand_in = RemoteParty(party, where.call_id, where.worker, operator, self)
        self.remote[where.call_id] = stand_in
        live.add(stand_in)
        return True

    async def call_elsewhere(
        self, home_id: str, live_workers: frozenset[str] | None = None
    ) -> Holder | None:
        """The home's unit call another live worker holds, if any (for the card)."""
        if not self.requests.clustered:
            return None
        book = self.requests.book
        holders = [h for h in await book.holders(home_id=home_id) if speakable(h)]
        where = route(
            book.worker, held_here=False, holders=holders, clustered=True,
            live_workers=live_workers,
        )  # fmt: skip
        if isinstance(where, Local):
            return None
        return next(h for h in holders if h.call_id == where.call_id)

    def withdraw(self, stand_in: RemoteParty) -> None:
        """The stand-in's centre call is over (or never started): it leaves the live hub."""
        if self.remote.get(stand_in.unit_call_id) is stand_in:
            del self.remote[stand_in.unit_call_id]
        live = self.live()
        if live is not None:
            live.remove(stand_in)

    def withdraw_party(self, party: str) -> None:
        """The centre call to ``party`` could not start: its stand-in leaves."""
        for stand_in in [s for s in self.remote.values() if s.party == party]:
            self.withdraw(stand_in)

    async def _connected(self, request: CallRequest) -> Answer:
        # The holder's peer connected with the operator's browser: voice contact, as the
        # local party tells it (the browser says so too; a repeat changes nothing).
        stand_in = self.remote.get(request.call_id or "")
        calls = self.calls()
        if stand_in is not None and stand_in.call_id is not None and calls is not None:
            with contextlib.suppress(CallError):  # the call ended meanwhile
                await calls.act(stand_in.call_id, stand_in.party, CallEvent.CONNECTED)
        return Answer()

    async def _ended(self, request: CallRequest) -> Answer:
        # The holder says the unit's call ended: the centre call ends here too.
        stand_in = self.remote.get(request.call_id or "")
        if stand_in is None:
            return Answer()
        self.withdraw(stand_in)
        calls = self.calls()
        if calls is not None and stand_in.call_id is not None:
            with contextlib.suppress(CallError):  # already over
                await calls.act(stand_in.call_id, stand_in.party, CallEvent.HANGUP)
        return Answer()

    # ------------------------------------------------------------ the holder

    def _call(self, request: CallRequest) -> SpeechCall | None:
        return self.speech.calls.get(request.call_id or "")

    async def _speak(self, request: CallRequest) -> Answer:
        call = self._call(request)
        if call is None or call.direction != "in":
            return Answer.error(409, "tablet_offline", "the home's carephone is not calling")
        # As the local path: the operator speaks with the home, so a ringing call is
        # answered now (ADR 0160).
        await self.speech.answer(call, "voice")
        old = self.held.get(call.call_id)
        if old is not None:
            await _close(old)
        self.held[call.call_id] = HeldLeg(request.origin, call)
        device = call.unit.device.device_id if call.unit is not None else ""
        return Answer(body={"call_id": call.call_id, "device_id": device})

    async def _signal(self, request: CallRequest) -> Answer:
        call = self._call(request)
        dial = self.dials().get(Kind.SIGNAL)
        if call is not None and call.direction == "out" and dial is not None:
            return await dial(request)
        leg = self.held.get(request.call_id or "")
        if call is None or leg is None:
            return Answer.error(409, "no_call", "the home's carephone is not calling")
        data = request.body.get("data")
        if not isinstance(data, dict):
            return Answer.error(400, "signal_invalid", "data must be an object")
        sdp, candidate = data.get("sdp"), data.get("candidate")
        if isinstance(sdp, dict) and sdp.get("type") == "offer":
            offer = str(sdp.get("sdp"))

            async def on_state(pc: RTCPeerConnection) -> None:
                if pc.connectionState == "connected" and leg.peer.pc is pc:
                    self.requests.tell(
                        leg.origin, Kind.CONNECTED, call_id=leg.call.call_id, body=None
                    )
                elif pc.connectionState in ("failed", "closed") and leg.peer.pc is pc:
                    leg.peer.pc = None  # not closed by us: the browser's link is gone
                    self.own(self._link_lost(leg, pc))

            pc = await leg.peer.offer(
                lambda: operator_leg(self.speech, call, self.configuration(), offer, on_state)
            )
            if pc is None:  # another offer's peer was kept, or the leg is gone: no answer
                return Answer()
            return Answer(body={"sdp": {"type": "answer", "sdp": pc.localDescription.sdp}})
        if isinstance(candidate, dict):
            await leg.peer.candidate(candidate)
        return Answer()

    async def _link_lost(self, leg: HeldLeg, pc: RTCPeerConnection) -> None:
        # As CarephoneParty._link_lost: the operator's hang-up may follow at once.
        await pc.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.call.finished.wait(), self.speech.link_grace_s)
        if leg.peer.pc is None:
            self.speech.hang_up_unit(leg.call, "link_failed")

    async def _probe(self, request: CallRequest) -> Answer:
        # Another worker asks whether an operator's call out is still going on here (its
        # row stands in the way of their next one, ADR 0177): the dialler knows best.
        dial = self.dials().get(Kind.PROBE)
        if dial is not None:
            return await dial(request)
        return Answer(body={"held": (request.call_id or "") in self.speech.calls})

    async def _hangup(self, request: CallRequest) -> Answer:
        call = self._call(request)
        dial = self.dials().get(Kind.HANGUP)
        if call is not None and call.direction == "out" and dial is not None:
            return await dial(request)
        leg = self.held.pop(request.call_id or "", None)
        if leg is not None:
            await _close(leg)
        if call is None:
            return Answer(body={"call_id": request.call_id, "outcome": "ended"})
        by = request.body.get("by")
        self.speech.hang_up_unit(call, by if by in HANGUP_BY else "operator")
        return Answer(body={"call_id": call.call_id, "outcome": call.outcome})

    def _unit_call_ended(self, call: SpeechCall) -> None:
        leg = self.held.pop(call.call_id, None)
        if leg is None:
            return
        self.own(_close(leg))
        self.requests.tell(leg.origin, Kind.ENDED, call_id=call.call_id, body=None)


async def _close(leg: HeldLeg) -> None:
    # The leg is gone (hung up, replaced, its call ended): a peer its offer is making now is
    # closed when made, not left on a leg nobody tracks until ICE fails (ADR 0177 §7).
    await leg.peer.close()


def live_workers(app: web.Application) -> frozenset[str] | None:
    """The workers whose lease is alive, when leases run (``hub.partitions``)."""
    ownership = app.get(OWNERSHIP)
    members = getattr(ownership, "members", None) if ownership is not None else None
    return frozenset(members) if members else None


REMOTE_LEGS = web.AppKey("carephone_remote_legs", RemoteLegs)
# Calls out's handlers of another worker's requests (set by hub.console.dial).
DIAL_HANDLERS = web.AppKey("carephone_dial_handlers", dict[Kind, Handler])
