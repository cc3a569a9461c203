"""An event the database refuses never holds the events behind it (issue 19).

A batch insert fails whole when one row is refused; retried as it was, it failed for ever
and every later event (another home's panic included) waited behind it, unacknowledged. Now
the refused event is isolated, kept in ``ingest_dead_letters`` with the reason, counted,
acknowledged, and an alarm-capable one still reaches the alarm engine. A real database
(SQLite and PostgreSQL) refuses the row through a trigger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.core import Metric
from sqlalchemy import exc, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import make_engine, make_sessionmaker
from hub.db.models import DeadLetterEvent, StoredEvent
from hub.ingest.app import INGESTER
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.quarantine import is_refusal, isolate
from hub.ingest.registry import DeviceRegistry
from hub.metrics import _ingest_families
from hub.settings import HubSettings
from hub.timeseries import SqliteTimeSeries
from protocol import (
    Channel,
    CheckIn,
    EventBody,
    Panic,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from tests.hub.ingest.helpers import RecordingSink, RecordingTransport, eventually, seed_home

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
POISON_SEQ = 13  # the trigger refuses any event with this sequence number


async def _refuse_one_row(engine: AsyncEngine) -> None:
    """The database itself refuses the poison row (as a constraint would)."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN"
                    f" IF NEW.seq = {POISON_SEQ} THEN RAISE EXCEPTION 'refused by the test'"
                    " USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END"
                    " $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON events"
                    " FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON events"
                    f" WHEN NEW.seq = {POISON_SEQ}"
                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


class _Rig:
    def __init__(
        self, ingester: Ingester, transport: RecordingTransport, sink: RecordingSink
    ) -> None:
        self.ingester = ingester
        self.transport = transport
        self.sink = sink
        self.mid = 0

    def send(self, device: str, body: EventBody, seq: int) -> int:
        self.mid += 1
        payload = encode(envelope(body, id=new_message_id(), ts=AT, seq=seq))
        self.ingester.handle(device_topic(device, Channel.EVENT), payload, 1, self.mid)
        return self.mid


@pytest.fixture
async def rig(hub_settings: HubSettings, tmp_path: Path) -> AsyncIterator[_Rig]:
    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    await seed_home(sessions, {"home-a": "pendant", "home-b": "pendant", "home-c": "pendant"})
    await _refuse_one_row(engine)
    store = SqliteTimeSeries(tmp_path / "ts.sqlite")
    await store.start()
    sink = RecordingSink()
    transport = RecordingTransport()
    ingester = Ingester(
        registry=DeviceRegistry(sessions),
        sessionmaker=sessions,
        timeseries=store,
        sinks=[sink],
        clock=lambda: AT,
        # Long enough for every routine event of a test to share one batch.
        config=IngestConfig(event_flush_interval_s=0.2),
    )
    await ingester.start(transport)
    try:
        yield _Rig(ingester, transport, sink)
    finally:
        await ingester.stop()
        await store.close()
        await engine.dispose()


async def _stored(rig: _Rig) -> list[tuple[str, int]]:
    async with rig.ingester.sessionmaker() as session:
        rows = await session.execute(select(StoredEvent.device_id, StoredEvent.seq))
        return sorted((d, s) for d, s in rows)


async def _dead_letters(rig: _Rig) -> list[tuple[str, str, str]]:
    async with rig.ingester.sessionmaker() as session:
        rows = await session.execute(
            select(DeadLetterEvent.device_id, DeadLetterEvent.type, DeadLetterEvent.reason)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("kind", ["urgent", "routine"])
async def test_a_refused_event_is_set_aside_and_the_rest_goes_through(rig: _Rig, kind: str) -> None:
    body: EventBody = Panic(source="pendant") if kind == "urgent" else CheckIn()
    mids = [
        rig.send("home-a", body, 12),
        rig.send("home-b", body, POISON_SEQ),  # one batch: refused with the others
        rig.send("home-c", body, 14),
    ]
    await eventually(lambda: sorted(rig.transport.acked) == mids, timeout=30)
    assert await _stored(rig) == [("home-a", 12), ("home-c", 14)]
    [(device, event_type, reason)] = await _dead_letters(rig)
    assert (device, event_type) == ("home-b", body.__struct_config__.tag)
    assert "refused by the test" in reason
    stats = rig.ingester.snapshot()
    assert stats["events_quarantined"] == 1
    assert stats["pending_events"] == 0
    assert stats["write_errors"] >= 1
    handed = {e.device_id: e.stored_id for e in rig.sink.events}
    if kind == "urgent":
        # Never lose a panic: the refused one still reaches the alarm engine (no row id).
        await eventually(lambda: len(rig.sink.events) == 3, timeout=30)
        handed = {e.device_id: e.stored_id for e in rig.sink.events}
        assert handed["home-b"] is None
    else:
        await eventually(lambda: len(rig.sink.events) == 2, timeout=30)
        handed = {e.device_id: e.stored_id for e in rig.sink.events}
        assert "home-b" not in handed
    assert handed["home-a"] is not None
    assert handed["home-c"] is not None
    # Later events are not held either, and the dead letter is counted on /metrics.
    later = rig.send("home-a", body, 15)
    await eventually(lambda: later in rig.transport.acked, timeout=30)
    assert ("home-a", 15) in await _stored(rig)
    app = web.Application()
    app[INGESTER] = rig.ingester
    families: list[Metric] = _ingest_families(app)
    [quarantined] = [f for f in families if f.name == "teleassist_ingest_events_quarantined"]
    assert [s.value for s in quarantined.samples] == [1]


async def test_isolation_finds_the_refused_items_in_few_writes() -> None:
    refused = {17, 60, 61}
    writes: list[int] = []

    async def write(part: Sequence[int]) -> dict[tuple[str, str], int]:
        writes.append(len(part))
        if refused & set(part):
            raise exc.IntegrityError("INSERT", {}, ValueError("refused"))
        return {("d", str(i)): i for i in part}

    result = await isolate(list(range(100)), write)
    assert sorted(i for i, _ in result.refused) == sorted(refused)
    assert len(result.stored) == 97
    assert result.remaining == []
    assert len(writes) <= 2 * len(refused) * 7 + 1  # about 2 k log2 n, not n


async def test_isolation_stops_when_the_database_goes_away() -> None:
    async def write(part: Sequence[int]) -> dict[tuple[str, str], int]:
        if 3 in part:
            raise exc.IntegrityError("INSERT", {}, ValueError("refused"))
        if 6 in part:
            raise exc.OperationalError("INSERT", {}, ConnectionError("gone"))
        return {("d", str(i)): i for i in part}

    result = await isolate(list(range(8)), write)
    assert [i for i, _ in result.refused] == [3]
    assert sorted(v for v in result.stored.values()) == [0, 1, 2]
    assert result.remaining == [4, 5, 6, 7]  # the part that met it and the rest, in order


def test_what_is_a_refusal() -> None:
    assert is_refusal(exc.IntegrityError("x", {}, ValueError()))
    assert is_refusal(exc.DataError("x", {}, ValueError()))
    assert is_refusal(exc.StatementError("cannot encode", "x", {}, TypeError()))
    assert not is_refusal(exc.OperationalError("x", {}, ValueError("database is locked")))
    assert not is_refusal(exc.InterfaceError("x", {}, ConnectionError()))
    assert not is_refusal(exc.ProgrammingError("x", {}, ValueError("no such table")))
    assert not is_refusal(ConnectionRefusedError())
    assert not is_refusal(TimeoutError())
