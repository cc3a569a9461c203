"""Ingestion hands stored events to the sinks without letting one class wait on the other:
a sink stuck on routine work never holds back another home's panic (docs/adr/0035)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.db import make_engine, make_sessionmaker
from hub.ingest.events import IngestedEvent
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.registry import DeviceRegistry
from hub.settings import HubSettings
from hub.timeseries import SqliteTimeSeries
from protocol import (
    ALARM_EVENT_TYPES,
    Channel,
    Motion,
    Panic,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from protocol.ratelimit import RateLimit
from tests.hub.ingest.helpers import RecordingTransport, eventually, seed_home

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


class _StuckRoutineSink:
    """Takes urgent events at once; routine ones wait for ``gate`` (one home's work stuck)."""

    def __init__(self) -> None:
        self.urgent: list[IngestedEvent] = []
        self.routine: list[IngestedEvent] = []
        self.gate = asyncio.Event()

    async def handle(self, event: IngestedEvent) -> None:
        if event.type in ALARM_EVENT_TYPES:
            self.urgent.append(event)
            return
        await self.gate.wait()
        self.routine.append(event)


UNLIMITED = RateLimit(per_s=1e9, burst=10**9)


@dataclass
class _Rig:
    ingester: Ingester
    sink: _StuckRoutineSink
    transport: RecordingTransport


@pytest.fixture
async def rig(hub_settings: HubSettings, tmp_path: Path) -> AsyncIterator[_Rig]:
    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    await seed_home(sessions, {"flood-pir": "motion"})
    await seed_home(sessions, {"calm-pendant": "pendant"}, address="Carrer Tranquil 2")
    store = SqliteTimeSeries(tmp_path / "ts.sqlite")
    await store.start()
    sink = _StuckRoutineSink()
    ingester = Ingester(
        registry=DeviceRegistry(sessions),
        sessionmaker=sessions,
        timeseries=store,
        sinks=[sink],
        clock=lambda: AT,
        # Small bounds: the routine queue fills after a few events, the backlog after 40.
        # No device rate limit: the flood must reach the sinks (what this test is about);
        # the limit has tests of its own (test_flooding.py).
        config=IngestConfig(
            sink_queue_size=5, batch_size=5, max_pending_events=40, flood_events=UNLIMITED
        ),
    )
    transport = RecordingTransport()
    await ingester.start(transport)
    try:
        yield _Rig(ingester, sink, transport)
    finally:
        sink.gate.set()
        await ingester.stop()
        await store.close()
        await engine.dispose()


def _send(ingester: Ingester, device: str, body: Motion | Panic, seq: int, mid: int) -> str:
    message_id = new_message_id()
    payload = encode(envelope(body, id=message_id, ts=AT, seq=seq))
    ingester.handle(device_topic(device, Channel.EVENT), payload, 1, mid)
    return message_id


async def test_a_stuck_routine_sink_never_holds_another_homes_panic(rig: _Rig) -> None:
    flood = [_send(rig.ingester, "flood-pir", Motion(), n, n + 1) for n in range(30)]
    await eventually(lambda: rig.ingester.snapshot()["events_stored"] == 30, timeout=30)
    panic = _send(rig.ingester, "calm-pendant", Panic(), 0, 1000)
    await eventually(lambda: [e.message_id for e in rig.sink.urgent] == [panic], timeout=30)
    assert 1000 in rig.transport.acked  # stored and acknowledged too
    assert rig.ingester.routine_backlog > 0  # the flood waits, in order, for its sink
    rig.sink.gate.set()
    await eventually(lambda: len(rig.sink.routine) == 30, timeout=30)
    assert [e.message_id for e in rig.sink.routine] == flood
    assert rig.ingester.routine_backlog == 0


async def test_a_routine_backlog_past_its_bound_pauses_reading(rig: _Rig) -> None:
    """Memory stays bounded: past max_pending_events the broker holds the rest; once the
    sink moves again reading resumes and nothing is lost."""
    # In small steps, so that the writer's own buffer never reaches the bound: what
    # pauses reading is the backlog of stored events waiting for the stuck sink.
    for step in range(6):
        for n in range(step * 10, step * 10 + 10):
            _send(rig.ingester, "flood-pir", Motion(), n, n + 1)
        await eventually(
            lambda stored=step * 10 + 10: rig.ingester.snapshot()["events_stored"] == stored,
            timeout=30,
        )
    assert rig.ingester.routine_backlog >= 40
    assert rig.transport.paused
    rig.sink.gate.set()
    await eventually(lambda: len(rig.sink.routine) == 60, timeout=30)
    assert not rig.transport.paused
