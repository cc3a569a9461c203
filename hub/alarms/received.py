"""The end-to-end acknowledgement of alarm-capable events (docs/adr/0125).

The broker's QoS 1 acknowledgement only says the broker has a panic: a hub worker that
dies holding it (or queued behind it in its session) keeps it from the survivors. So once
the alarm engine has applied an alarm-capable event — raised or attached its alarm, or
found it already applied — the hub tells the device ``event_received`` on the device's own
command topic, and the device agent stops re-sending it. A gateway hears it for its relayed
sensors through the command topics the broker ACL already lets it read.
"""

from __future__ import annotations

import logging

from alerts import HomeEvent
from hub.ingest.commands import DeviceCommands, NotConnected
from protocol import ALARM_EVENT_TYPES, EventBody, EventReceived, ProtocolError, event_type

_LOGGER = logging.getLogger(__name__)


class EventReceivedSender:
    """Sends ``event_received`` for each applied alarm-capable event."""

    def __init__(self, commands: DeviceCommands) -> None:
        self._commands = commands
        self.sent = 0

    def __call__(self, event: HomeEvent) -> None:
        """Acknowledge ``event`` to its device if it is alarm-capable (else nothing)."""
        if not isinstance(event.body, EventBody) or event_type(event.body) not in ALARM_EVENT_TYPES:
            return
        try:
            self._commands.send_nowait(event.device_id, EventReceived(event_id=event.message_id))
        except (NotConnected, ProtocolError):
            # No broker connection yet (the device re-sends), or a hub-made event's device
            # id (nothing to tell).
            return
        except Exception:  # the device re-sends; the retransmission is acknowledged then
            _LOGGER.exception("event_received for %s not sent", event.message_id)
            return
        self.sent += 1
