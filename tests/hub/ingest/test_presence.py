"""Presence writes: one device's update that the database refuses never keeps the other
devices' presence unwritten (supervision would call them silent)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import make_engine, make_sessionmaker
from hub.db.models import Device
from hub.ingest import ingester as ingester_module
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.registry import DeviceRegistry
from hub.ingest.store import PresenceUpdate
from hub.settings import HubSettings
from hub.timeseries import SqliteTimeSeries
from protocol import Channel, Status, device_topic, encode, envelope, new_message_id
from tests.hub.ingest.helpers import RecordingTransport, eventually, seed_home

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
async def ingester(hub_settings: HubSettings, tmp_path: Path) -> AsyncIterator[Ingester]:
    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    await seed_home(sessions, {"good-1": "pendant", "good-2": "motion", "poison": "pendant"})
    store = SqliteTimeSeries(tmp_path / "ts.sqlite")
    await store.start()
    ingester = Ingester(
        registry=DeviceRegistry(sessions),
        sessionmaker=sessions,
        timeseries=store,
        clock=lambda: AT,
        config=IngestConfig(presence_interval_s=0.05),
    )
    await ingester.start(RecordingTransport())
    try:
        yield ingester
    finally:
        await ingester.stop()
        await store.close()
        await engine.dispose()


def _status(ingester: Ingester, device: str) -> None:
    body = Status(state="online", reason="heartbeat", firmware="2.1")
    payload = encode(envelope(body, id=new_message_id(), ts=AT, seq=0))
    ingester.handle(device_topic(device, Channel.STATUS), payload, 1, 1)


async def _state(ingester: Ingester, device: str) -> tuple[str, str | None]:
    async with ingester.sessionmaker() as session:
        row = await session.get(Device, device, populate_existing=True)
        assert row is not None
        return row.state, row.firmware


async def test_a_refused_update_does_not_hold_the_others(
    ingester: Ingester, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingester_module.write_presence

    async def refusing(session: AsyncSession, updates: Sequence[PresenceUpdate]) -> None:
        if any(u.device_id == "poison" for u in updates):
            raise ValueError("the database refuses this device's update")
        await real(session, updates)

    monkeypatch.setattr(ingester_module, "write_presence", refusing)
    for device in ("poison", "good-1", "good-2"):
        _status(ingester, device)

    async def written() -> bool:
        return [await _state(ingester, d) for d in ("good-1", "good-2")] == [("online", "2.1")] * 2

    await eventually(written, timeout=30)
    assert await _state(ingester, "poison") == ("unknown", None)
    assert "poison" not in ingester._presence  # dropped, not retried for ever


async def test_with_the_database_away_every_update_is_kept(
    ingester: Ingester, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def away(session: AsyncSession, updates: Sequence[PresenceUpdate]) -> None:
        calls.append(len(updates))
        raise ConnectionError("the database is away")

    monkeypatch.setattr(ingester_module, "write_presence", away)
    _status(ingester, "good-1")
    _status(ingester, "good-2")
    # Two rounds (the batch, then each update), and both updates are still held.
    await eventually(
        lambda: len(calls) >= 6 and set(ingester._presence) == {"good-1", "good-2"}, timeout=30
    )
    monkeypatch.undo()

    # The writer empties its map before it writes, so "nothing held" is also true while the
    # retried write is still under way: wait for the rows themselves (a flake under load).
    async def written() -> bool:
        return [await _state(ingester, d) for d in ("good-1", "good-2")] == [("online", "2.1")] * 2

    await eventually(written, timeout=30)
    assert not ingester._presence
