"""The write gate: one writer at a time on SQLite, urgent writers before routine ones that
have not started, nobody held on PostgreSQL (docs/adr/0115). Ordering only, no timing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import make_engine, make_sessionmaker
from hub.db.writegate import WriteGate, gate_every_write, writes


async def test_urgent_goes_before_waiting_routine_writers() -> None:
    gate = WriteGate(exclusive=True)
    order: list[str] = []
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.routine("holder"):
            holder_in.set()
            await release.wait()
            order.append("holder")

    async def writer(name: str, urgent: bool) -> None:
        async with gate.urgent() if urgent else gate.routine(name):
            order.append(name)

    first = asyncio.create_task(holder())
    await holder_in.wait()
    # Two routine writers queue first, then an urgent one: it still writes next.
    routine = [asyncio.create_task(writer(f"routine-{i}", False)) for i in range(2)]
    await asyncio.sleep(0)
    urgent = asyncio.create_task(writer("urgent", True))
    await asyncio.sleep(0)
    assert gate.urgent_waiting == 1
    release.set()
    await asyncio.gather(first, urgent, *routine)
    assert order == ["holder", "urgent", "routine-0", "routine-1"]
    assert gate.urgent_waiting == 0


async def test_one_writer_at_a_time() -> None:
    gate = WriteGate(exclusive=True)
    inside = 0
    most = 0

    async def writer(urgent: bool) -> None:
        nonlocal inside, most
        async with gate.urgent() if urgent else gate.routine():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(writer(i % 3 == 0) for i in range(12)))
    assert most == 1


async def test_cancelled_urgent_waiter_does_not_hold_routine_writers_back() -> None:
    gate = WriteGate(exclusive=True)
    release = asyncio.Event()
    holder_in = asyncio.Event()

    async def holder() -> None:
        async with gate.routine():
            holder_in.set()
            await release.wait()

    async def urgent() -> None:
        async with gate.urgent():
            pytest.fail("a cancelled waiter must not write")

    first = asyncio.create_task(holder())
    await holder_in.wait()
    waiting = asyncio.create_task(urgent())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.urgent_waiting == 0
    release.set()
    await first
    done = False
    async with gate.routine():
        done = True
    assert done


async def test_postgres_gate_lets_everybody_in_at_once() -> None:
    gate = WriteGate(exclusive=False)
    async with gate.routine(), gate.routine(), gate.urgent():
        assert gate.urgent_waiting == 0


async def test_engine_writes_go_between_alarms_and_routine_batches() -> None:
    """Three classes: an alarm's write, then a write holding homes' locks, then routine."""
    gate = WriteGate(exclusive=True)
    order: list[str] = []
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.routine("holder"):
            holder_in.set()
            await release.wait()

    async def routine() -> None:
        async with gate.routine():
            order.append("routine")

    async def holding() -> None:
        async with gate.holding():
            order.append("holding")

    async def urgent() -> None:
        async with gate.urgent():
            order.append("urgent")

    first = asyncio.create_task(holder())
    await holder_in.wait()
    tasks = [asyncio.create_task(routine())]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(holding()))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(urgent()))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *tasks)
    assert order == ["urgent", "holding", "routine"]


# ---------------------------------------------------------------- every write on SQLite


async def _sqlite_with_gate(tmp_path: Path) -> tuple[AsyncEngine, WriteGate, _Queued]:
    """A real SQLite file with a table of writers, its gate installed on every write."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE writes (id INTEGER PRIMARY KEY, who TEXT)"))
    gate = WriteGate(exclusive=True)
    queued = _Queued(gate)
    gate_every_write(engine, gate)
    return engine, gate, queued


class _Queued:
    """Set when a write that named no class starts waiting at the gate (no polling)."""

    def __init__(self, gate: WriteGate) -> None:
        self.event = asyncio.Event()
        original = gate.take_routine

        async def noted() -> None:
            self.event.set()
            await original()

        gate.take_routine = noted  # type: ignore[method-assign]


async def _write(engine: AsyncEngine, who: str) -> None:
    async with make_sessionmaker(engine)() as session:
        await session.execute(text("INSERT INTO writes (who) VALUES (:who)"), {"who": who})
        await session.commit()


async def _order(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT who FROM writes ORDER BY id"))).scalars())


async def test_a_write_that_names_no_class_waits_behind_an_alarm_being_stored(
    tmp_path: Path,
) -> None:
    """A family notice, an API call or housekeeping writes while a panic is being stored:
    it waits at the gate (not in SQLite's busy handler), and an alarm that comes while it
    waits still writes before it."""
    engine, gate, queued = await _sqlite_with_gate(tmp_path)
    holder_in, release = asyncio.Event(), asyncio.Event()

    async def panic(who: str, signal: asyncio.Event | None = None) -> None:
        async with gate.urgent():
            await _write(engine, who)
            if signal is not None:
                signal.set()
                await release.wait()

    try:
        first = asyncio.create_task(panic("panic-1", holder_in))
        await holder_in.wait()
        routine = asyncio.create_task(_write(engine, "family-answer"))
        await queued.event.wait()
        assert gate.routine_waiting == 1
        second = asyncio.create_task(panic("panic-2"))
        await asyncio.sleep(0)
        assert gate.urgent_waiting == 1
        release.set()
        await asyncio.gather(first, second, routine)
        assert await _order(engine) == ["panic-1", "panic-2", "family-answer"]
        assert gate.routine_waiting == 0
    finally:
        await engine.dispose()


async def test_an_escalation_write_goes_before_a_write_that_names_no_class(
    tmp_path: Path,
) -> None:
    """The alarm engine's timer and escalation writes (``holding``) overtake a routine one
    queued earlier; an alarm's overtakes both."""
    engine, gate, queued = await _sqlite_with_gate(tmp_path)
    holder_in, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with gate.routine("batch"):
            await _write(engine, "batch")
            holder_in.set()
            await release.wait()

    async def engine_write() -> None:
        async with gate.holding("engine-escalate"):
            await _write(engine, "escalation")

    async def panic() -> None:
        async with gate.urgent():
            await _write(engine, "panic")

    try:
        first = asyncio.create_task(hold())
        await holder_in.wait()
        routine = asyncio.create_task(_write(engine, "push-bookkeeping"))
        await queued.event.wait()
        escalation = asyncio.create_task(engine_write())
        await asyncio.sleep(0)
        alarm = asyncio.create_task(panic())
        await asyncio.sleep(0)
        assert (gate.routine_waiting, gate.holding_waiting, gate.urgent_waiting) == (1, 1, 1)
        release.set()
        await asyncio.gather(first, routine, escalation, alarm)
        assert await _order(engine) == ["batch", "panic", "escalation", "push-bookkeeping"]
    finally:
        await engine.dispose()


async def test_reads_do_not_wait_and_the_hold_ends_with_the_transaction(tmp_path: Path) -> None:
    """Only writes wait; a committed or rolled-back write gives the gate back, and a writer
    already holding the gate is not stopped by it (its writes are the hold's)."""
    engine, gate, _ = await _sqlite_with_gate(tmp_path)
    sessions = make_sessionmaker(engine)
    release = asyncio.Event()
    holder_in = asyncio.Event()

    async def hold() -> None:
        async with gate.urgent():
            holder_in.set()
            await release.wait()

    try:
        first = asyncio.create_task(hold())
        await holder_in.wait()
        assert await _order(engine) == []  # a read while the gate is held
        release.set()
        await first
        await _write(engine, "committed")
        async with sessions() as session:
            await session.execute(text("INSERT INTO writes (who) VALUES ('rolled back')"))
            await session.rollback()
        # Both holds are over: every class gets in, and a holder's own writes pass.
        async with gate.urgent():
            await _write(engine, "urgent")
        async with gate.holding(), gate.routine():  # re-entered by the holder: no wait
            await _write(engine, "nested")
        assert await _order(engine) == ["committed", "urgent", "nested"]
        assert (gate.routine_waiting, gate.holding_waiting, gate.urgent_waiting) == (0, 0, 0)
    finally:
        await engine.dispose()


def test_only_write_statements_take_the_gate() -> None:
    assert writes("  insert into x values (1)")
    assert writes("UPDATE x SET y = 1")
    assert writes("DELETE FROM x")
    assert writes("REPLACE INTO x VALUES (1)")
    assert not writes("SELECT * FROM x")
    assert not writes("PRAGMA journal_mode=WAL")
    assert not writes("WITH a AS (SELECT 1) SELECT * FROM a")


async def test_nothing_is_installed_on_postgres() -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/unused")
    try:
        gate_every_write(engine, WriteGate(exclusive=False))
        assert not event.contains(engine.sync_engine, "before_cursor_execute", _any_listener)
    finally:
        await engine.dispose()


def _any_listener(*_: object) -> None:  # pragma: no cover - a name for event.contains
    pass
