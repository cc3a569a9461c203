"""Stopping background tasks for sure.

Python 3.11's ``asyncio.wait_for`` (used inside database drivers and MQTT clients) swallows a
cancellation that races its result. A loop whose cancellation was swallowed carries on and
waits for its next turn, possibly for ever, and the hub's shutdown waits with it (CI teardowns
hung so). :func:`cancel_and_wait` cancels again until the task ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

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
