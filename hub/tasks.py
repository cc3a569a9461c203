"""Stopping background tasks for sure.

Python 3.11's ``asyncio.wait_for`` (used inside database drivers and MQTT clients) swallows a
cancellation that races its result. A loop whose cancellation was swallowed carries on and
waits for its next turn, possibly for ever, and the hub's shutdown waits with it (CI teardowns
hung so). :func:`cancel_and_wait` cancels again until the task ends; :func:`stop_within`
bounds a whole process's stop and says what it still waited for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

_LOGGER = logging.getLogger(__name__)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object] | None], *, rounds: int = 30, every_s: float = 1.0
) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again every ``every_s``
    seconds for at most ``rounds`` rounds. Failures other than cancellation are logged."""
    pending = {task for task in tasks if task is not None}
    for task in pending:
        task.cancel()
    for _ in range(rounds):
        if not pending:
            return
        done, pending = await asyncio.wait(pending, timeout=every_s)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                _LOGGER.error("task %s failed", task.get_name(), exc_info=task.exception())
        for task in pending:
            _LOGGER.warning("task %s is still running; cancelling it again", task.get_name())
            task.cancel()


def waiting_tasks() -> list[str]:
    """Every task of the running loop but the caller, each with where it waits (innermost
    await last): what a stop that does not end is waiting for."""
    here = asyncio.current_task()
    out = []
    for task in asyncio.all_tasks():
        if task is here or task.done():
            continue
        frames = [
            f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
            for frame in task.get_stack()
        ]
        out.append(f"{task.get_name()}: {' <- '.join(reversed(frames)) or '?'}")
    return out


async def stop_within(cleanup: Coroutine[Any, Any, object], limit_s: float) -> bool:
    """Run ``cleanup`` (the application's stop) and then end every task left on the loop,
    for ``limit_s`` seconds in all; True when everything ended.

    Otherwise what is still waiting is logged with where it waits, and the caller exits
    without waiting for it: ``asyncio.run`` would otherwise wait, with no limit, for every
    task to take its cancellation (a hub asked to stop stayed up for minutes with an idle
    loop, docs/adr/0173). The cleanup runs as a task of its own and is not cancelled at the
    limit, so a cancellation swallowed inside it cannot hold the limit up either."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    stopping = asyncio.create_task(cleanup, name="stop")
    await asyncio.wait({stopping}, timeout=limit_s)
    if stopping.done():
        if not stopping.cancelled() and stopping.exception() is not None:
            _LOGGER.error("stopping failed", exc_info=stopping.exception())
        # Tasks nobody owns (a request handler's child, a stray create_task).
        here = asyncio.current_task()
        left = {t for t in asyncio.all_tasks() if t is not here and not t.done()}
        while left and loop.time() < deadline:
            for task in left:
                task.cancel()  # again each round: a swallowed cancellation (see above)
            _, left = await asyncio.wait(left, timeout=min(1.0, deadline - loop.time()))
        if not left:
            return True
    _LOGGER.error(
        "not stopped after %.0f s; still waiting:\n  %s", limit_s, "\n  ".join(waiting_tasks())
    )
    return False
