"""Family live events reach every worker's sockets (ADR 0181): two hubs in this process on one
PostgreSQL database, each with its own alarm fan-out listening. The resident's tablet and a
relative are connected to worker A; what happens on worker B (a message written, a sign-out)
reaches them through the fan-out's family channel. Pure parts (the signal, which events are
mirrored, a worker's own signals) are tested without a database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from hub.alarms.fanout import MAX_PAYLOAD
from hub.alarms.keys import ALARM_FANOUT
from hub.app import create_app
from hub.clock import ManualClock
from hub.family.live import Connection, LiveHub
from hub.family.live_fanout import LIVE_MIRROR, BadLiveSignal, LiveMirror, LiveSignal
from hub.settings import HubSettings
from teleassist.config import Config
from tests.family.conftest import World, frame_of

Starter = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def test_a_signal_survives_its_payload() -> None:
    for signal in (
        LiveSignal("w1-ab", ("p:7", "r:3"), '{"type":"message.new"}'),
        LiveSignal("w1-ab", ("p:7",), None),
        LiveSignal("w1-ab", ("p:7",), None, "family-1"),
        LiveSignal("w1-ab", ("p:7",), None, ""),
    ):
        assert LiveSignal.parse(signal.payload()) == signal


def test_an_event_too_big_for_a_notify_goes_as_refetch() -> None:
    signal = LiveSignal("w1", ("r:3",), '{"text":"' + "x" * MAX_PAYLOAD + '"}')
    payload = signal.payload()
    assert len(payload.encode()) <= MAX_PAYLOAD
    assert LiveSignal.parse(payload) == LiveSignal("w1", ("r:3",), None)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1]",
        '{"o": "w1", "p": ["r:3"]}',  # neither an event, a refetch nor a close
        '{"o": "w1", "p": ["r:3"], "e": "{}", "c": ""}',  # two at once
        '{"o": "w1", "p": ["r:3"], "e": 5}',
        '{"o": "w1", "p": [], "e": "{}"}',
        '{"o": "w1", "p": [""], "e": "{}"}',
        '{"o": "w1", "p": [3], "e": "{}"}',
        '{"o": "", "p": ["r:3"], "e": "{}"}',
        '{"o": "' + "w" * 65 + '", "p": ["r:3"], "e": "{}"}',
        '{"o": "w1", "p": "r:3", "e": "{}"}',
        '{"o": "w1", "p": ["r:3"], "x": 2}',
    ],
)
def test_a_bad_payload_is_refused(payload: str) -> None:
    with pytest.raises(BadLiveSignal):
        LiveSignal.parse(payload)


class _Socket:
    """What :class:`Connection` needs of a websocket until it writes (never here)."""

    closed = False


def _hub_with(party: str) -> tuple[LiveHub, Connection]:
    live = LiveHub()
    connection = Connection(party, _Socket(), "s1")  # type: ignore[arg-type]
    live.add(connection)
    return live, connection


def test_only_shared_events_and_closes_are_mirrored() -> None:
    live, connection = _hub_with("r:3")
    mirrored: list[tuple[set[str], str]] = []
    closed: list[tuple[str, str | None]] = []
    live.mirror = lambda parties, text: mirrored.append((set(parties), text))
    live.mirror_close = lambda party, sign_in: closed.append((party, sign_in))
    assert live.publish(["r:3", "p:9"], {"type": "message.new", "message": {"id": 1}}) == 1
    # Signalling lives in the worker holding the call; a bridge's notice is on every worker.
    live.publish(["r:3"], {"type": "call.incoming", "call_id": 4})
    live.publish(["r:3"], {"type": "listen.joined"})
    live.publish(["r:3"], {"type": "alarm.notice", "notice": {}}, mirror=False)
    assert [(parties, '"message.new"' in text) for parties, text in mirrored] == [
        ({"r:3", "p:9"}, True)
    ]
    assert connection.outbox.qsize() == 4  # every one reached this worker's own socket
    live.close("r:3", "s1", flush=True)
    assert closed == [("r:3", "s1")]


async def test_a_worker_ignores_its_own_signals_and_obeys_the_others() -> None:
    live, connection = _hub_with("r:3")
    mirror = LiveMirror(lambda: None, live, "w-a")  # type: ignore[arg-type,return-value]
    await mirror.deliver(LiveSignal("w-a", ("r:3",), '{"type":"message.new"}').payload())
    assert connection.outbox.qsize() == 0
    await mirror.deliver(LiveSignal("w-b", ("r:3",), '{"type":"message.new"}').payload())
    assert connection.outbox.get_nowait() == '{"type":"message.new"}'
    await mirror.deliver("garbage")  # logged, nothing else
    # Another worker's sign-out of a different sign-in leaves this socket open...
    await mirror.deliver(LiveSignal("w-b", ("r:3",), None, "s2").payload())
    assert live.online("r:3")
    # ...its own sign-out closes it.
    await mirror.deliver(LiveSignal("w-b", ("r:3",), None, "s1").payload())
    assert not live.online("r:3")
    assert connection.outbox.get_nowait() is None  # the writer is told to stop


async def _frame(ws: Any, kind: str) -> dict[str, Any]:
    return await frame_of(ws, kind, 60)


async def _closed(ws: Any) -> None:
    async with asyncio.timeout(60):
        while True:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_message_written_on_another_worker_reaches_this_workers_sockets(
    world: World,
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_config: Config,
    hub_clock: ManualClock,
) -> None:
    a = world.client
    b = await aiohttp_client(create_app(hub_settings, config=hub_config, clock=hub_clock))
    for worker in (a, b):
        async with asyncio.timeout(30):
            await worker.app[ALARM_FANOUT].listening.wait()
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    cid = int((await world.link(maria, anna))["conversation_id"])
    async with (
        a.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
    ):
        sent = await b.post(
            f"/api/family/conversations/{cid}/messages",
            json={"text": "Bon dia, àvia!"},
            headers=anna.headers,
        )
        assert sent.status == 201, await sent.text()
        frame = await _frame(tablet_ws, "message.new")
        assert (frame["message"]["text"], frame["message"]["sender"]["party"]) == (
            "Bon dia, àvia!",
            anna.party,
        )
        assert (await _frame(anna_ws, "message.new"))["message"]["id"] == frame["message"]["id"]
        # Counted before the frames are written (B's own `sent` is counted after its commit
        # returns, which may come after A has already passed the event on: not asserted).
        assert a.app[LIVE_MIRROR].delivered >= 2

        # Anna signs out on B: her socket on A closes (she is authorised afresh or not at
        # all), the tablet's stays open.
        out = await b.post("/api/auth/logout", headers=anna.headers)
        assert out.status == 204, await out.text()
        await _closed(anna_ws)
        assert not tablet_ws.closed
