"""cancel_and_wait ends a task whose first cancellation was swallowed by a library call;
stop_within bounds a process's stop and names what it still waits for."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.tasks import cancel_and_wait, stop_within


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def deaf_loop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # what Python 3.11's wait_for does when the result races the cancel
        await asyncio.Event().wait()

    task = asyncio.create_task(deaf_loop())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_and_wait([task, None], every_s=0.1))
    # Not asyncio.timeout around it: cancelling the waiter would cancel the task once more.
    await asyncio.wait({stopping}, timeout=5)
    try:
        assert stopping.done(), "cancel_and_wait did not end the task"
        assert swallowed.is_set()
        assert task.cancelled()
    finally:
        stopping.cancel()
        task.cancel()


async def test_a_plain_task_is_cancelled_once() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait([task])
    assert task.cancelled()


async def test_a_stop_ends_the_tasks_nobody_owns_even_a_deaf_one() -> None:
    """After the application's cleanup, tasks left on the loop are ended, cancelled again
    while they swallow it (asyncio.run would wait for them with no limit)."""
    cleaned = asyncio.Event()
    swallowed = asyncio.Event()

    async def deaf_loop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.Event().wait()

    async def cleanup() -> None:
        cleaned.set()

    stray = asyncio.create_task(deaf_loop())
    await asyncio.sleep(0)
    assert await stop_within(cleanup(), 60)
    assert cleaned.is_set()
    assert swallowed.is_set()
    assert stray.cancelled()


async def test_a_stop_that_does_not_end_says_what_it_waits_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cleanup stuck on an await with no limit: the stop gives up at its limit (the caller
    then exits) and the log names the waiting task and where it waits."""
    stuck = asyncio.Event()

    async def flush_for_ever() -> None:
        await stuck.wait()

    async def cleanup() -> None:
        await asyncio.create_task(flush_for_ever(), name="flush-for-ever")

    with caplog.at_level(logging.ERROR, logger="hub.tasks"):
        assert not await stop_within(cleanup(), 0.2)
    (record,) = [r for r in caplog.records if "not stopped" in r.getMessage()]
    assert "flush-for-ever: " in record.getMessage()
    assert "flush_for_ever" in record.getMessage()
    stuck.set()
    for task in asyncio.all_tasks():
        if task.get_name() in ("stop", "flush-for-ever"):
            await task
