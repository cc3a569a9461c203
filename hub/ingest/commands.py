"""The hub's one way to send a command to a device (issue 25, item 5).

Alarm prompts, "the centre has your alarm", settings, messages from the centre, agenda and
medication reminders and the end-to-end ``event_received`` all leave through
:class:`DeviceCommands`: this worker's own MQTT connection (the ingest client, so a command
goes to the broker the hub reads from, never to a default one) and one
:class:`~alerts.channels.TabletChannel`, so one sequence counter per worker and one
envelope stamped with the hub's clock (a tablet rejects a command far from its own time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from alerts.channels import TabletChannel
from hub.clock import Clock
from protocol import CommandBody


class NotConnected(ConnectionError):
    """The worker has no broker connection (yet): the command was not sent."""


class Publisher(Protocol):
    """What queues one MQTT message without waiting (the ingest client)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue one message."""


class DeviceCommands:
    """Sends the contract's commands to devices over the worker's broker connection."""

    def __init__(self, client: Callable[[], Publisher | None], clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self.channel = TabletChannel(self)
        self.sent = 0

    @property
    def connected(self) -> bool:
        """Whether the worker's broker connection exists (commands can be queued)."""
        return self._client() is not None

    def send_nowait(
        self,
        device_id: str,
        body: CommandBody,
        now: datetime | None = None,
        message_id: str | None = None,
    ) -> str:
        """Queue ``body`` for ``device_id`` at QoS 1 and return its message id (``message_id``
        when given). Raises :class:`NotConnected` without a connection, ProtocolError for a
        device id the contract rejects."""
        topic, payload, message_id = self.channel.command(
            device_id, body, self._clock() if now is None else now, message_id
        )
        self._publish(topic, payload, 1)
        return message_id

    async def send(
        self,
        device_id: str,
        body: CommandBody,
        now: datetime | None = None,
        message_id: str | None = None,
    ) -> str:
        """:meth:`send_nowait` for callers that await (the publish itself never waits)."""
        return self.send_nowait(device_id, body, now, message_id)

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """The channel's port (:class:`~alerts.channels.CommandPublisher`)."""
        self._publish(topic, payload, qos)

    def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        client = self._client()
        if client is None:
            raise NotConnected("no broker connection: command not sent")
        client.publish(topic, payload, qos=qos)
        self.sent += 1
