"""The notification port: a message for one recipient, and what came of sending it.

Adapters (e-mail, SMS gateway, webhook, tablet, family push) implement
:class:`NotificationChannel`. ``send`` never raises for a delivery problem: it answers
with a :class:`DeliveryResult` whose ``delivered`` is False and ``detail`` says why, so
the caller records the failure on the alarm and shows it (nothing is swallowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerts.errors import AlertsValueError
from alerts.i18n import LANGUAGES, Language


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who receives a notification, and how they can be reached."""

    recipient_id: str
    name: str
    language: Language = "ca"
    email: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise AlertsValueError(
                f"recipient language {self.language!r} is not one of {LANGUAGES}"
            )


@dataclass(frozen=True, slots=True)
class Notification:
    """A rendered message (already in the recipient's language) about one alarm."""

    alarm_id: str
    recipient: Recipient
    subject: str
    text: str
    ack_url: str | None = None
    # Machine-readable extras for webhooks and push (codes and ids only, never secrets).
    data: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one channel did with one notification."""

    channel: str
    delivered: bool
    detail: str = ""
    attempts: int = 1
    reference: str | None = None


class NotificationChannel(Protocol):
    """A way to reach people: e-mail, SMS, webhook, tablet, family push."""

    @property
    def name(self) -> str:
        """Channel name recorded in the alarm history ("email", "sms", ...)."""
        ...

    async def send(self, notification: Notification) -> DeliveryResult:
        """Deliver ``notification``; report failure in the result, do not raise."""
        ...
