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
    PromptWithdrawn,
    command_name,
    command_topic,
    encode,
    envelope,
    new_message_id,
)
from protocol.i18n import LANGUAGES


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

    def command(
        self, device_id: str, body: CommandBody, now: datetime, message_id: str | None = None
    ) -> tuple[str, bytes, str]:
        """``body`` for ``device_id`` as it goes on the wire: its topic, the encoded envelope
        (this channel's one sequence) and the message id (``message_id`` when the caller
        chose it, to record the command before sending it). Raises ProtocolError for a device
        id the contract rejects."""
        topic = command_topic(device_id, command_name(body))  # checked before a seq is used
        message_id = message_id or new_message_id()
        message = envelope(body, id=message_id, ts=now, seq=next(self._seq))
        return topic, encode(message), message_id

    async def send(
        self, device_id: str, body: CommandBody, now: datetime, message_id: str | None = None
    ) -> str:
        """Publish any command of the contract at QoS 1; returns its message id."""
        topic, payload, message_id = self.command(device_id, body, now, message_id)
        await self._publisher.publish(topic, payload, 1)
        return message_id

    async def prompt(
        self, device_id: str, request: PromptRequest, now: datetime, message_id: str | None = None
    ) -> str:
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
        return await self.send(device_id, body, now, message_id)

    async def withdraw_prompt(self, device_id: str, prompt_id: str, now: datetime) -> str:
        """Take a medication reminder off the screen: its dose was confirmed elsewhere (the
        pill dispenser, docs/adr/0174); returns the command's message id."""
        return await self.send(device_id, PromptWithdrawn(prompt_id=prompt_id), now)

    async def alarm_received(
        self, device_id: str, alarm_id: str, event_id: str | None, now: datetime
    ) -> str:
        """Close the loop with the resident: the centre has the alarm."""
        return await self.send(device_id, AlarmReceived(alarm_id=alarm_id, event_id=event_id), now)

    async def play_message(
        self,
        device_id: str,
        text: str,
        language: str,
        now: datetime,
        message_id: str | None = None,
        *,
        speak: bool = True,
        confirm: bool = False,
    ) -> str:
        """A message from the centre, shown on the tablet, spoken unless ``speak`` is False,
        with "I've read it" when ``confirm``."""
        lang = language if language in LANGUAGES else "ca"
        return await self.send(
            device_id,
            PlayMessage(text=text, language=lang, speak=speak, confirm=confirm),
            now,
            message_id,
        )

    async def configure(self, device_id: str, body: Configure, now: datetime) -> str:
        """Push settings (language, check-in times) to the tablet."""
        return await self.send(device_id, body, now)
