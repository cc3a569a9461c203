"""LoopMqttClient's attempts (docs/adr/0169) against a broker that never answers or refuses:
one attempt at a time per session, at most the gate's count across sessions, an attempt with
no CONNACK given up, refusals back off. Local TCP servers; counts asserted, never times."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from config import MqttSettings
from hub.ingest.mqtt import LoopMqttClient
from hub.ingest.reconnect import ReconnectPolicy

# Short times so that a test sees several attempts; the logic is the hub's.
FAST = ReconnectPolicy(base_s=0.01, factor=2.0, max_s=0.04, stable_s=5.0, connack_timeout_s=0.2)
CONNACK_SERVER_UNAVAILABLE = bytes([0x20, 0x02, 0x00, 0x03])


class FakeBroker:
    """Accepts MQTT connections; ``answer`` (or nothing) is written after the CONNECT."""

    def __init__(self, answer: bytes = b"") -> None:
        self.answer = answer
        self.connections = 0
        self._wanted: tuple[int, asyncio.Event] | None = None
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._wanted and self.connections >= self._wanted[0]:
            self._wanted[1].set()
        try:
            if await reader.read(1024) and self.answer:
                writer.write(self.answer)
                await writer.drain()
                writer.close()
                return
            await reader.read()  # silent until the client gives up
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def seen(self, count: int) -> None:
        """Return once ``count`` connections were accepted."""
        event = asyncio.Event()
        self._wanted = (count, event)
        if self.connections >= count:
            return
        await event.wait()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    fake = FakeBroker()
    fake.server = await asyncio.start_server(fake._serve, "127.0.0.1", 0)
    yield fake
    fake.server.close()
    await fake.server.wait_closed()


def _client(broker: FakeBroker, name: str, **kwargs: Any) -> LoopMqttClient:
    return LoopMqttClient(
        MqttSettings(
            host="127.0.0.1", port=broker.port, keepalive_s=60
        ),  # attempts end by the CONNACK timeout alone
        client_id=name,
        subscriptions=[],
        on_message=lambda m: None,
        policy=FAST,
        rng=random.Random(1),
        **kwargs,
    )


def _track_open_sockets(clients: list[LoopMqttClient]) -> Callable[[], int]:
    """Wrap paho's socket callbacks: returns a function giving the most sockets ever open
    at once across ``clients`` (counted on the client side: no race with the server)."""
    live: set[int] = set()
    peak = [0]
    for c in clients:
        opened, closed = c.client.on_socket_open, c.client.on_socket_close

        def on_open(cl: Any, ud: Any, sock: Any, opened: Any = opened) -> None:
            live.add(id(sock))
            peak[0] = max(peak[0], len(live))
            opened(cl, ud, sock)

        def on_close(cl: Any, ud: Any, sock: Any, closed: Any = closed) -> None:
            live.discard(id(sock))
            closed(cl, ud, sock)

        c.client.on_socket_open = on_open
        c.client.on_socket_close = on_close
    return lambda: peak[0]


async def test_an_attempt_without_connack_is_given_up_before_the_next(broker: FakeBroker) -> None:
    client = _client(broker, "_hub-p01")
    peak = _track_open_sockets([client])
    await client.start()
    try:
        async with asyncio.timeout(30):
            await broker.seen(4)
    finally:
        await client.close()
    assert peak() == 1  # one attempt at a time, each given up before the next started
    assert client.attempts >= 4
    assert client.disconnects >= 3
    assert not client.connected.is_set()


async def test_a_paused_session_still_gives_an_attempt_up(broker: FakeBroker) -> None:
    # Back-pressure removes the socket's reader; the given-up attempt must still end.
    client = _client(broker, "_hub-p02")
    client.pause_reading()
    await client.start()
    try:
        async with asyncio.timeout(30):
            await broker.seen(3)
    finally:
        await client.close()
    assert client.disconnects >= 2


async def test_the_gate_bounds_attempts_across_sessions(broker: FakeBroker) -> None:
    gate = asyncio.Semaphore(1)
    clients = [_client(broker, f"_hub-p{n:02d}", connect_gate=gate) for n in range(3)]
    peak = _track_open_sockets(clients)
    for c in clients:
        await c.start()
    try:
        async with asyncio.timeout(30):
            await broker.seen(6)
    finally:
        for c in clients:
            await c.close()
    assert peak() == 1  # three sessions, one of them connecting at a time
    assert all(c.attempts >= 1 for c in clients)  # each had its turn


async def test_refusals_back_off(broker: FakeBroker) -> None:
    broker.answer = CONNACK_SERVER_UNAVAILABLE
    client = _client(broker, "_hub-p03")
    await client.start()
    try:
        async with asyncio.timeout(30):
            await broker.seen(4)
    finally:
        await client.close()
    # Every refusal counted as one more failure in a row: the waits grew.
    assert client._backoff.failures >= 3
    assert client.attempts >= 4
