"""The end-to-end acknowledgement of alarm-capable events (docs/adr/0125).

The broker's QoS 1 acknowledgement only says the broker has a panic: a hub worker that
dies holding it (or queued behind it in its session) keeps it from the survivors. So once
the alarm engine has applied an alarm-capable event — raised or attached its alarm, or
found it already applied — the hub tells the device ``event_received`` on the device's own
command topic, and the device agent stops re-sending it. A gateway hears it for its relayed
sensors through the command topics the broker ACL already lets it read.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from alerts import HomeEvent
from protocol import (
    ALARM_EVENT_TYPES,
    EventBody,
    EventReceived,
    ProtocolError,
    command_topic,
    encode,
    envelope,
    event_type,
    new_message_id,
)

_LOGGER = logging.getLogger(__name__)


class Publisher(Protocol):
    """What sends a command to a device (the ingest MQTT client)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue one message."""


class EventReceivedSender:
    """Sends ``event_received`` for each applied alarm-capable event."""

    def __init__(
        self, publisher: Callable[[], Publisher | None], clock: Callable[[], datetime]
    ) -> None:
        self._publisher = publisher
        self._clock = clock
        self._seq = itertools.count()
        self.sent = 0

    def __call__(self, event: HomeEvent) -> None:
        """Acknowledge ``event`` to its device if it is alarm-capable (else nothing)."""
        if not isinstance(event.body, EventBody) or event_type(event.body) not in ALARM_EVENT_TYPES:
            return
        publisher = self._publisher()
        if publisher is None:  # no broker connection yet: the device re-sends
            return
        try:
            topic = command_topic(event.device_id, "event_received")
        except ProtocolError:  # a hub-made event's device id; nothing to tell
            return
        body = EventReceived(event_id=event.message_id)
        message = envelope(body, id=new_message_id(), ts=self._clock(), seq=next(self._seq))
        try:
            publisher.publish(topic, encode(message), qos=1)
        except Exception:  # the device re-sends; the retransmission is acknowledged then
            _LOGGER.exception("event_received for %s not sent", event.message_id)
            return
        self.sent += 1
