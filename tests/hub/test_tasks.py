"""cancel_and_wait ends a task whose first cancellation was swallowed by a library call."""

from __future__ import annotations

import asyncio

from hub.tasks import cancel_and_wait


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
