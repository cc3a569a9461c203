"""SMS through an HTTP gateway: ``POST {url}`` JSON ``{"to", "text", "reference"}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import aiohttp

from alerts.channels.base import DeliveryResult, Notification
from alerts.channels.http import RetryPolicy, Sleep, post_with_retries

SMS_MAX_CHARS = 459  # three concatenated GSM segments


@dataclass(frozen=True, slots=True)
class SmsGatewaySettings:
    """The gateway's endpoint and credential."""

    url: str
    token: str | None = None
    sender: str = "Teleassist"
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class SmsChannel:
    """:class:`~alerts.channels.base.NotificationChannel` over an HTTP SMS gateway."""

    name = "sms"

    def __init__(
        self,
        settings: SmsGatewaySettings,
        session: aiohttp.ClientSession,
        sleep: Sleep | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._sleep = sleep

    async def send(self, notification: Notification) -> DeliveryResult:
        """Send one SMS (text shortened to three segments)."""
        phone = notification.recipient.phone
        if not phone:
            return DeliveryResult(self.name, False, "recipient has no phone number", 0)
        text = f"{notification.subject}\n{notification.text}"
        if len(text) > SMS_MAX_CHARS:
            text = text[: SMS_MAX_CHARS - 1] + "…"
        payload = {
            "to": phone,
            "from": self._settings.sender,
            "text": text,
            "reference": notification.alarm_id,
        }
        headers = {"Content-Type": "application/json"}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        outcome = await post_with_retries(
            self._session,
            self._settings.url,
            data=json.dumps(payload).encode(),
            headers=headers,
            policy=self._settings.retry,
            **kwargs,
        )
        if not outcome.ok:
            return DeliveryResult(self.name, False, outcome.error, outcome.attempts)
        try:
            reference = str(json.loads(outcome.body).get("id", "")) or None
        except (ValueError, AttributeError):
            reference = None
        return DeliveryResult(
            self.name, True, f"HTTP {outcome.status}", outcome.attempts, reference
        )
