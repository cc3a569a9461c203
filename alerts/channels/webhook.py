"""Webhooks: the alarm notification as JSON, signed with HMAC-SHA256.

The receiver checks ``X-Teleassist-Signature: sha256=<hex>`` over the raw body with the
shared secret (see :func:`signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

import aiohttp

from alerts.channels.base import DeliveryResult, Notification
from alerts.channels.http import RetryPolicy, Sleep, post_with_retries

SIGNATURE_HEADER = "X-Teleassist-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """One subscriber's endpoint and shared secret."""

    url: str
    secret: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class WebhookChannel:
    """:class:`~alerts.channels.base.NotificationChannel` that POSTs signed JSON."""

    name = "webhook"

    def __init__(
        self, settings: WebhookSettings, session: aiohttp.ClientSession, sleep: Sleep | None = None
    ) -> None:
        self._settings = settings
        self._session = session
        self._sleep = sleep

    async def send(self, notification: Notification) -> DeliveryResult:
        """POST the notification; retries on server errors."""
        body = json.dumps(
            {
                "type": "alarm.notification",
                "alarm_id": notification.alarm_id,
                "recipient": notification.recipient.recipient_id,
                "language": notification.recipient.language,
                "subject": notification.subject,
                "text": notification.text,
                "ack_url": notification.ack_url,
                "data": dict(notification.data),
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._settings.secret, body),
        }
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        outcome = await post_with_retries(
            self._session,
            self._settings.url,
            data=body,
            headers=headers,
            policy=self._settings.retry,
            **kwargs,
        )
        detail = f"HTTP {outcome.status}" if outcome.ok else outcome.error
        return DeliveryResult(self.name, outcome.ok, detail, outcome.attempts)
