"""Fan-out of alarm events to the live sockets of this process.

Each subscriber has a bounded queue. A subscriber that falls behind is not allowed to
slow the others down or to miss events silently: it is marked ``overflowed`` and its
socket closes, so the console reconnects and receives a fresh snapshot.

Events come from this worker's engine and, with PostgreSQL, from the other workers
through :mod:`hub.alarms.fanout` (LISTEN/NOTIFY, docs/adr/0038). Both paths can deliver
the same change, and two changes of one alarm can reach :meth:`AlarmLive.publish` out
of order, so every event names the alarm's stored version: a version not newer than the
last one published for that alarm is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from alerts import Alarm

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 1000
# Alarms whose last published version is remembered (old ones are long closed).
SEEN_SIZE = 50_000

KINDS = frozenset({"alarm.raised", "alarm.updated", "alarm.accepted", "alarm.resolved"})


@dataclass(eq=False)
class Subscription:
    """One live socket's (or in-process follower's) queue."""

    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    # An operator's screen (an alarm published while one is open counts as presented).
    screen: bool = True


def live_message(
    kind: str, alarm: Alarm, now: datetime, action: str | None = None
) -> dict[str, Any]:
    """The event a subscriber receives (views in each reader's language are built later)."""
    if kind not in KINDS:
        raise ValueError(f"unknown live alarm event {kind!r}")
    message: dict[str, Any] = {"type": kind, "alarm": alarm, "now": now}
    if kind == "alarm.updated":
        message["action"] = action or alarm.history[-1].action.value
    if kind == "alarm.accepted" and alarm.claimed_by is not None:
        message["by"] = {
            "kind": alarm.claimed_by.kind.value,
            "id": alarm.claimed_by.id,
            "name": alarm.claimed_by.name,
        }
    return message


class AlarmLive:
    """Publish alarm events to every subscriber, each alarm version once."""

    def __init__(self, remember: int = SEEN_SIZE) -> None:
        self._subscribers: set[Subscription] = set()
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._remember = remember

    @property
    def subscribers(self) -> int:
        """How many operator screens listen (in-process followers not counted)."""
        return sum(1 for s in self._subscribers if s.screen)

    def subscribe(self, *, screen: bool = True) -> Subscription:
        """A new subscription; call :meth:`unsubscribe` when the socket closes."""
        subscription = Subscription(screen=screen)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``."""
        self._subscribers.discard(subscription)

    def is_new(self, alarm_id: str, version: int) -> bool:
        """Whether ``version`` of the alarm is newer than the last one published."""
        return version > self._seen.get(alarm_id, 0)

    def publish(self, message: dict[str, Any], version: int) -> bool:
        """Queue ``message`` (about stored ``version`` of its alarm) for every subscriber.

        Never blocks. Returns False, delivering nothing, when that version or a newer one
        was published already.
        """
        alarm_id = message["alarm"].id
        if not self.is_new(alarm_id, version):
            return False
        self._seen[alarm_id] = version
        self._seen.move_to_end(alarm_id)
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                _LOGGER.warning("live alarm socket fell %d events behind; closing it", QUEUE_SIZE)
                self._drop(subscription)
        return True

    def overflow_all(self) -> None:
        """Events were lost on the way here: every subscriber starts again from a snapshot."""
        for subscription in list(self._subscribers):
            self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        subscription.overflowed.set()
        self._subscribers.discard(subscription)


ALARM_LIVE = web.AppKey("alarm_live", AlarmLive)
