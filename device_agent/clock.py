"""Time as the agent sees it: injected, so tests and accelerated simulations never wait.

The agent only ever calls :meth:`Clock.now` and :meth:`Clock.sleep`. Network back-off
and MQTT keep-alive stay on real time (they talk to a real broker).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the agent reads the time and waits."""

    def now(self) -> datetime:
        """The current tz-aware UTC time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Wall-clock UTC now."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(max(0.0, seconds))


class AcceleratedClock:
    """Simulated time running ``speed`` times faster than real time from ``start``.

    With ``cap_at_wall_clock`` it never runs ahead of the real clock: once it has caught
    up it moves at real speed (a hub refuses timestamps from its future).
    """

    def __init__(self, start: datetime, speed: float, *, cap_at_wall_clock: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self.cap_at_wall_clock = cap_at_wall_clock
        self._loop_start: float | None = None

    def _elapsed(self) -> float:
        loop = asyncio.get_running_loop()
        if self._loop_start is None:
            self._loop_start = loop.time()
        return (loop.time() - self._loop_start) * self.speed

    def _caught_up(self, simulated: datetime) -> bool:
        return self.cap_at_wall_clock and simulated >= datetime.now(UTC)

    def now(self) -> datetime:
        """Simulated now."""
        simulated = self.start + timedelta(seconds=self._elapsed())
        return datetime.now(UTC) if self._caught_up(simulated) else simulated

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (``seconds / speed`` of real time)."""
        simulated = self.start + timedelta(seconds=self._elapsed())
        speed = 1.0 if self._caught_up(simulated) else self.speed
        await asyncio.sleep(max(0.0, seconds) / speed)


class ManualClock:
    """A clock that moves only when told to (tests): ``await clock.advance(30)``."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._waiters: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        """The time last set by :meth:`advance`."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until :meth:`advance` moves the clock ``seconds`` forward."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._waiters, (self._now + timedelta(seconds=seconds), next(self._counter), future)
        )
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper that is due, and let them run."""
        self._now += timedelta(seconds=seconds)
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
        # Give the woken tasks a few turns of the loop to act on the new time.
        for _ in range(5):
            await asyncio.sleep(0)

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._waiters if not f.done())
