"""Who writes next on a single-writer database: alarms first.

SQLite lets one connection write at a time; the others wait inside SQLite, whose busy
handler sleeps in steps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms and re-tries. A
panic's insert that arrives while a routine transaction (ten thousand devices' presence, a
rule-state flush) holds the lock therefore waits for that transaction *and* for the next
step of the sleep ladder: the 30–50 ms tail of ``bench alarm-latency`` (docs/adr/0115).

The hub's own writers take this gate around each write transaction instead: an urgent one
(an alarm-capable event; the alarm engine's writes, which hold homes' locks that their panics
may be waiting for, and always take the gate after those locks) goes before every routine one
that has not started yet, and routine writers write in short slices, so an urgent write waits
at most for one slice and never sleeps in SQLite. On PostgreSQL (row locks, many writers) the gate
lets everybody through at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from hub import latencyprobe


class WriteGate:
    """One writer at a time when ``exclusive``: alarms first, then the alarm engine's other
    writes (they hold homes' locks), then routine batches."""

    def __init__(self, *, exclusive: bool) -> None:
        self.exclusive = exclusive
        self._lock = asyncio.Lock()
        self._urgent_waiting = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()
        self._holding_waiting = 0
        self._no_holding = asyncio.Event()
        self._no_holding.set()

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        """Hold the gate for an alarm's write (before every other writer still waiting)."""
        if not self.exclusive:
            yield
            return
        self._urgent_waiting += 1
        self._no_urgent.clear()
        try:
            await self._lock.acquire()
        finally:
            # Also when cancelled while waiting: the count must come down.
            self._urgent_waiting -= 1
            if not self._urgent_waiting:
                self._no_urgent.set()
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.asynccontextmanager
    async def holding(self, what: str = "holding") -> AsyncIterator[None]:
        """Hold the gate for a write made while holding homes' locks (the alarm engine's
        routine work): after alarms' writes, before routine batches — a panic of one of those
        homes may be waiting for the lock (docs/adr/0115)."""
        if not self.exclusive:
            yield
            return
        self._holding_waiting += 1
        self._no_holding.clear()
        try:
            await self._acquire_behind(lambda: self._urgent_waiting > 0, self._no_urgent)
        finally:
            self._holding_waiting -= 1
            if not self._holding_waiting:
                self._no_holding.set()
        began = time.perf_counter()
        try:
            yield
        finally:
            self._lock.release()
            latencyprobe.held(what, time.perf_counter() - began)

    @contextlib.asynccontextmanager
    async def routine(self, what: str = "routine") -> AsyncIterator[None]:
        """Hold the gate for a routine write, once no other writer waits (``what`` names
        the writer in the latency probe's record of long holds)."""
        if not self.exclusive:
            yield
            return
        while True:
            await self._no_urgent.wait()
            await self._no_holding.wait()
            await self._lock.acquire()
            if not self._urgent_waiting and not self._holding_waiting:
                break
            # A writer of a higher class queued up while this one waited: it goes first.
            self._lock.release()
        began = time.perf_counter()
        try:
            yield
        finally:
            self._lock.release()
            latencyprobe.held(what, time.perf_counter() - began)

    async def _acquire_behind(
        self, higher_waiting: Callable[[], bool], none_higher: asyncio.Event
    ) -> None:
        while True:
            await none_higher.wait()
            await self._lock.acquire()
            if not higher_waiting():
                return
            self._lock.release()

    @property
    def urgent_waiting(self) -> int:
        """Urgent writers waiting for the gate."""
        return self._urgent_waiting
