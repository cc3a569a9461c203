"""The source interface: readings in the contract's own body types."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import protocol


@dataclass(frozen=True, slots=True)
class Reading:
    """One thing a sensor reported, already in contract terms.

    ``ts`` is when it happened (``None``: the agent stamps its clock's now).
    A ``fall_cancelled`` body, or a ``check_in`` from a button, is a button press
    that cancels a pending fall; the agent turns it into what the hub must see.
    A ``Status`` body reports a sensor's availability (published retained).
    """

    device_id: str
    body: protocol.Event | protocol.Telemetry | protocol.Status
    device_type: str = ""
    room: str | None = None
    ts: datetime | None = None

    def __post_init__(self) -> None:
        protocol.validate_device_id(self.device_id)
        if self.ts is not None and self.ts.tzinfo is None:
            raise ValueError("a reading's timestamp must be timezone-aware")


ReadingSink = Callable[[Reading], Awaitable[None]]


class SensorSource(Protocol):
    """Produces readings until cancelled."""

    async def run(self, sink: ReadingSink) -> None:
        """Call ``await sink(reading)`` for each reading."""
        ...


class QueueSource:
    """Readings pushed by code (tests, embedding): ``await source.push(reading)``."""

    def __init__(self, maxsize: int = 10_000) -> None:
        # Bounded: a producer that outruns the agent waits instead of growing memory.
        self._queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize)

    async def push(self, reading: Reading) -> None:
        """Hand one reading to the agent (waits if the agent is behind)."""
        await self._queue.put(reading)

    async def run(self, sink: ReadingSink) -> None:
        """Forward pushed readings to ``sink``."""
        while True:
            reading = await self._queue.get()
            try:
                await sink(reading)
            finally:
                self._queue.task_done()

    async def drained(self) -> None:
        """Wait until every pushed reading has been handed to the agent."""
        await self._queue.join()
