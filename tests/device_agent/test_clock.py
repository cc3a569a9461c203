"""Injected clocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from device_agent.clock import AcceleratedClock, ManualClock
from tests.instants import machine_now


async def test_accelerated_clock_runs_fast_and_can_stop_at_the_wall_clock() -> None:
    start = machine_now() - timedelta(hours=1)
    free = AcceleratedClock(start, 36_000)
    capped = AcceleratedClock(start, 36_000, cap_at_wall_clock=True)
    free.now()
    capped.now()
    await asyncio.sleep(0.5)  # 5 simulated hours
    assert free.now() > machine_now() + timedelta(hours=2)
    assert capped.now() <= machine_now()
    assert capped.now() > machine_now() - timedelta(seconds=5)
    with pytest.raises(ValueError, match="timezone-aware"):
        AcceleratedClock(datetime(2026, 1, 1), 10)


async def test_manual_clock_wakes_sleepers_only_when_advanced() -> None:
    clock = ManualClock(datetime(2026, 1, 12, tzinfo=UTC))
    woke: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep(30)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0.05)
    await clock.advance(29)
    assert woke == []
    await clock.advance(1)
    await task
    assert woke == [datetime(2026, 1, 12, 0, 0, 30, tzinfo=UTC)]
