"""Calls whose parties' sockets are on different hub workers (ADR 0185): two hubs in this
process on one PostgreSQL database, each with its own alarm fan-out listening. The caller is
on worker A, which holds the call; the tablet's socket is on worker B. Pure parts (the
signal, its pieces) are tested without a database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from hub.alarms.fanout import MAX_PAYLOAD
from hub.alarms.keys import ALARM_FANOUT
from hub.app import create_app
from hub.auth import Role
from hub.clock import ManualClock
from hub.family.calls.across import (
    CALL_LINKS,
    MAX_PENDING,
    BadCallSignal,
    CallSignal,
    Joiner,
    Piece,
)
from hub.family.models import CallRecord
from hub.family.ws import CALL_SERVICE
from hub.settings import HubSettings
from teleassist.config import Config
from tests.family.conftest import Person, Tablet, World, frame_of

Starter = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
TIMEOUT = 30


def _whole(payloads: list[str]) -> CallSignal:
    joiner, whole = Joiner(), None
    for payload in payloads:
        assert len(payload.encode()) <= MAX_PAYLOAD
        data = json.loads(payload)
        whole = joiner.add(Piece.parse(data)) if data["k"] == "p" else payload
    assert whole is not None
    return CallSignal.parse(whole)


def test_a_signal_survives_its_payload_whole_or_in_pieces() -> None:
    sdp = {"type": "offer", "sdp": "v=0\r\na=candidate:1 «ü»\r\n" * 2000}  # ~60 KB
    for signal in (
        CallSignal("w-a", "", "w", party="r:3", query=4),
        CallSignal("w-a", "", "w", call_id=9, party="r:3", query=5),
        CallSignal("w-b", "w-a", "h", party="r:3", query=5),
        CallSignal("w-a", "w-b", "e", call_id=9, parties=("r:3",), data={"type": "x"}),
        CallSignal(
            "w-a",
            "w-b",
            "e",
            call_id=9,
            parties=("r:3", "u:1"),
            data={"type": "call.signal", "data": {"sdp": sdp}},
            final=True,
        ),
        CallSignal("w-b", "w-a", "f", call_id=9, party="r:3", text="call.accept"),
        CallSignal(
            "w-b", "w-a", "f", call_id=9, party="r:3", text="call.signal", data={"sdp": sdp}
        ),
        CallSignal("w-b", "w-a", "g", call_id=9, party="r:3"),
        CallSignal("w-b", "w-a", "b", calls=(9, 10)),
        CallSignal("w-b", "w-a", "x", call_id=9),
    ):
        payloads = signal.payloads(1)
        assert _whole(payloads) == signal
    assert len(CallSignal("w-b", "w-a", "f", call_id=9, party="r:3", text="call.signal",
                          data={"sdp": sdp}).payloads(1)) > 1  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1]",
        '{"o": "w1", "t": "", "k": "z"}',
        '{"o": "", "t": "", "k": "b", "c": []}',
        '{"o": "w1", "t": "", "k": "w", "p": "r:3"}',  # no query
        '{"o": "w1", "t": "", "k": "w", "p": "", "q": 1}',
        '{"o": "w1", "t": "w2", "k": "e", "c": 0, "p": ["r:3"], "e": {"type": "x"}, "z": 0}',
        '{"o": "w1", "t": "w2", "k": "e", "c": 1, "p": [], "e": {"type": "x"}, "z": 0}',
        '{"o": "w1", "t": "w2", "k": "e", "c": 1, "p": ["r:3"], "e": "{}", "z": 0}',
        '{"o": "w1", "t": "w2", "k": "e", "c": 1, "p": ["r:3"], "e": {"type": "x"}, "z": 2}',
        '{"o": "w1", "t": "w2", "k": "f", "c": 1, "p": "r:3", "y": "call.start"}',
        '{"o": "w1", "t": "w2", "k": "f", "c": 1, "p": "r:3", "y": "call.signal", "d": 5}',
        '{"o": "w1", "t": "w2", "k": "b", "c": ["1"]}',
        '{"o": "w1", "t": "w2", "k": "g", "c": -1, "p": "r:3"}',
        '{"o": "w1", "t": "w2", "k": "x", "c": 0}',  # no call to end
        '{"o": "w1", "t": "w2", "k": "p", "m": 1, "i": 0, "n": 2, "d": "eA=="}',  # a piece
    ],
)
def test_a_bad_signal_is_refused(payload: str) -> None:
    with pytest.raises(BadCallSignal):
        CallSignal.parse(payload)


def test_pieces_join_only_in_order_and_are_bounded() -> None:
    pieces = CallSignal("w-a", "w-b", "e", call_id=1, parties=("r:3",),
                        data={"type": "x", "pad": "y" * 20_000}).payloads(7)  # fmt: skip
    parsed = [Piece.parse(json.loads(p)) for p in pieces]
    joiner = Joiner()
    assert joiner.add(parsed[0]) is None
    with pytest.raises(BadCallSignal):
        joiner.add(parsed[2])  # the second was missed: the message is lost
    assert joiner.dropped == 1
    for message in range(MAX_PENDING + 5):  # half-joined messages are bounded
        joiner.add(Piece("w-a", "w-b", message, 0, 2, b"x"))
    assert joiner.dropped == 6
    with pytest.raises(BadCallSignal):
        Piece.parse({"o": "w", "t": "", "m": 1, "i": 0, "n": 99, "d": "eA=="})
    with pytest.raises(BadCallSignal):
        Piece.parse({"o": "w", "t": "", "m": 1, "i": 0, "n": 2, "d": "not base64!"})


# ---------------------------------------------------------------- two workers


async def _frame(ws: Any, kind: str) -> dict[str, Any]:
    return await frame_of(ws, kind, TIMEOUT)


async def _state(ws: Any, status: str) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = await _frame(ws, "call.state")
            if frame["status"] == status:
                return frame


@pytest.fixture
async def worker_b(
    world: World,
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_config: Config,
    hub_clock: ManualClock,
) -> TestClient[Any, Any]:
    """A second hub worker on the same database; both fan-outs listening."""
    b = await aiohttp_client(create_app(hub_settings, config=hub_config, clock=hub_clock))
    for worker in (world.client, b):
        async with asyncio.timeout(30):
            await worker.app[ALARM_FANOUT].listening.wait()
    return b


async def _pair(world: World) -> tuple[Tablet, Person]:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    return maria, anna


async def _accepted(anna_ws: Any, tablet_ws: Any, callee: str) -> int:
    """Anna calls the tablet, which answers; the call's id."""
    await anna_ws.send_json({"type": "call.start", "callee": callee})
    call_id = int((await _state(anna_ws, "ringing"))["call_id"])
    await _frame(tablet_ws, "call.incoming")
    await tablet_ws.send_json({"type": "call.accept", "call_id": call_id})
    await _state(anna_ws, "accepted")
    return call_id


def _candidate(n: int) -> dict[str, Any]:
    return {"candidate": {"candidate": f"candidate:{n} 1 udp 2122260223 10.0.0.{n} 5{n} typ host",
                          "sdpMid": "0", "sdpMLineIndex": 0}}  # fmt: skip


async def _records(world: World, caller: str) -> list[CallRecord]:
    async with world.sessionmaker() as session:
        return list(await session.scalars(select(CallRecord).where(CallRecord.caller == caller)))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_relative_on_one_worker_calls_a_tablet_on_another(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    maria, anna = await _pair(world)
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
    ):
        await anna_ws.send_json({"type": "call.start", "callee": maria.party})
        call_id = (await _state(anna_ws, "ringing"))["call_id"]
        incoming = await _frame(tablet_ws, "call.incoming")
        assert (incoming["call_id"], incoming["caller"], incoming["caller_name"]) == (
            call_id, anna.party, "Anna",
        )  # fmt: skip
        await tablet_ws.send_json({"type": "call.accept", "call_id": call_id})
        assert (await _state(anna_ws, "accepted"))["call"]["answered_at"] is not None
        await _state(tablet_ws, "accepted")

        # An offer bigger than a NOTIFY, then candidates at once: they arrive in order.
        offer = {"sdp": {"type": "offer", "sdp": "v=0\r\na=fingerprint:sha-256 AB\r\n" * 600}}
        assert len(json.dumps(offer)) > 2 * MAX_PAYLOAD
        await anna_ws.send_json({"type": "call.signal", "call_id": call_id, "data": offer})
        for n in range(1, 6):
            await anna_ws.send_json({"type": "call.signal", "call_id": call_id,
                                     "data": _candidate(n)})  # fmt: skip
        got = [await _frame(tablet_ws, "call.signal") for _ in range(6)]
        assert [g["data"] for g in got] == [offer] + [_candidate(n) for n in range(1, 6)]
        assert {g["from"] for g in got} == {anna.party}

        answer = {"sdp": {"type": "answer", "sdp": "v=0\r\na=setup:active\r\n" * 900}}
        await tablet_ws.send_json({"type": "call.signal", "call_id": call_id, "data": answer})
        for n in range(6, 9):
            await tablet_ws.send_json({"type": "call.signal", "call_id": call_id,
                                       "data": _candidate(n)})  # fmt: skip
        got = [await _frame(anna_ws, "call.signal") for _ in range(4)]
        assert [g["data"] for g in got] == [answer] + [_candidate(n) for n in range(6, 9)]
        assert {g["from"] for g in got} == {maria.party}

        await tablet_ws.send_json({"type": "call.connected", "call_id": call_id})
        await _state(anna_ws, "connected")
        await tablet_ws.send_json({"type": "call.hangup", "call_id": call_id})
        ended = await _state(anna_ws, "ended")
        assert ended["call"]["ended_by"] == maria.party
        await _state(tablet_ws, "ended")
        # A frame for the call over now: the holder says so to the tablet on B.
        await tablet_ws.send_json({"type": "call.hangup", "call_id": call_id})
        error = await _frame(tablet_ws, "error")
        assert (error["error"], error["call_id"]) == ("call_unknown", call_id)

    records = await _records(world, anna.party)
    assert [(r.id, r.callee, r.status, r.ended_by) for r in records] == [
        (call_id, maria.party, "ended", maria.party)
    ]
    assert b.app[CALL_SERVICE].active_for(maria.party) == []  # B never held it
    assert a.app[CALL_SERVICE].active_for(maria.party) == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_the_tablets_socket_dropping_on_the_other_worker_ends_the_call_after_grace(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    a.app[CALL_SERVICE].grace_s = 0.3
    maria, anna = await _pair(world)
    async with a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws:
        async with b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws:
            call_id = await _accepted(anna_ws, tablet_ws, maria.party)
        ended = await _state(anna_ws, "ended")  # the tablet's socket on B closed
        assert (ended["call_id"], ended["call"]["ended_by"]) == (call_id, maria.party)
    assert [r.status for r in await _records(world, anna.party)] == ["ended"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_worker_that_dies_mid_call_is_given_up_on(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    a.app[CALL_SERVICE].grace_s = 0.3
    links = a.app[CALL_LINKS]
    links.beat_s, links.dead_after_s = 0.2, 1.0
    maria, anna = await _pair(world)
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
    ):
        call_id = await _accepted(anna_ws, tablet_ws, maria.party)
        # B falls silent as a killed worker does: no "gone", no beats.
        b.app[CALL_LINKS]._send = lambda signal: None  # type: ignore[method-assign]
        ended = await _state(anna_ws, "ended")
        assert (ended["call_id"], ended["call"]["ended_by"]) == (call_id, maria.party)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("console_on", ["a", "b"])
@pytest.mark.postgres
async def test_the_operator_speaks_with_a_tablet_on_another_worker(
    world: World, worker_b: TestClient[Any, Any], console_on: str
) -> None:
    # The call is started on A; the operator's own socket is on A, or on B with the tablet's
    # (then neither party is on the worker that holds the call).
    a, b = world.client, worker_b
    maria = await world.resident("Maria")
    operator = await world.person(Role.OPERATOR, name="Núria")
    url = f"/api/console/residents/{maria.resident_id}/voice"
    async with (
        (a if console_on == "a" else b).ws_connect(
            "/api/family/ws", headers=operator.headers
        ) as console,
        b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
    ):
        started = await a.post(url, headers=operator.headers)
        assert started.status == 201, await started.text()
        call_id = (await started.json())["call_id"]
        incoming = await _frame(tablet_ws, "call.incoming")
        assert (incoming["call_id"], incoming["kind"]) == (call_id, "centre")
        await tablet_ws.send_json({"type": "call.accept", "call_id": call_id})
        await _state(console, "accepted")
        offer = {"sdp": {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 3000}}
        await console.send_json({"type": "call.signal", "call_id": call_id, "data": offer})
        assert (await _frame(tablet_ws, "call.signal"))["data"] == offer
        answer = {"sdp": {"type": "answer", "sdp": "v=0 answer"}}
        await tablet_ws.send_json({"type": "call.signal", "call_id": call_id, "data": answer})
        assert (await _frame(console, "call.signal"))["data"] == answer
        await tablet_ws.send_json({"type": "call.connected", "call_id": call_id})
        await _state(console, "connected")
        await console.send_json({"type": "call.hangup", "call_id": call_id})
        await _state(tablet_ws, "ended")
    records = await _records(world, operator.party)
    assert [(r.kind, r.status, r.connected_at is not None) for r in records] == [
        ("centre", "ended", True)
    ]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_tablet_on_no_worker_is_offline_as_before(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a = world.client
    a.app[CALL_LINKS].find_wait_s = 0.5
    maria = await world.resident("Maria")
    operator = await world.person(Role.OPERATOR, name="Núria")
    async with a.ws_connect("/api/family/ws", headers=operator.headers):
        resp = await a.post(f"/api/console/residents/{maria.resident_id}/voice",
                            headers=operator.headers)  # fmt: skip
        assert resp.status == 409
        assert (await resp.json())["error"] == "tablet_offline"
    assert [(r.status, r.failure) for r in await _records(world, operator.party)] == [
        ("failed", "tablet_offline")
    ]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_tablet_whose_calls_worker_dies_is_told_the_call_failed(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    links = b.app[CALL_LINKS]
    links.beat_s, links.dead_after_s = 0.2, 1.0
    maria, anna = await _pair(world)
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
    ):
        await anna_ws.send_json({"type": "call.start", "callee": maria.party})
        call_id = (await _state(anna_ws, "ringing"))["call_id"]
        await _frame(tablet_ws, "call.incoming")
        await tablet_ws.send_json({"type": "call.accept", "call_id": call_id})
        await _state(tablet_ws, "accepted")
        # A, holding the call, falls silent: the tablet's call does not hang on for ever.
        a.app[CALL_LINKS]._send = lambda signal: None  # type: ignore[method-assign]
        failed = await _state(tablet_ws, "failed")
        assert (failed["call_id"], failed["call"]["failure"]) == (call_id, "hub_restart")
        await tablet_ws.send_json({"type": "call.hangup", "call_id": call_id})
        assert (await _frame(tablet_ws, "error"))["error"] == "call_unknown"


# ------------------------------------------------------- open calls seen by every worker


async def _record(world: World, call_id: int) -> CallRecord:
    async with world.sessionmaker() as session:
        record = await session.get(CallRecord, call_id)
    assert record is not None
    return record


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_worker_starting_fails_only_the_calls_of_a_worker_that_died(
    world: World,
    worker_b: TestClient[Any, Any],
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_config: Config,
    hub_clock: ManualClock,
) -> None:
    a, b = world.client, worker_b
    maria, anna = await _pair(world)
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        b.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
    ):
        call_id = await _accepted(anna_ws, tablet_ws, maria.party)
        record = await _record(world, call_id)
        assert record.holder == a.app[CALL_LINKS].origin
        await a.app[CALL_SERVICE].renew()  # A's beat: its hold goes on
        assert (held := (await _record(world, call_id)).held_until) is not None
        assert record.held_until is not None
        assert held >= record.held_until

        # A third worker starts (or B restarts): A's call is not its to close.
        c = await aiohttp_client(create_app(hub_settings, config=hub_config, clock=hub_clock))
        assert c.app[CALL_SERVICE].holder != record.holder
        assert (await _record(world, call_id)).status == "accepted"
        assert await b.app[CALL_SERVICE].sweep() == 0
        # ... and the call goes on.
        await tablet_ws.send_json({"type": "call.signal", "call_id": call_id,
                                   "data": _candidate(1)})  # fmt: skip
        assert (await _frame(anna_ws, "call.signal"))["data"] == _candidate(1)

        # A dies: it stops renewing its hold, which runs out; the next worker to start (or
        # to beat) fails the call.
        async def no_renewal() -> None:
            return None

        a.app[CALL_SERVICE].renew = no_renewal  # type: ignore[method-assign]
        async with world.sessionmaker() as session:
            await session.execute(
                text("UPDATE family_calls SET held_until = now() - interval '1 second' "
                     "WHERE id = :id"),
                {"id": call_id},
            )  # fmt: skip
            await session.commit()
        assert await c.app[CALL_SERVICE].recover() == 1
        assert await b.app[CALL_SERVICE].sweep() == 0  # failed once, by one worker
        record = await _record(world, call_id)
        assert (record.status, record.failure) == ("failed", "hub_restart")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_tablet_in_a_call_on_one_worker_is_busy_for_a_caller_on_another(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    maria, anna = await _pair(world)
    ben = await world.person(name="Ben")
    await world.link(maria, ben)
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        a.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
        b.ws_connect("/api/family/ws", headers=ben.headers) as ben_ws,
    ):
        call_id = await _accepted(anna_ws, tablet_ws, maria.party)
        await ben_ws.send_json({"type": "call.start", "callee": maria.party})
        assert (await _frame(ben_ws, "error"))["error"] == "busy"
        await tablet_ws.send_json({"type": "call.hangup", "call_id": call_id})
        await _state(anna_ws, "ended")
        # Over: Ben's call rings.
        await ben_ws.send_json({"type": "call.start", "callee": maria.party})
        await _state(ben_ws, "ringing")
    assert [r.status for r in await _records(world, ben.party)] == ["missed", "ringing"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_centre_call_on_one_worker_ends_a_family_call_held_on_another(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    maria, anna = await _pair(world)
    operator = await world.person(Role.OPERATOR, name="Núria")
    async with (
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        a.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
        b.ws_connect("/api/family/ws", headers=operator.headers),
    ):
        family_id = await _accepted(anna_ws, tablet_ws, maria.party)
        started = await b.post(f"/api/console/residents/{maria.resident_id}/voice",
                               headers=operator.headers)  # fmt: skip
        assert started.status == 201, await started.text()
        ended = await _state(anna_ws, "ended")
        assert ended["call_id"] == family_id
        incoming = await _frame(tablet_ws, "call.incoming")
        assert (incoming["call_id"], incoming["kind"]) == ((await started.json())["call_id"],
                                                           "centre")  # fmt: skip
    assert (await _record(world, family_id)).status == "ended"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_two_operators_on_two_workers_cannot_both_call_a_home(
    world: World, worker_b: TestClient[Any, Any]
) -> None:
    a, b = world.client, worker_b
    maria = await world.resident("Maria")
    nuria = await world.person(Role.OPERATOR, name="Núria")
    pau = await world.person(Role.OPERATOR, name="Pau")
    url = f"/api/console/residents/{maria.resident_id}/voice"
    async with (
        a.ws_connect("/api/family/ws", headers=maria.headers),
        a.ws_connect("/api/family/ws", headers=nuria.headers),
        b.ws_connect("/api/family/ws", headers=pau.headers),
    ):
        # At once, on either worker: one rings, the other is told who holds the home.
        answers = await asyncio.gather(
            a.post(url, headers=nuria.headers), b.post(url, headers=pau.headers)
        )
        by_status = {r.status: await r.json() for r in answers}
        assert sorted(by_status) == [201, 409]
        refused = by_status[409]
        assert refused["error"] == "home_busy"
        winner = "Núria" if answers[0].status == 201 else "Pau"
        assert refused["held_by"]["name"] == winner
        # And after: the second operator asking again on B is still refused.
        again = await b.post(url, headers=pau.headers if winner == "Núria" else nuria.headers)
        assert (again.status, (await again.json())["error"]) == (409, "home_busy")
