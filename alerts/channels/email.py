"""E-mail over SMTP (stdlib smtplib in a worker thread, so the event loop never blocks)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from alerts.channels.base import DeliveryResult, Notification

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send mail."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "teleassist@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


class EmailChannel:
    """:class:`~alerts.channels.base.NotificationChannel` over SMTP."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def _message(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.sender
        message["To"] = notification.recipient.email or ""
        message["Subject"] = notification.subject
        message["Message-ID"] = make_msgid(domain="teleassist")
        message["X-Teleassist-Alarm"] = notification.alarm_id
        message.set_content(notification.text)
        # After set_content, which replaces every Content-* header.
        message["Content-Language"] = notification.recipient.language
        return message

    def _send_blocking(self, message: EmailMessage) -> None:
        settings = self._settings
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username and settings.password:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message)

    async def send(self, notification: Notification) -> DeliveryResult:
        """Send one e-mail; a refused or unreachable server is a failed result."""
        if not notification.recipient.email:
            return DeliveryResult(self.name, False, "recipient has no e-mail address", 0)
        message = self._message(notification)
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except (OSError, smtplib.SMTPException) as err:
            _LOGGER.warning("e-mail for alarm %s failed: %s", notification.alarm_id, err)
            return DeliveryResult(self.name, False, f"SMTP: {err}")
        return DeliveryResult(self.name, True, "accepted by SMTP server", 1, message["Message-ID"])
