"""Every time-series adapter answers the port's questions the same way."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from hub.timeseries import HOUR, MINUTE, Point, TimeSeriesStore
from tests.hub.timeseries.conftest import settle

# A fixed hour in the past (VictoriaMetrics refuses samples more than two days ahead of its
# own clock); the stores' clock (tests/hub/timeseries/conftest.py) reads two days later.
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


async def test_write_query_buckets_last(any_store: TimeSeriesStore) -> None:
    dev = f"d{secrets.token_hex(4)}"  # the VictoriaMetrics instance is shared by the session
    points = [
        Point(dev, "temperature", T0 + i * timedelta(seconds=20), float(i), 3, "Cel")
        for i in range(180)
    ]
    points.append(Point(dev, "power", T0, 12.5, 3, "W"))
    await any_store.write(points)
    await settle(any_store)

    raw = await any_store.query(dev, "temperature", T0, T0 + MINUTE)
    assert [(s.ts, s.value) for s in raw] == [
        (T0, 0.0),
        (T0 + timedelta(seconds=20), 1.0),
        (T0 + timedelta(seconds=40), 2.0),
    ]
    minutes = await any_store.query(dev, "temperature", T0, T0 + HOUR, bucket=MINUTE)
    assert len(minutes) == 60
    second = minutes[1]
    assert (second.ts, second.value, second.min, second.max, second.count) == (
        T0 + MINUTE,
        4.0,
        3.0,
        5.0,
        3,
    )
    hours = await any_store.query(dev, "temperature", T0, T0 + HOUR, bucket=HOUR)
    assert [(h.count, h.min, h.max) for h in hours] == [(180, 0.0, 179.0)]
    assert hours[0].value == pytest.approx(89.5)

    last = await any_store.last_values([dev, "nobody"])
    assert [(v.device_id, v.kind, v.value, v.unit, v.home_id) for v in last] == [
        (dev, "power", 12.5, "W", 3),
        (dev, "temperature", 179.0, "Cel", 3),
    ]
    assert last[1].ts == T0 + 179 * timedelta(seconds=20)


@pytest.mark.parametrize(
    "kind",
    [
        'temperature" or device=~".+',
        'temperature",device=~".+',
        'temperature"} or tel_value{kind="temperature',
        "temperature\\",
        'x" or kind="temperature',
    ],
)
async def test_a_kind_cannot_reach_another_devices_series(
    any_store: TimeSeriesStore, kind: str
) -> None:
    """``kind`` comes from a request's query string: whatever it says, a query for one
    device returns only that device's series (issue 19: the VictoriaMetrics adapter pasted
    it into the series selector)."""
    tag = secrets.token_hex(4)
    mine, other = f"d{tag}.gw-1:a", f"d{tag}xgw-1:b"  # '.' must not match the 'x'

    await any_store.write(
        [
            Point(mine, "temperature", T0, 20.0, 3, "Cel"),
            Point(other, "temperature", T0, 99.0, 4, "Cel"),
        ]
    )
    await settle(any_store)
    assert [s.value for s in await any_store.query(mine, "temperature", T0, T0 + HOUR)] == [20.0]
    assert await any_store.query(mine, kind, T0, T0 + HOUR) == []
    assert await any_store.query(mine, kind, T0, T0 + HOUR, bucket=HOUR) == []
    # Device ids are escaped too: a '.' matches only a '.', never another device.
    found = await any_store.last_values([mine, f"d{tag}.gw-1:b"])
    assert [(v.device_id, v.value) for v in found] == [(mine, 20.0)]
