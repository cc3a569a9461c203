"""The resident's tablet: pre-alarm prompts and "the centre has your alarm", over MQTT.

Commands are the contract's own (``protocol.Prompt``, ``protocol.AlarmReceived``) on
``ta/v1/c/{device_id}/{name}`` at QoS 1. :class:`CommandPublisher` is the port; the hub
passes its MQTT client (:class:`AiomqttPublisher` adapts an ``aiomqtt.Client``).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Protocol

import aiomqtt

from alerts.model import PromptRequest
from protocol import (
    AlarmReceived,
    CommandBody,
    Configure,
    PlayMessage,
    Prompt,
    command_name,
    command_topic,
    encode,
    envelope,
    new_message_id,
)


class CommandPublisher(Protocol):
    """Publishes one MQTT message (the hub's broker connection)."""

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish ``payload`` on ``topic``."""
        ...


class AiomqttPublisher:
    """:class:`CommandPublisher` over a connected ``aiomqtt.Client``."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish at ``qos``."""
        await self._client.publish(topic, payload, qos=qos)


class TabletChannel:
    """Sends the contract's commands to a home's tablet."""

    name = "tablet"

    def __init__(self, publisher: CommandPublisher) -> None:
        self._publisher = publisher
        self._seq = itertools.count()

    async def _send(self, device_id: str, body: CommandBody, now: datetime) -> str:
        message_id = new_message_id()
        message = envelope(body, id=message_id, ts=now, seq=next(self._seq))
        await self._publisher.publish(
            command_topic(device_id, command_name(body)), encode(message), 1
        )
        return message_id

    async def prompt(self, device_id: str, request: PromptRequest, now: datetime) -> str:
        """Ask "Are you all right?"; returns the command's message id."""
        kind = (
            request.kind
            if request.kind in ("inactivity", "medication", "wellbeing")
            else "wellbeing"
        )
        body = Prompt(
            prompt_id=request.prompt_id,
            kind=kind,  # type: ignore[arg-type]
            expires=request.expires,
            schedule=request.schedule,
        )
        return await self._send(device_id, body, now)

    async def alarm_received(
        self, device_id: str, alarm_id: str, event_id: str | None, now: datetime
    ) -> str:
        """Close the loop with the resident: the centre has the alarm."""
        return await self._send(device_id, AlarmReceived(alarm_id=alarm_id, event_id=event_id), now)

    async def play_message(self, device_id: str, text: str, language: str, now: datetime) -> str:
        """A message from the centre, shown and spoken on the tablet."""
        lang = language if language in ("ca", "es", "en") else "ca"
        return await self._send(
            device_id,
            PlayMessage(text=text, language=lang),  # type: ignore[arg-type]
            now,
        )

    async def configure(self, device_id: str, body: Configure, now: datetime) -> str:
        """Push settings (language, check-in times) to the tablet."""
        return await self._send(device_id, body, now)
