"""The embedded SQLite time-series adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.timeseries import HOUR, MINUTE, Point, SqliteTimeSeries

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTimeSeries]:
    ts = SqliteTimeSeries(tmp_path / "ts.sqlite", raw_retention=timedelta(days=2))
    await ts.start()
    yield ts
    await ts.close()


def _points(n: int, step: timedelta, start: datetime = T0) -> list[Point]:
    return [Point("d1", "temperature", start + i * step, float(i), 7, "Cel") for i in range(n)]


async def test_raw_and_bucketed_queries(store: SqliteTimeSeries) -> None:
    await store.write(_points(180, timedelta(seconds=20)))  # one hour, 3 points a minute
    raw = await store.query("d1", "temperature", T0, T0 + timedelta(minutes=1))
    assert [s.value for s in raw] == [0.0, 1.0, 2.0]
    assert raw[0].ts == T0
    minutes = await store.query("d1", "temperature", T0, T0 + HOUR, bucket=MINUTE)
    assert len(minutes) == 60
    assert (minutes[1].ts, minutes[1].value, minutes[1].min, minutes[1].max, minutes[1].count) == (
        T0 + MINUTE,
        4.0,
        3.0,
        5.0,
        3,
    )
    hours = await store.query("d1", "temperature", T0, T0 + HOUR, bucket=HOUR)
    assert len(hours) == 1
    assert hours[0].count == 180
    assert hours[0].value == pytest.approx(89.5)
    assert await store.query("d1", "humidity", T0, T0 + HOUR) == []


async def test_last_values(store: SqliteTimeSeries) -> None:
    await store.write(_points(5, MINUTE))
    # An older point written later does not replace the newest value.
    await store.write([Point("d1", "temperature", T0 - HOUR, 99.0, 7, "Cel")])
    await store.write([Point("d2", "power", T0, 3.5, 7, "W")])
    last = await store.last_values(["d1", "d2", "d3"])
    assert [(v.device_id, v.kind, v.value, v.unit) for v in last] == [
        ("d1", "temperature", 4.0, "Cel"),
        ("d2", "power", 3.5, "W"),
    ]
    assert last[0].ts == T0 + 4 * MINUTE


async def test_retention_rolls_up_hours(store: SqliteTimeSeries) -> None:
    await store.write(_points(6 * 60, MINUTE))  # six hours of minute data
    now = T0 + timedelta(days=2, hours=3)  # raw kept for two days: first 3 hours go
    rolled, deleted = await store.maintain(now)
    assert (rolled, deleted) == (3, 180)
    raw = await store.query("d1", "temperature", T0, T0 + 6 * HOUR)
    assert len(raw) == 180
    hours = await store.query("d1", "temperature", T0, T0 + 6 * HOUR, bucket=HOUR)
    assert [h.count for h in hours] == [60] * 6
    assert hours[0].value == pytest.approx(29.5)
    # Running it again changes nothing.
    assert await store.maintain(now) == (0, 0)


async def test_bad_bucket(store: SqliteTimeSeries) -> None:
    with pytest.raises(ValueError, match="positive"):
        await store.query("d1", "t", T0, T0 + HOUR, bucket=timedelta(0))
