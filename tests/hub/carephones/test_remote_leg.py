"""Speaking with a carephone another worker holds (ADR 0168, §4; ADR 0177).

The operator's side: when the holder never answers the operator's WebRTC offer (the
``signal`` request's timeout), the operator is told why, the centre call ends, and the holder
is asked to hang the unit's call up (``by: link_failed``) so that the unit's line is not left
busy. The holder's side: an ICE candidate handled before its offer's peer exists is kept and
added to the peer once it is there (each request is handled in a task of its own); of two
offers handled at once only the later one's peer is kept, and a peer made after its leg was
hung up is closed.

The timeout is driven without waiting: the ``signal`` waits 0 s (``asyncio.wait_for`` with
no time left raises at once unless the answer is there), and the book in memory never
answers it; everything else is awaited on the operator's socket or on the book.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc import RTCConfiguration

from hub.carephones import console_leg, remote_leg
from hub.carephones.remote_leg import HeldLeg, RemoteLegs, RemoteParty
from hub.carephones.requests import CallRequests
from hub.carephones.routing import TIMEOUTS_S, UNREACHABLE, Answer, CallRequest, Kind
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.family.access import may_contact
from hub.family.calls.signalling import CallService
from hub.family.live import Connection, LiveHub
from tests.hub.carephones.peers import Peer, candidate

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
OPERATOR, HOME, HOLDER, UNIT_CALL = "u:1", "r:7", "w-a", "unit-call-1"


class MemoryBook:
    """What :class:`CallRequests` uses of the tables, in memory: the holder answers
    ``hangup`` at once (unless ``dead``) and never answers ``signal`` (unless ``refuse``
    gives its refusal)."""

    worker = "w-b"

    def __init__(self, *, dead: bool = False, refuse: Answer | None = None) -> None:
        self.asked: list[tuple[str, Kind, dict[str, Any]]] = []
        self.failed: list[int] = []
        self.hung_up = asyncio.Event()
        self._kinds: dict[int, Kind] = {}
        self._dead, self._refuse = dead, refuse

    async def ask(self, target: str, kind: Kind, **fields: Any) -> int:
        request_id = len(self.asked) + 1
        self.asked.append((target, kind, dict(fields.get("body") or {})))
        self._kinds[request_id] = kind
        if kind is Kind.HANGUP:
            self.hung_up.set()
        return request_id

    async def answers(self, request_ids: Any) -> dict[int, Answer]:
        found = {}
        for i in request_ids:
            kind = self._kinds.get(i)
            if kind is Kind.HANGUP and not self._dead:
                found[i] = Answer(body={"outcome": "ended"})
            elif kind is Kind.SIGNAL and self._refuse is not None:
                found[i] = self._refuse
        return found

    async def fail(self, request_id: int) -> bool:
        self.failed.append(request_id)
        return True


class Socket(Connection):
    """The operator's socket: what the hub sends it, to await."""

    def __init__(self, party: str) -> None:
        super().__init__(party, None)  # type: ignore[arg-type]  # no writer runs

    async def next(self, kind: str) -> dict[str, Any]:
        while True:
            text = await self.outbox.get()
            assert text is not None
            event: dict[str, Any] = json.loads(text)
            if event["type"] == kind:
                return event


class NoSpeech:
    """What :class:`RemoteLegs` uses of a worker's speech calls (none here)."""

    def __init__(self) -> None:
        self.on_ended: list[Any] = []
        self.calls: dict[str, Any] = {}
        self.hung_up: list[tuple[str, str]] = []

    def hang_up_unit(self, call: Any, by: str) -> None:
        self.hung_up.append((call.call_id, by))


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class Speaking:
    """The operator's worker with the operator speaking with the home through a stand-in:
    the centre call accepted, the browser's offer not yet sent."""

    live: LiveHub
    calls: CallService
    requests: CallRequests
    legs: RemoteLegs
    operator: Socket
    call_id: int

    def send_offer(self) -> None:
        self.send({"sdp": {"type": "offer", "sdp": "v=0"}})

    def send(self, data: dict[str, Any]) -> None:
        """The operator's browser sends ``data`` (an offer, an ICE candidate)."""
        self.calls.relay(self.call_id, OPERATOR, data, len(json.dumps(data)))

    async def settled(self) -> None:
        """The stand-in's work is done (its task ended, with any waiting it did)."""
        await asyncio.gather(*self.legs._tasks)


@contextlib.asynccontextmanager
async def speaking(
    sqlite_url: str, book: MemoryBook, timeouts: dict[Kind, float]
) -> AsyncIterator[Speaking]:
    engine = make_engine(sqlite_url)
    clock = ManualClock(T0)
    live = LiveHub()
    calls = CallService(make_sessionmaker(engine), live, clock, may_contact, 120.0)
    requests = CallRequests(book, clock, timeouts)  # type: ignore[arg-type]
    requests.clustered = True
    legs = RemoteLegs(
        requests,
        NoSpeech(),
        lambda: live,
        lambda: calls,
        RTCConfiguration,  # type: ignore[arg-type]
    )
    try:
        operator = Socket(OPERATOR)
        live.add(operator)
        stand_in = RemoteParty(HOME, UNIT_CALL, HOLDER, OPERATOR, legs)
        legs.remote[UNIT_CALL] = stand_in
        live.add(stand_in)
        # "Speak with the home": the centre call rings the stand-in, which accepts.
        call_id = await calls.start_centre(OPERATOR, HOME, "al-1")
        while (await operator.next("call.state"))["status"] != "accepted":
            pass
        yield Speaking(live, calls, requests, legs, operator, call_id)
    finally:
        await legs.close()
        await requests.close()
        await calls.close()
        await engine.dispose()


async def test_a_signal_the_holder_never_answers_ends_the_call_and_the_units_call(
    sqlite_url: str,
) -> None:
    book = MemoryBook()
    async with speaking(sqlite_url, book, {Kind.SIGNAL: 0.0, Kind.HANGUP: 30.0}) as it:
        # The browser's offer goes to the holder, which does not answer in time.
        it.send_offer()
        error = await it.operator.next("error")
        assert (error["error"], error["call_id"]) == (UNREACHABLE, it.call_id)
        assert set(error["words"]) == {"ca", "es", "en"}
        assert it.requests.timed_out == 1
        ended = await it.operator.next("call.state")
        assert ended["status"] == "ended"
        # The holder is told to end the unit's call: its operator's leg never came.
        await asyncio.wait_for(book.hung_up.wait(), 30)
        assert [(t, k) for t, k, _ in book.asked] == [(HOLDER, Kind.SIGNAL), (HOLDER, Kind.HANGUP)]
        assert book.asked[1][2] == {"by": "link_failed"}
        assert it.legs.remote == {}
        assert not it.live.online(HOME)  # the stand-in left the live hub


async def test_a_dead_holders_failure_is_counted_once_and_its_hang_up_not_waited_for(
    sqlite_url: str,
) -> None:
    # The holder answers nothing: the signal times out (at once, 0 s), and the hang-up that
    # follows is written for it but not waited for — before, it waited its own timeout (here
    # 0 s too, 5 s in service), failed its row and counted a second timeout.
    book = MemoryBook(dead=True)
    async with speaking(sqlite_url, book, {Kind.SIGNAL: 0.0, Kind.HANGUP: 0.0}) as it:
        it.send_offer()
        assert (await it.operator.next("error"))["error"] == UNREACHABLE
        await it.settled()
        await book.hung_up.wait()
        assert [(k, body) for _, k, body in book.asked] == [
            (Kind.SIGNAL, {"data": {"sdp": {"type": "offer", "sdp": "v=0"}}}),
            (Kind.HANGUP, {"by": "link_failed"}),
        ]
        assert it.requests.timed_out == 1
        assert book.failed == [1]  # only the signal's row was given up; the hang-up's waits


async def test_a_holder_that_refuses_the_offer_is_waited_for_as_it_hangs_up(
    sqlite_url: str,
) -> None:
    # A refusal comes from a live holder: its hang-up's answer is waited for as before.
    refusal = Answer.error(409, "no_call", "the home's carephone is not calling")
    book = MemoryBook(refuse=refusal)
    async with speaking(sqlite_url, book, {Kind.SIGNAL: 30.0, Kind.HANGUP: 30.0}) as it:
        it.send_offer()
        assert (await it.operator.next("error"))["error"] == "no_call"
        await it.settled()
        assert [k for _, k, _ in book.asked] == [Kind.SIGNAL, Kind.HANGUP]
        assert (it.requests.asked, it.requests.timed_out, book.failed) == (2, 0, [])


class FirstSignalRefused(MemoryBook):
    """The holder refuses the first signal (the offer) once the test opens ``gate``, and
    answers no other; ``read(n)`` is set once request ``n``'s answer was first looked for."""

    REFUSAL = Answer.error(409, "no_call", "the home's carephone is not calling")

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self._read: dict[int, asyncio.Event] = {}

    def read(self, request_id: int) -> asyncio.Event:
        return self._read.setdefault(request_id, asyncio.Event())

    async def answers(self, request_ids: Any) -> dict[int, Answer]:
        for i in request_ids:
            self.read(i).set()
        if 1 in request_ids:
            await self.gate.wait()
            return {1: self.REFUSAL}
        return await super().answers(request_ids)


async def test_once_a_signal_failed_the_leg_its_other_signals_give_up_at_once(
    sqlite_url: str,
) -> None:
    # Each signal is a task of its own, and the holder's signal timeout is long: before, a
    # candidate waiting when the offer failed, and one read after, each asked the holder —
    # told to hang up, or gone — and waited out its own timeout (10 s in service). The
    # bound is only for a failure to show, not a measured time.
    book = FirstSignalRefused()
    async with speaking(sqlite_url, book, {Kind.SIGNAL: 3600.0, Kind.HANGUP: 30.0}) as it:
        stand_in = it.legs.remote[UNIT_CALL]
        it.send_offer()
        it.send(candidate(1))
        await book.read(2).wait()  # the candidate waits for the holder's answer
        book.gate.set()  # the holder refuses the offer
        assert (await it.operator.next("error"))["error"] == "no_call"
        # A candidate read after the failure (its task started later):
        stand_in.offer(json.dumps({"type": "call.signal", "call_id": it.call_id,
                                   "data": candidate(2)}))  # fmt: skip
        await asyncio.wait_for(it.settled(), 30)
        assert [k for _, k, _ in book.asked] == [Kind.SIGNAL, Kind.SIGNAL, Kind.HANGUP]
        assert book.failed == [2]  # the waiting candidate's row given up, no answer written
        assert (it.requests.asked, it.requests.timed_out) == (3, 0)


def test_timeouts_given_replace_only_their_kinds() -> None:
    requests = CallRequests(MemoryBook(), ManualClock(T0), {Kind.SIGNAL: 0.0})  # type: ignore[arg-type]
    assert requests.timeouts[Kind.SIGNAL] == 0.0
    assert requests.timeouts[Kind.HANGUP] == TIMEOUTS_S[Kind.HANGUP]  # a KeyError before


@dataclass
class Holding:
    """A holder with the operator's leg of ``UNIT_CALL`` (its speak answered), whose peers are
    made by a stand-in that waits for the test: an offer with sdp ``v=0 NAME`` gets the peer
    NAME (in ``peers``) once ``made(NAME)`` is set."""

    legs: RemoteLegs
    speech: NoSpeech
    peers: dict[str, Peer]
    making: asyncio.Queue[str]
    _made: dict[str, asyncio.Event]

    def made(self, name: str) -> asyncio.Event:
        return self._made.setdefault(name, asyncio.Event())

    def signal(self, request_id: int, data: dict[str, Any]) -> Awaitable[Answer]:
        request = CallRequest(request_id, Kind.SIGNAL, "w-b", UNIT_CALL, body={"data": data})
        return self.legs.requests.handlers[Kind.SIGNAL](request)

    async def offer(self, request_id: int, name: str) -> asyncio.Future[Answer]:
        """Handle an offer (in a task of its own) until its peer NAME is being made."""
        sdp = {"type": "offer", "sdp": f"v=0 {name}"}
        handled = asyncio.ensure_future(self.signal(request_id, {"sdp": sdp}))
        assert await self.making.get() == name
        return handled


@pytest.fixture
def holder(monkeypatch: pytest.MonkeyPatch) -> Holding:
    speech = NoSpeech()
    call = SimpleNamespace(call_id=UNIT_CALL, direction="in", outcome="answered")
    speech.calls[UNIT_CALL] = call
    requests = CallRequests(MemoryBook(), ManualClock(T0))  # type: ignore[arg-type]
    legs = RemoteLegs(requests, speech, lambda: None, lambda: None, RTCConfiguration)  # type: ignore[arg-type]
    legs.held[UNIT_CALL] = HeldLeg("w-b", call)  # type: ignore[arg-type]
    it = Holding(legs, speech, {}, asyncio.Queue(), {})

    async def operator_leg(_speech: Any, _call: Any, _config: Any, offer: str, _on: Any) -> Peer:
        name = offer.split()[-1]
        it.making.put_nowait(name)
        await it.made(name).wait()
        it.peers[name] = Peer(name)
        return it.peers[name]

    monkeypatch.setattr(remote_leg, "operator_leg", operator_leg)
    return it


async def test_a_candidate_handled_before_its_offers_peer_exists_is_added_to_it(
    holder: Holding, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The holder's peer is made when the test says so: a candidate read before its offer,
    # one handled while the offer's peer is being made, one after.
    added: list[tuple[object, dict[str, Any]]] = []

    async def add_candidate(pc: object, candidate: dict[str, Any]) -> None:
        added.append((pc, candidate))

    monkeypatch.setattr(console_leg, "add_candidate", add_candidate)
    first, second, third = candidate(1), candidate(2), candidate(3)
    # Its row was written before the offer's, or its task ran first:
    assert (await holder.signal(2, {"candidate": first})).ok
    offer = await holder.offer(1, "answer")
    # The offer's peer is being made:
    assert (await holder.signal(3, {"candidate": second})).ok
    assert added == []
    holder.made("answer").set()
    answer = await offer
    assert answer.body == {"sdp": {"type": "answer", "sdp": "v=0 answer"}}
    assert (await holder.signal(4, {"candidate": third})).ok
    peer = holder.peers["answer"]
    assert added == [(peer, first), (peer, second), (peer, third)]
    assert holder.legs.held[UNIT_CALL].peer.early == []


async def test_of_two_offers_handled_at_once_the_later_ones_peer_is_kept_and_the_other_closed(
    holder: Holding,
) -> None:
    first = await holder.offer(1, "first")
    second = await holder.offer(2, "second")
    # Both peers are being made; the first is made first.
    holder.made("first").set()
    answer = await first
    assert holder.peers["first"].closed  # as soon as made: it was never the leg's
    assert (answer.ok, answer.body) == (True, {})  # superseded: nothing to answer
    holder.made("second").set()
    answer = await second
    assert answer.body == {"sdp": {"type": "answer", "sdp": "v=0 second"}}
    assert holder.legs.held[UNIT_CALL].peer.pc is holder.peers["second"]
    assert not holder.peers["second"].closed


async def test_a_peer_made_after_its_leg_was_hung_up_is_closed(holder: Holding) -> None:
    offer = await holder.offer(1, "late")
    # The operator hangs up while the offer's peer is being made:
    hangup = CallRequest(2, Kind.HANGUP, "w-b", UNIT_CALL, body={"by": "operator"})
    assert (await holder.legs.requests.handlers[Kind.HANGUP](hangup)).ok
    assert holder.speech.hung_up == [(UNIT_CALL, "operator")]
    assert UNIT_CALL not in holder.legs.held
    holder.made("late").set()
    answer = await offer
    assert holder.peers["late"].closed  # not left on an untracked leg until ICE fails
    assert (answer.ok, answer.body) == (True, {})
