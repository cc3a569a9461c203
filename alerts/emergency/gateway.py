"""The 112 gateway port and its HTTPS adapter.

:class:`EmergencyGateway` is the port the hub calls. :class:`HttpEmergencyGateway` posts
the NENA EIDO JSON (or CAP XML) to a configured endpoint, retries with back-off, and
answers with a :class:`HandoffResult` — delivered or not, with the centre's reference or
the error and the number of attempts. It never raises for a delivery failure and never
returns a success it did not get: the operator sees the failure at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import aiohttp

from alerts.channels.http import RetryPolicy, Sleep, post_with_retries
from alerts.emergency.cap import CAP_CONTENT_TYPE, encode_cap
from alerts.emergency.eido import encode_eido
from alerts.emergency.incident import EmergencyIncident
from alerts.emergency.wire import SentMessage

_LOGGER = logging.getLogger(__name__)


class PayloadFormat(StrEnum):
    """Which emergency format an endpoint speaks."""

    EIDO = "eido"
    CAP = "cap"


_ENCODERS: dict[PayloadFormat, tuple[Callable[[EmergencyIncident], bytes], str]] = {
    PayloadFormat.EIDO: (encode_eido, "application/json"),
    PayloadFormat.CAP: (encode_cap, CAP_CONTENT_TYPE),
}


def render_payload(incident: EmergencyIncident, fmt: PayloadFormat) -> tuple[bytes, str]:
    """(body, content type) of ``incident`` in ``fmt`` — also the operator's preview."""
    encoder, content_type = _ENCODERS[PayloadFormat(fmt)]
    return encoder(incident), content_type


@dataclass(frozen=True, slots=True)
class HandoffResult:
    """What came of sending an incident to 112."""

    delivered: bool
    attempts: int
    format: PayloadFormat
    status: int | None = None
    reference: str | None = None
    reply: str = ""
    error: str = ""
    # What was sent (sender, identifier, time): a later message to 112 names it.
    message: SentMessage | None = None
    msg_type: str = ""


class EmergencyGateway(Protocol):
    """Hands an incident over to the emergency service."""

    async def hand_off(self, incident: EmergencyIncident) -> HandoffResult:
        """Send ``incident``; report failure in the result."""
        ...


@dataclass(frozen=True, slots=True)
class EmergencyGatewaySettings:
    """The receiving centre's endpoint (HTTPS in production)."""

    url: str
    format: PayloadFormat = PayloadFormat.EIDO
    token: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _reference(body: str, content_type: str) -> str | None:
    if "json" not in content_type:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("reference") or data.get("incidentId") or data.get("id")
        return str(value) if value else None
    return None


class HttpEmergencyGateway:
    """:class:`EmergencyGateway` over HTTP(S) POST."""

    def __init__(
        self,
        settings: EmergencyGatewaySettings,
        session: aiohttp.ClientSession,
        sleep: Sleep | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._sleep = sleep

    async def hand_off(self, incident: EmergencyIncident) -> HandoffResult:
        """POST the incident with retries; the result says exactly what happened."""
        fmt = self._settings.format
        body, content_type = render_payload(incident, fmt)
        message, msg_type = incident.message, incident.message_type
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        outcome = await post_with_retries(
            self._session,
            self._settings.url,
            data=body,
            headers=headers,
            policy=self._settings.retry,
            **kwargs,
        )
        if not outcome.ok:
            _LOGGER.error(
                "112 hand-off of alarm %s failed after %d attempts: %s",
                incident.alarm.id,
                outcome.attempts,
                outcome.error,
            )
            return HandoffResult(
                False,
                outcome.attempts,
                fmt,
                outcome.status,
                None,
                outcome.body[:2000],
                outcome.error,
                message,
                msg_type,
            )
        return HandoffResult(
            True,
            outcome.attempts,
            fmt,
            outcome.status,
            _reference(outcome.body, "json"),
            outcome.body[:2000],
            "",
            message,
            msg_type,
        )
