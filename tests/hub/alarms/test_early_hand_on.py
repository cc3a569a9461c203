"""Alarm-capable events reach the alarm engine while their row is being stored (ADR 0178).

Real ingestion, alarm sink and engine over a real database: the panic's alarm is raised while
its row's write is still held; the broker is acknowledged and the device told
``event_received`` only once the row is stored; a hub that dies in between still gives one
alarm (the broker redelivers; the engine's applied-id ledger skips what it committed), as does
a start-up replay followed by the device's re-send; and a home's later alarm event never
overtakes one of its events that could not be handed on early.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import exc, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import HomeEvent
from hub.alarms.backlog import replay_unprocessed
from hub.alarms.engine import AlarmEngine
from hub.alarms.live import AlarmLive
from hub.alarms.models import AlarmRow
from hub.alarms.sink import AlarmSink
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.db.writegate import WriteGate
from hub.ingest import ingester as ingester_module
from hub.ingest.events import EarlyEvent, IngestedEvent
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.registry import DeviceRegistry
from hub.timeseries import SqliteTimeSeries
from protocol import Channel, Panic, device_topic, encode, envelope, new_message_id
from tests.hub.ingest.helpers import RecordingTransport, eventually, seed_home

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ORIGINAL_INSERT = ingester_module.insert_events


@dataclass
class _Hub:
    """One life of a hub worker: its own ingester, sink and engine (nothing survives it but
    the database and the broker's copy of what it did not acknowledge)."""

    ingester: Ingester
    sink: AlarmSink
    transport: RecordingTransport
    confirmed: list[str] = field(default_factory=list)

    def deliver(self, device: str, message_id: str, mid: int) -> None:
        payload = encode(envelope(Panic(), id=message_id, ts=AT, seq=0))
        self.ingester.handle(device_topic(device, Channel.EVENT), payload, 1, mid)

    async def stop(self) -> None:
        await self.ingester.stop()
        await self.sink.stop()


@dataclass
class _World:
    sessions: async_sessionmaker[AsyncSession]
    gate: WriteGate
    timeseries: SqliteTimeSeries
    device: str
    home_id: str

    async def hub(self, *, early_wait_s: float = 30.0, start_sink: bool = True) -> _Hub:
        engine = AlarmEngine(self.sessions, ManualClock(AT), AlarmLive(), gate=self.gate)
        sink = AlarmSink(workers=1)
        ingester = Ingester(
            registry=DeviceRegistry(self.sessions),
            sessionmaker=self.sessions,
            timeseries=self.timeseries,
            sinks=[sink],
            clock=lambda: AT,
            config=IngestConfig(early_wait_s=early_wait_s),
            gate=self.gate,
        )
        hub = _Hub(ingester, sink, RecordingTransport())
        sink.on_applied = lambda event: hub.confirmed.append(event.message_id)
        if start_sink:
            sink.start(engine)
        await ingester.start(hub.transport)
        return hub

    async def alarms(self) -> list[AlarmRow]:
        async with self.sessions() as session:
            query = select(AlarmRow).where(AlarmRow.home_id == self.home_id)
            return list(await session.scalars(query))

    async def has_alarms(self, count: int) -> bool:
        return len(await self.alarms()) == count

    async def rows(self) -> int:
        async with self.sessions() as session:
            query = select(func.count()).where(StoredEvent.device_id == self.device)
            return int(await session.scalar(query) or 0)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[_World]:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    device = f"p{secrets.token_hex(4)}-pendant"
    home_id, _ = await seed_home(sessions, {device: "pendant"})
    timeseries = SqliteTimeSeries(tmp_path / "ts.sqlite")
    await timeseries.start()
    # As create_app makes it: one writer at a time on SQLite, everybody at once elsewhere.
    gate = WriteGate(exclusive=db.dialect.name == "sqlite")
    try:
        yield _World(sessions, gate, timeseries, device, str(home_id))
    finally:
        await timeseries.close()
        await db.dispose()


class _HeldRows:
    """Stands in for ``insert_events``: each row write waits for ``release`` (inside its
    transaction, holding the write gate), then fails if ``fail`` (the database went away)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail
        if fail:
            self.release.set()

    async def __call__(
        self, session: AsyncSession, events: Sequence[IngestedEvent]
    ) -> dict[tuple[str, str], int]:
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise exc.OperationalError("INSERT INTO events", {}, Exception("disk I/O error"))
        return await ORIGINAL_INSERT(session, events)


async def test_the_alarm_is_raised_while_its_row_is_held_and_confirmed_once_stored(
    world: _World, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _HeldRows()
    monkeypatch.setattr(ingester_module, "insert_events", held)
    hub = await world.hub()
    try:
        panic = new_message_id()
        hub.deliver(world.device, panic, 11)
        await eventually(lambda: held.entered.is_set(), timeout=30)
        # The row's transaction is open and not committed: the alarm is there already.
        await eventually(lambda: world.has_alarms(1), timeout=30)
        assert await world.rows() == 0
        # Not stored: the broker keeps it, the device is not told the hub has it.
        assert hub.transport.acked == []
        assert hub.confirmed == []
        held.release.set()
        await eventually(lambda: hub.confirmed == [panic], timeout=30)
        assert hub.transport.acked == [11]
        assert await world.rows() == 1
    finally:
        held.release.set()
        await hub.stop()
    (alarm,) = await world.alarms()
    assert alarm.rule == "panic"
    assert alarm.data["event_ids"] == [panic]


async def test_an_early_event_the_engine_fails_on_is_applied_once_its_row_is_stored(
    world: _World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database away for the engine (and for the row): the early attempt fails; once the
    row is stored the event is applied, with the usual retries (a degraded-mode test found
    the alarm missing until the next start-up otherwise)."""
    hub = await world.hub()
    engine = hub.sink.engine
    assert engine is not None
    original = engine.handle_event
    early_calls: list[bool] = []

    async def flaky(event: HomeEvent, *, written: Callable[[], None] | None = None) -> object:
        early_calls.append(written is not None)
        if len(early_calls) == 1:
            if written is not None:
                written()
            raise exc.OperationalError("SELECT", {}, Exception("connection refused"))
        return await original(event, written=written)

    monkeypatch.setattr(engine, "handle_event", flaky)
    try:
        panic = new_message_id()
        hub.deliver(world.device, panic, 5)
        await eventually(lambda: hub.confirmed == [panic], timeout=30)
        assert hub.transport.acked == [5]
    finally:
        await hub.stop()
    assert early_calls == [True, False]  # early, then again as a stored event
    (alarm,) = await world.alarms()
    assert alarm.data["event_ids"] == [panic]


async def test_a_hub_dying_between_hand_on_and_store_still_gives_one_alarm(
    world: _World, monkeypatch: pytest.MonkeyPatch
) -> None:
    panic = new_message_id()
    monkeypatch.setattr(ingester_module, "insert_events", _HeldRows(fail=True))
    first = await world.hub(early_wait_s=0.05)
    try:
        first.deliver(world.device, panic, 7)
        # Raised from the early hand-on; its row cannot be written.
        await eventually(lambda: world.has_alarms(1), timeout=30)
    finally:
        await first.stop()  # the row never stored: no acknowledgement, no confirmation
    assert (first.transport.acked, first.confirmed) == ([], [])
    assert await world.rows() == 0
    monkeypatch.setattr(ingester_module, "insert_events", ORIGINAL_INSERT)
    second = await world.hub()
    try:
        second.deliver(world.device, panic, 7)  # the broker redelivers what was not acked
        await eventually(lambda: second.confirmed == [panic], timeout=30)
        assert second.transport.acked == [7]
    finally:
        await second.stop()
    assert await world.rows() == 1
    (alarm,) = await world.alarms()
    assert alarm.data["event_ids"] == [panic]


async def test_a_stored_panic_the_engine_missed_is_replayed_once_and_a_resend_confirmed(
    world: _World,
) -> None:
    panic = new_message_id()
    # The engine never runs in this life: the row is written after a short wait for it.
    first = await world.hub(early_wait_s=0.05, start_sink=False)
    try:
        first.deliver(world.device, panic, 3)
        await eventually(lambda: first.transport.acked == [3], timeout=30)
    finally:
        await first.stop()
    assert first.confirmed == []
    assert await world.alarms() == []
    second = await world.hub()
    try:
        engine = second.sink.engine
        assert engine is not None
        assert await replay_unprocessed(engine, world.sessions, AT) == 1
        assert len(await world.alarms()) == 1
        # The device never heard event_received: it sends the panic again.
        second.deliver(world.device, panic, 4)
        await eventually(lambda: second.confirmed == [panic], timeout=30)
        assert second.transport.acked == [4]
    finally:
        await second.stop()
    assert await world.rows() == 1
    (alarm,) = await world.alarms()
    assert alarm.data["event_ids"] == [panic]


class _SlowEarlySink:
    """An early sink whose first early hand-on waits for ``go``; records what it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def handle(self, event: IngestedEvent) -> None:
        self.seen.append(("stored", event.message_id))

    async def handle_early(self, early: EarlyEvent) -> None:
        self.entered.set()
        await self.go.wait()
        self.seen.append(("early", early.event.message_id))
        early.mark_written()


async def test_a_homes_alarm_event_never_overtakes_one_that_was_not_handed_on_early(
    world: _World,
) -> None:
    sink = _SlowEarlySink()
    ingester = Ingester(
        registry=DeviceRegistry(world.sessions),
        sessionmaker=world.sessions,
        timeseries=world.timeseries,
        sinks=[sink],
        clock=lambda: AT,
        config=IngestConfig(sink_queue_size=1, early_wait_s=30.0),
        gate=world.gate,
    )
    transport = RecordingTransport()
    await ingester.start(transport)
    ids = [new_message_id() for _ in range(3)]
    try:
        topic = device_topic(world.device, Channel.EVENT)

        def send(n: int) -> None:
            payload = encode(envelope(Panic(), id=ids[n], ts=AT, seq=n))
            ingester.handle(topic, payload, 1, n + 1)

        send(0)  # handed on early: its sink takes it and waits
        send(1)  # no room in the queue: handed on after its store
        await sink.entered.wait()
        # On SQLite the queue has room again (the first panic's row waits for its alarm); the
        # home's second panic is not handed on yet, so the third must not go early either.
        send(2)
        sink.go.set()
        await eventually(lambda: len(sink.seen) == 3 and len(transport.acked) == 3, timeout=30)
    finally:
        sink.go.set()
        await ingester.stop()
    assert sink.seen == [("early", ids[0]), ("stored", ids[1]), ("stored", ids[2])]
