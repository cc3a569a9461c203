"""What ingestion hands on: the value passed to the alert engine, and the port it goes through.

An :class:`IngestedEvent` is a device event that passed every check (known device,
valid contract message, not a duplicate) and is already committed to the ``events``
table. Sinks receive them in arrival order through a bounded queue; a slow sink holds
back acknowledgements to the broker (back-pressure), it never makes the hub drop events.
The one exception: an :class:`EarlyEventSink` (the alarm engine) gets alarm-capable events
as an :class:`EarlyEvent` while their row is being stored (docs/adr/0178).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from protocol import Ack, EventBody, event_type


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """A device event as the hub understood it.

    - ``device_id``, ``device_type``: from the topic and the registry;
    - ``home_id``; ``resident_id``: the device's wearer or the home's (first) resident,
      ``None`` for a home without residents;
    - ``message_id``, ``device_ts`` (device clock), ``seq``: from the envelope;
    - ``received_at``: hub clock, UTC;
    - ``body``: the contract's event body (``protocol.Panic``, ``protocol.Fall``...);
    - ``stored_id``: primary key of the row in the ``events`` table (``None`` for
      events the hub made itself, such as supervision's ``device_offline``).
    """

    device_id: str
    device_type: str
    home_id: int
    resident_id: int | None
    message_id: str
    device_ts: datetime
    received_at: datetime
    seq: int
    body: EventBody
    stored_id: int | None = None

    @property
    def type(self) -> str:
        """The event's wire name (``panic``, ``fall``...)."""
        return event_type(self.body)


@dataclass(frozen=True, slots=True)
class IngestedAck:
    """A device's answer to a command."""

    device_id: str
    message_id: str
    device_ts: datetime
    received_at: datetime
    body: Ack


@dataclass(frozen=True, slots=True)
class DeviceConnected:
    """A device said it is online after (re)connecting (``Status(online, connected)``)."""

    device_id: str
    device_type: str
    home_id: int
    resident_id: int | None
    message_id: str
    received_at: datetime


class EventSink(Protocol):
    """Where ingested events go (the alarm engine implements this).

    ``handle`` is awaited one event at a time, in arrival order; while it runs, the next
    events wait in a bounded queue. It should not raise: an exception is logged and
    counted, and the event is not retried (it is in the ``events`` table).
    """

    async def handle(self, event: IngestedEvent) -> None:
        """Process one event."""


@dataclass(eq=False, slots=True)
class EarlyEvent:
    """An alarm-capable event handed to an :class:`EarlyEventSink` BEFORE its row is stored
    (docs/adr/0178-alarm-events-handed-on-before-their-row-is-stored.md).

    - ``stored``: resolved by ingestion once the row is committed (or refused by the
      database and set aside), which is when the broker is acknowledged; cancelled if the
      hub stops first. What the event's end-to-end confirmation (``event_received``, ADR
      0125) waits for: it still means "stored".
    - ``written``: resolved by the sink once it no longer needs to write for the event (its
      alarm committed, found applied, or given up); on a single-writer database ingestion
      writes the row after that, so the alarm goes first at the write gate.
    - ``taken``: False if the sink could not take it; ingestion then hands the stored event
      on as before.
    """

    event: IngestedEvent
    stored: asyncio.Future[None]
    written: asyncio.Future[None]
    taken: bool = field(default=True)

    def mark_written(self) -> None:
        """The sink is done writing for the event (idempotent)."""
        if not self.written.done():
            self.written.set_result(None)


@runtime_checkable
class EarlyEventSink(Protocol):
    """A sink that takes alarm-capable events at once, in parallel with their row's store
    (the alarm engine's). It gets each such event once, through :meth:`handle_early`, and
    never again through ``handle`` after the store (other sinks still get it then)."""

    async def handle(self, event: IngestedEvent) -> None:
        """Process one stored event."""

    async def handle_early(self, early: EarlyEvent) -> None:
        """Take one alarm-capable event whose row is being stored (should not wait long)."""


class AckListener(Protocol):
    """Where command acknowledgements go (whoever sends commands)."""

    async def handle_ack(self, ack: IngestedAck) -> None:
        """Process one acknowledgement."""


class ConnectListener(Protocol):
    """Who wants to know when a device (re)connects, e.g. to send it its settings."""

    async def handle_connected(self, connected: DeviceConnected) -> None:
        """Process one (re)connection."""
