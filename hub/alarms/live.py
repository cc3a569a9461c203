"""Fan-out of alarm events to the operators' live sockets (in this process).

Each subscriber has a bounded queue. A subscriber that falls behind is not allowed to
slow the others down or to miss events silently: it is marked ``overflowed`` and its
socket closes, so the console reconnects and receives a fresh snapshot.
Across several hub workers this would ride on PostgreSQL LISTEN/NOTIFY (see docs).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscription:
    """One live socket's queue."""

    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)


class AlarmLive:
    """Publish alarm events to every subscribed socket."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    @property
    def subscribers(self) -> int:
        """How many sockets listen."""
        return len(self._subscribers)

    def subscribe(self) -> Subscription:
        """A new subscription; call :meth:`unsubscribe` when the socket closes."""
        subscription = Subscription()
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``."""
        self._subscribers.discard(subscription)

    def publish(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for every subscriber (never blocks)."""
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                _LOGGER.warning("live alarm socket fell %d events behind; closing it", QUEUE_SIZE)
                subscription.overflowed.set()
                self._subscribers.discard(subscription)
