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

A writer that names no class still waits: :func:`gate_every_write` makes the first write
statement of any transaction on the hub's SQLite engine that runs outside a hold take the gate
as a routine writer, until its connection goes back to the pool (after the commit or the
rollback): the family app, the API, housekeeping (docs/adr/0173). A task already holding the
gate is not held again (its nested writes would otherwise wait for itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_only, in_greenlet

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
        self._routine_waiting = 0
        # The task holding the gate: its own writes inside the hold are not gated again.
        self._holder: asyncio.Task[Any] | None = None

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        """Hold the gate for an alarm's write (before every other writer still waiting)."""
        if not self.exclusive or self.held_here():
            yield
            return
        await self._take_urgent()
        try:
            yield
        finally:
            self._give_back()

    @contextlib.asynccontextmanager
    async def holding(self, what: str = "holding") -> AsyncIterator[None]:
        """Hold the gate for a write made while holding homes' locks (the alarm engine's
        routine work): after alarms' writes, before routine batches — a panic of one of those
        homes may be waiting for the lock (docs/adr/0115)."""
        if not self.exclusive or self.held_here():
            yield
            return
        await self._take_holding()
        began = time.perf_counter()
        try:
            yield
        finally:
            self._give_back()
            latencyprobe.held(what, time.perf_counter() - began)

    @contextlib.asynccontextmanager
    async def routine(self, what: str = "routine") -> AsyncIterator[None]:
        """Hold the gate for a routine write, once no other writer waits (``what`` names
        the writer in the latency probe's record of long holds)."""
        if not self.exclusive or self.held_here():
            yield
            return
        await self._take_routine()
        began = time.perf_counter()
        try:
            yield
        finally:
            self._give_back()
            latencyprobe.held(what, time.perf_counter() - began)

    async def _take_urgent(self) -> None:
        self._urgent_waiting += 1
        self._no_urgent.clear()
        try:
            await self._lock.acquire()
        finally:
            # Also when cancelled while waiting: the count must come down.
            self._urgent_waiting -= 1
            if not self._urgent_waiting:
                self._no_urgent.set()
        self._holder = asyncio.current_task()

    async def _take_holding(self) -> None:
        self._holding_waiting += 1
        self._no_holding.clear()
        try:
            await self._acquire_behind(lambda: self._urgent_waiting > 0, self._no_urgent)
        finally:
            self._holding_waiting -= 1
            if not self._holding_waiting:
                self._no_holding.set()
        self._holder = asyncio.current_task()

    async def take_routine(self) -> None:
        """Wait for the gate as a routine writer and hold it (give it back with
        :meth:`give_back`): how :func:`gate_every_write` takes it; code names its class
        with the context managers instead."""
        await self._take_routine()

    async def _take_routine(self) -> None:
        self._routine_waiting += 1
        try:
            while True:
                await self._no_urgent.wait()
                await self._no_holding.wait()
                await self._lock.acquire()
                if not self._urgent_waiting and not self._holding_waiting:
                    break
                # A writer of a higher class queued up while this one waited: it goes first.
                self._lock.release()
        finally:
            self._routine_waiting -= 1
        self._holder = asyncio.current_task()

    def give_back(self, what: str, began: float) -> None:
        """Release a hold taken with :meth:`take_routine` at ``began`` (``perf_counter``)."""
        self._give_back()
        latencyprobe.held(what, time.perf_counter() - began)

    def _give_back(self) -> None:
        self._holder = None
        self._lock.release()

    async def _acquire_behind(
        self, higher_waiting: Callable[[], bool], none_higher: asyncio.Event
    ) -> None:
        while True:
            await none_higher.wait()
            await self._lock.acquire()
            if not higher_waiting():
                return
            self._lock.release()

    def held_here(self) -> bool:
        """True when the running task holds the gate (its writes are covered already)."""
        holder = self._holder
        if holder is None:
            return False
        try:
            return holder is asyncio.current_task()
        except RuntimeError:  # no running loop
            return False

    @property
    def urgent_waiting(self) -> int:
        """Urgent writers waiting for the gate."""
        return self._urgent_waiting

    @property
    def holding_waiting(self) -> int:
        """Writers holding homes' locks waiting for the gate."""
        return self._holding_waiting

    @property
    def routine_waiting(self) -> int:
        """Routine writers waiting for the gate (those of :func:`gate_every_write` included)."""
        return self._routine_waiting


# Where a connection's automatic hold is kept: the pool record's info (what, when taken).
_HOLD = "teleassist_write_gate"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def writes(statement: str) -> bool:
    """True for a statement that takes SQLite's write lock (INSERT/UPDATE/DELETE/REPLACE)."""
    return statement.lstrip()[:7].upper().startswith(_WRITES)


def gate_every_write(engine: AsyncEngine, gate: WriteGate) -> None:
    """Make every write transaction on ``engine`` that no hold covers a routine writer.

    The first write statement of a connection's transaction, made by a task that does not
    hold the gate, waits for the gate as a routine writer (inside SQLAlchemy's greenlet, so
    the event loop keeps running); the hold ends when the connection goes back to the pool,
    after its commit or rollback. Nothing is installed on a gate that is not exclusive
    (PostgreSQL)."""
    if not gate.exclusive:
        return

    def before_write(
        conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        if not writes(statement):
            return
        info = conn.info
        if _HOLD in info or gate.held_here() or not in_greenlet():
            return
        await_only(gate.take_routine())
        info[_HOLD] = (" ".join(statement.split(None, 3)[:3]), time.perf_counter())

    def give_back(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        hold = record.info.pop(_HOLD, None) if record is not None else None
        if hold is not None:
            gate.give_back(*hold)

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before_write)
    event.listen(sync, "checkin", give_back)
    event.listen(sync, "invalidate", give_back)
