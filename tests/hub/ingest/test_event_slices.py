"""Routine events are written in slices, each its own transaction at the write gate: a
panic that comes while a burst's backlog waits is stored before the rest of the backlog
(docs/adr/0173). Order only, no timing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.db.writegate import WriteGate
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.registry import DeviceRegistry
from hub.settings import HubSettings
from hub.timeseries import SqliteTimeSeries
from protocol import Channel, Motion, Panic, device_topic, encode, envelope, new_message_id
from tests.hub.ingest.helpers import RecordingTransport, eventually, seed_home

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


class _CountingGate(WriteGate):
    """The exclusive gate (as on SQLite), counting routine event transactions."""

    def __init__(self) -> None:
        super().__init__(exclusive=True)
        self.event_slices = 0

    @contextlib.asynccontextmanager
    async def routine(self, what: str = "routine") -> AsyncIterator[None]:
        async with super().routine(what):
            if what == "ingest-events":
                self.event_slices += 1
            yield


def _send(ingester: Ingester, device: str, body: Motion | Panic, seq: int) -> str:
    mid = new_message_id()
    payload = encode(envelope(body, id=mid, ts=AT, seq=seq))
    ingester.handle(device_topic(device, Channel.EVENT), payload, 1, seq + 1)
    return mid


async def test_a_panic_is_stored_before_a_waiting_backlog_written_in_slices(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    await seed_home(sessions, {"pir-1": "motion", "pend-1": "pendant"})
    store = SqliteTimeSeries(tmp_path / "ts.sqlite")
    await store.start()
    gate = _CountingGate()
    ingester = Ingester(
        registry=DeviceRegistry(sessions),
        sessionmaker=sessions,
        timeseries=store,
        clock=lambda: AT,
        config=IngestConfig(event_slice=2, event_flush_interval_s=0.0),
        gate=gate,
    )
    await ingester.start(RecordingTransport())
    try:
        async with gate.routine("a batch in progress"):
            motions = [_send(ingester, "pir-1", Motion(), seq) for seq in range(5)]
            await eventually(lambda: gate.routine_waiting == 1)  # the first slice waits
            panic = _send(ingester, "pend-1", Panic(), 0)
            await eventually(lambda: gate.urgent_waiting == 1)

        async def stored() -> list[str]:
            async with sessions() as session:
                rows = await session.scalars(select(StoredEvent).order_by(StoredEvent.id))
                return [row.message_id for row in rows]

        async def all_stored() -> bool:
            return len(await stored()) == 6

        await eventually(all_stored)
        assert await stored() == [panic, *motions]
        assert gate.event_slices == 3  # 2 + 2 + 1
    finally:
        await ingester.stop()
        await store.close()
        await engine.dispose()
