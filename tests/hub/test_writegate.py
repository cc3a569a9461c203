"""The write gate: one writer at a time on SQLite, urgent writers before routine ones that
have not started, nobody held on PostgreSQL (docs/adr/0115). Ordering only, no timing."""

from __future__ import annotations

import asyncio

import pytest

from hub.db.writegate import WriteGate


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
