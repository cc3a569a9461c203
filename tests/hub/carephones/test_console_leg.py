"""The home's party of a carephone's call on the worker that holds it (the single-worker path,
ADR 0160; ADR 0177 §6): each frame of the operator's browser is handled in a task of its own,
so an ICE candidate may be handled before its offer, or while the offer's peer is being made,
and the centre call may end while it is being made (ADR 0177 §7).

The order is the test's: the frames are handled one by one (``CarephoneParty._handle``, what
each task runs), and the peer's making, and the adding of a candidate, wait for the test's
word (events; no sleep, no clock).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from hub.carephones import console_leg
from hub.carephones.console_leg import CarephoneParty
from tests.hub.carephones.peers import Peer, candidate

CALL_ID = 5


class Calls:
    """What the party uses of the centre calls here: the answers it relays."""

    def __init__(self) -> None:
        self.relayed: list[dict[str, Any]] = []

    def relay(self, call_id: int, party: str, data: dict[str, Any], size: int) -> None:
        assert (call_id, party) == (CALL_ID, "r:7")
        self.relayed.append(data)


def signal(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "call.signal", "call_id": CALL_ID, "data": data}


OFFER = signal({"sdp": {"type": "offer", "sdp": "v=0"}})


async def test_candidates_handled_before_or_while_the_offers_peer_is_made_reach_it_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    making, made = asyncio.Event(), asyncio.Event()
    peer = Peer("answer")
    added: list[tuple[object, dict[str, Any]]] = []
    adding, go_on = asyncio.Event(), asyncio.Event()

    async def operator_leg(*_args: Any) -> object:
        making.set()
        await made.wait()
        return peer

    async def add_candidate(pc: object, found: dict[str, Any]) -> None:
        if not added:  # the first early one: the test handles a frame meanwhile
            adding.set()
            await go_on.wait()
        added.append((pc, found))

    monkeypatch.setattr(console_leg, "operator_leg", operator_leg)
    monkeypatch.setattr(console_leg, "add_candidate", add_candidate)
    calls = Calls()
    call = SimpleNamespace(call_id="unit-call-1", unit=None)
    party = CarephoneParty("r:7", None, call, calls)  # type: ignore[arg-type]
    party.call_id = CALL_ID  # the centre call accepted

    # A candidate whose task ran before the offer's:
    await party._handle(signal({"candidate": candidate(1)}))
    offer = asyncio.ensure_future(party._handle(OFFER))
    await making.wait()
    # The offer's peer is being made:
    await party._handle(signal({"candidate": candidate(2)}))
    assert added == []
    made.set()
    # (without the early ones kept, the offer ends without adding any: no hanging then)
    started = asyncio.ensure_future(adding.wait())
    await asyncio.wait([offer, started], return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    assert adding.is_set()
    # The early ones are being added to the peer: this one waits its turn behind them.
    await party._handle(signal({"candidate": candidate(3)}))
    assert party.peer.early == [candidate(2), candidate(3)]
    go_on.set()
    await offer
    await party._handle(signal({"candidate": candidate(4)}))
    assert added == [(peer, candidate(n)) for n in (1, 2, 3, 4)]
    assert calls.relayed == [{"sdp": {"type": "answer", "sdp": "v=0 answer"}}]
    assert party.peer.pc is peer
    assert party.peer.early == []


async def test_a_peer_made_after_the_centre_call_ended_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The centre call ends (here by the home's side) while the offer's peer is being made: the
    # peer is closed as soon as it is made, and no answer is relayed for it (ADR 0177 §7).
    making, made = asyncio.Event(), asyncio.Event()
    peer = Peer("late")

    async def operator_leg(*_args: Any) -> object:
        making.set()
        await made.wait()
        return peer

    monkeypatch.setattr(console_leg, "operator_leg", operator_leg)
    calls = Calls()
    call = SimpleNamespace(call_id="unit-call-1", unit=None)
    party = CarephoneParty("r:7", None, call, calls)  # type: ignore[arg-type]
    party.call_id = CALL_ID
    offer = asyncio.ensure_future(party._handle(OFFER))
    await making.wait()
    ended = {"ended_by": "r:7"}
    await party._handle(
        {"type": "call.state", "call_id": CALL_ID, "status": "ended", "call": ended}
    )
    made.set()
    await offer
    assert peer.closed
    assert party.peer.pc is None
    assert calls.relayed == []
