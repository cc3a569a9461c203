"""Speaking with a carephone another worker holds (ADR 0168, §4; ADR 0177).

The operator's side: when the holder never answers the operator's WebRTC offer (the
``signal`` request's timeout), the operator is told why, the centre call ends, and the holder
is asked to hang the unit's call up (``by: link_failed``) so that the unit's line is not left
busy. The holder's side: an ICE candidate handled before its offer's peer exists is kept and
added to the peer once it is there (each request is handled in a task of its own).

The timeout is driven without waiting: the ``signal`` waits 0 s (``asyncio.wait_for`` with
no time left raises at once unless the answer is there), and the book in memory never
answers it; everything else is awaited on the operator's socket or on the book.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc import RTCConfiguration

from hub.carephones import remote_leg
from hub.carephones.remote_leg import HeldLeg, RemoteLegs, RemoteParty
from hub.carephones.requests import CallRequests
from hub.carephones.routing import TIMEOUTS_S, UNREACHABLE, Answer, CallRequest, Kind
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.family.access import may_contact
from hub.family.calls.signalling import CallService
from hub.family.live import Connection, LiveHub

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
OPERATOR, HOME, HOLDER, UNIT_CALL = "u:1", "r:7", "w-a", "unit-call-1"


class MemoryBook:
    """What :class:`CallRequests` uses of the tables, in memory: the holder answers
    ``hangup`` at once and never answers ``signal``."""

    worker = "w-b"

    def __init__(self) -> None:
        self.asked: list[tuple[str, Kind, dict[str, Any]]] = []
        self.failed: list[int] = []
        self.hung_up = asyncio.Event()
        self._kinds: dict[int, Kind] = {}

    async def ask(self, target: str, kind: Kind, **fields: Any) -> int:
        request_id = len(self.asked) + 1
        self.asked.append((target, kind, dict(fields.get("body") or {})))
        self._kinds[request_id] = kind
        if kind is Kind.HANGUP:
            self.hung_up.set()
        return request_id

    async def answers(self, request_ids: Any) -> dict[int, Answer]:
        return {
            i: Answer(body={"outcome": "ended"})
            for i in request_ids
            if self._kinds.get(i) is Kind.HANGUP
        }

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


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def test_a_signal_the_holder_never_answers_ends_the_call_and_the_units_call(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)
    clock = ManualClock(T0)
    live = LiveHub()
    calls = CallService(make_sessionmaker(engine), live, clock, may_contact, 120.0)
    book = MemoryBook()
    requests = CallRequests(book, clock, {Kind.SIGNAL: 0.0, Kind.HANGUP: 30.0})  # type: ignore[arg-type]
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
        # The browser's offer goes to the holder, which does not answer in time.
        offer = {"sdp": {"type": "offer", "sdp": "v=0"}}
        calls.relay(call_id, OPERATOR, offer, len(json.dumps(offer)))
        error = await operator.next("error")
        assert (error["error"], error["call_id"]) == (UNREACHABLE, call_id)
        assert set(error["words"]) == {"ca", "es", "en"}
        assert requests.timed_out == 1
        ended = await operator.next("call.state")
        assert ended["status"] == "ended"
        # The holder is told to end the unit's call: its operator's leg never came.
        await asyncio.wait_for(book.hung_up.wait(), 30)
        assert [(t, k) for t, k, _ in book.asked] == [(HOLDER, Kind.SIGNAL), (HOLDER, Kind.HANGUP)]
        assert book.asked[1][2] == {"by": "link_failed"}
        assert legs.remote == {}
        assert not live.online(HOME)  # the stand-in left the live hub
    finally:
        await legs.close()
        await requests.close()
        await calls.close()
        await engine.dispose()


def test_timeouts_given_replace_only_their_kinds() -> None:
    requests = CallRequests(MemoryBook(), ManualClock(T0), {Kind.SIGNAL: 0.0})  # type: ignore[arg-type]
    assert requests.timeouts[Kind.SIGNAL] == 0.0
    assert requests.timeouts[Kind.HANGUP] == TIMEOUTS_S[Kind.HANGUP]  # a KeyError before


async def test_a_candidate_handled_before_its_offers_peer_exists_is_added_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The holder's peer is made by a stand-in that waits for the test's word, so the order
    # is the test's: a candidate read before its offer, one handled while the offer's peer
    # is being made, one after.
    making, made = asyncio.Event(), asyncio.Event()
    peer = SimpleNamespace(localDescription=SimpleNamespace(sdp="v=0 answer"))
    added: list[tuple[object, dict[str, Any]]] = []

    async def operator_leg(*_args: Any) -> object:
        making.set()
        await made.wait()
        return peer

    async def add_candidate(pc: object, candidate: dict[str, Any]) -> None:
        added.append((pc, candidate))

    monkeypatch.setattr(remote_leg, "operator_leg", operator_leg)
    monkeypatch.setattr(remote_leg, "add_candidate", add_candidate)
    speech = NoSpeech()
    call = SimpleNamespace(call_id=UNIT_CALL, direction="in")
    speech.calls[UNIT_CALL] = call
    requests = CallRequests(MemoryBook(), ManualClock(T0))  # type: ignore[arg-type]
    legs = RemoteLegs(requests, speech, lambda: None, lambda: None, RTCConfiguration)  # type: ignore[arg-type]
    legs.held[UNIT_CALL] = HeldLeg("w-b", call)  # type: ignore[arg-type]
    signal = requests.handlers[Kind.SIGNAL]

    def request(request_id: int, data: dict[str, Any]) -> CallRequest:
        return CallRequest(request_id, Kind.SIGNAL, "w-b", UNIT_CALL, body={"data": data})

    first, second, third = (
        {"candidate": f"candidate:{n} 1 udp 2122260223 10.0.0.{n} 5000{n} typ host",
         "sdpMid": "0", "sdpMLineIndex": 0}
        for n in (1, 2, 3)
    )  # fmt: skip
    # Its row was written before the offer's, or its task ran first:
    assert (await signal(request(2, {"candidate": first}))).ok
    offer = asyncio.ensure_future(signal(request(1, {"sdp": {"type": "offer", "sdp": "v=0"}})))
    await making.wait()
    # The offer's peer is being made:
    assert (await signal(request(3, {"candidate": second}))).ok
    assert added == []
    made.set()
    answer = await offer
    assert answer.body == {"sdp": {"type": "answer", "sdp": "v=0 answer"}}
    assert (await signal(request(4, {"candidate": third}))).ok
    assert added == [(peer, first), (peer, second), (peer, third)]
    assert legs.held[UNIT_CALL].early == []
