"""The alarm sink: urgent events are handled before a backlog of routine ones; end to end
through real Mosquitto and ingestion, a panic reaches the operators' live socket once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import msgspec
import pytest

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.sink import AlarmSink
from hub.app import CLOCK, SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.db import make_engine, make_sessionmaker
from hub.ingest.app import MQTT_CLIENT
from protocol import (
    AlarmReceived,
    Channel,
    Motion,
    Panic,
    command_subscription,
    decode_command,
)
from teleassist.config import MqttSettings, load_config
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, eventually, seed_home


class _RecordingEngine:
    def __init__(self) -> None:
        self.handled: list[str] = []
        self.prefetched: list[int] = []
        self.panic_gate: asyncio.Event | None = None
        self.panic_started = asyncio.Event()

    async def prefetch(self, events: list[HomeEvent]) -> int:
        self.prefetched.append(len(events))
        return 0

    async def handle_event(self, event: HomeEvent) -> list[Any]:
        if isinstance(event.body, Panic):
            self.panic_started.set()
            if self.panic_gate is not None:
                await self.panic_gate.wait()
        self.handled.append(event.message_id)
        await asyncio.sleep(0)
        return []


def _event(message_id: str, home: str, body: Any) -> HomeEvent:
    return HomeEvent(
        home_id=home,
        resident_id=f"r{home}",
        device_id=f"d{home}",
        device_type=DeviceType.MOTION,
        message_id=message_id,
        at=datetime(2026, 1, 12, 9, tzinfo=UTC),
        body=body,
    )


async def test_a_panic_jumps_a_backlog_of_routine_events() -> None:
    sink = AlarmSink(workers=1)
    for n in range(500):
        await sink.put(_event(f"motion-{n}", "1", Motion()))
    await sink.put(_event("panic", "2", Panic()))
    engine = _RecordingEngine()
    sink.start(engine)  # type: ignore[arg-type]
    try:
        await eventually(lambda: len(engine.handled) == 501, timeout=30)
    finally:
        await sink.stop()
    assert engine.handled[0] == "panic"
    assert engine.handled[1:] == [f"motion-{n}" for n in range(500)]
    # The backlog was taken in batches, each prefetched in one go.
    assert max(engine.prefetched) > 1


async def test_each_homes_routine_events_keep_their_order_across_lanes() -> None:
    sink = AlarmSink(workers=4)
    homes = [str(h) for h in range(12)]
    for n in range(40):
        for home in homes:
            await sink.put(_event(f"{home}:{n}", home, Motion()))
    engine = _RecordingEngine()
    sink.start(engine)  # type: ignore[arg-type]
    try:
        await eventually(lambda: len(engine.handled) == 40 * len(homes), timeout=30)
    finally:
        await sink.stop()
    for home in homes:
        mine = [m for m in engine.handled if m.split(":")[0] == home]
        assert mine == [f"{home}:{n}" for n in range(40)]
    assert sum(1 for lane in sink.lanes if lane.qsize() == 0) == 4


async def test_routine_work_waits_while_a_panic_is_being_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hub.alarms.sink.URGENT_YIELD_S", 60.0)
    sink = AlarmSink(workers=2)
    engine = _RecordingEngine()
    engine.panic_gate = asyncio.Event()
    sink.start(engine)  # type: ignore[arg-type]
    try:
        await sink.put(_event("panic", "9", Panic()))
        await engine.panic_started.wait()
        for n in range(20):
            await sink.put(_event(f"motion-{n}", str(n), Motion()))
        for _ in range(100):  # give the lane workers every chance to run
            await asyncio.sleep(0)
        assert engine.handled == []
        assert sink.routine_depth == 0  # taken by the lanes, held back
        engine.panic_gate.set()
        await eventually(lambda: len(engine.handled) == 21, timeout=30)
    finally:
        await sink.stop()
    assert engine.handled[0] == "panic"


@pytest.mark.broker
async def test_panic_over_mqtt_reaches_the_operator_socket_once(
    hub_settings, mosquitto, monkeypatch, aiohttp_client
) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    prefix = f"a{secrets.token_hex(4)}"
    db = make_engine(hub_settings.database_url)
    try:
        home_id, _ = await seed_home(
            make_sessionmaker(db),
            {
                f"{prefix}-pendant": "pendant",
                f"{prefix}-pir": "motion",
                f"{prefix}-tablet": "tablet",
            },
        )
    finally:
        await db.dispose()
    settings = msgspec.structs.replace(
        hub_settings,
        ingest_client_id=f"hub-{prefix}",
        ingest_share_group=f"g{prefix}",
        ingest_flush_interval_s=0.05,
        # The PIR's 50 events in a moment are background noise here, not a flood to stop
        # (the device rate limit: tests/hub/ingest/test_flooding.py).
        ingest_device_events_per_s=1e9,
        ingest_device_events_burst=10**9,
    )
    app = create_app(
        settings,
        config=load_config(),
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port),
    )
    client = await aiohttp_client(app)
    await app[MQTT_CLIENT].subscribed.wait()
    async with app[SESSIONMAKER]() as session:
        user = await create_user(session, f"op-{prefix}", TEST_PASSWORD, Role.OPERATOR)
        await session.commit()
        pair = await issue_tokens(session, user, app[SETTINGS], app[CLOCK]())
        await session.commit()
    socket = await client.ws_connect(
        "/api/alarms/live", headers={"Authorization": f"Bearer {pair.access_token}"}
    )
    assert (await socket.receive_json())["type"] == "snapshot"
    publisher = Publisher(mosquitto.host, mosquitto.port)
    tablet = aiomqtt.Client(mosquitto.host, mosquitto.port)
    await tablet.__aenter__()
    await tablet.subscribe(command_subscription(f"{prefix}-tablet"), qos=1)
    try:
        for _ in range(50):
            publisher.send(f"{prefix}-pir", Channel.EVENT, Motion(room="hall"), qos=1)
        panic_id = publisher.send(f"{prefix}-pendant", Channel.EVENT, Panic(), qos=1)
        # The same message again (a device retry): still one alarm.
        publisher.send(f"{prefix}-pendant", Channel.EVENT, Panic(), qos=1, message_id=panic_id)
        async with asyncio.timeout(30):
            while True:
                message = await socket.receive_json()
                if message["type"] == "alarm.raised":
                    break
        alarm = message["alarm"]
        assert alarm["home_id"] == str(home_id)
        assert alarm["rule"] == "panic"
        assert panic_id in alarm["event_ids"]
        assert app[ALARM_ENGINE].live.subscribers == 1
        headers = {"Authorization": f"Bearer {pair.access_token}"}
        await asyncio.sleep(0.5)
        listed = await (await client.get("/api/alarms", headers=headers)).json()
        assert [a["id"] for a in listed["alarms"]] == [alarm["id"]]
        assert listed["alarms"][0]["event_ids"].count(panic_id) == 1
        # The home's tablet hears that the centre has the alarm (closes the loop).
        async with asyncio.timeout(15):
            command = await anext(aiter(tablet.messages))
        assert str(command.topic) == f"ta/v1/c/{prefix}-tablet/alarm_received"
        received = decode_command(bytes(command.payload))
        assert received.body == AlarmReceived(alarm_id=alarm["id"], event_id=panic_id)
    finally:
        await tablet.__aexit__(None, None, None)
        publisher.close()
        await socket.close()


async def test_a_stuck_urgent_event_does_not_slow_routine_work_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Routine lanes yield to an urgent event for URGENT_YIELD_S after it started; one that
    hangs (its home's lock held) must not make every later routine event wait that long."""
    monkeypatch.setattr("hub.alarms.sink.URGENT_YIELD_S", 60.0)
    now = [1000.0]
    sink = AlarmSink(workers=2, monotonic=lambda: now[0])
    engine = _RecordingEngine()
    engine.panic_gate = asyncio.Event()  # never set: the panic stays stuck
    sink.start(engine)  # type: ignore[arg-type]
    try:
        await sink.put(_event("panic", "9", Panic()))
        await engine.panic_started.wait()
        now[0] += 61.0  # the panic has been in flight longer than the yield window
        for n in range(20):
            await sink.put(_event(f"motion-{n}", str(n), Motion()))
        # With a 60 s yield per event this would take 20 minutes; it takes no waiting.
        await eventually(lambda: len(engine.handled) == 20, timeout=30)
        assert "panic" not in engine.handled
    finally:
        engine.panic_gate.set()
        await sink.stop()


async def test_stopping_while_lanes_yield_to_urgent_work_always_ends() -> None:
    """The hub's stop sets the 'calm' event (urgent tasks end) while it cancels the lanes
    waiting on it; with 3.11's wait_for a lane could swallow its cancellation and the stop
    waited for ever (seen in CI). Many rounds, each bounded."""
    for _ in range(30):
        sink = AlarmSink(workers=2)
        engine = _RecordingEngine()
        engine.panic_gate = asyncio.Event()
        sink.start(engine)  # type: ignore[arg-type]
        await sink.put(_event("panic", "9", Panic()))
        await engine.panic_started.wait()
        for n in range(4):
            await sink.put(_event(f"motion-{n}", str(n), Motion()))
        for _ in range(5):
            await asyncio.sleep(0)  # the lanes now wait in their yield
        engine.panic_gate.set()
        async with asyncio.timeout(10):
            await sink.stop()


async def test_a_worker_that_lost_its_cancellation_is_cancelled_again() -> None:
    """A library call can swallow the cancellation (3.11's wait_for racing a result): the
    lane then waits for its next event for ever unless stop() cancels it again."""
    busy = asyncio.Event()

    class Swallowing(_RecordingEngine):
        async def handle_event(self, event: HomeEvent) -> list[Any]:
            busy.set()
            # Lost, as a driver's wait_for can lose it.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
            return []

    sink = AlarmSink(workers=1)
    sink.start(Swallowing())  # type: ignore[arg-type]
    await sink.put(_event("motion", "1", Motion()))
    await busy.wait()
    async with asyncio.timeout(30):
        await sink.stop()
    assert sink._tasks == []
