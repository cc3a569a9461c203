"""The hub's :class:`~hub.alarms.engine.AlarmEffects`: 112 gateway, e-mail/SMS, tablet."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Alarm, PromptRequest
from alerts.channels import (
    DeliveryResult,
    EmailChannel,
    Recipient,
    RetryPolicy,
    SmsChannel,
    SmsGatewaySettings,
    SmtpSettings,
    TabletChannel,
    contact_notification,
)
from alerts.emergency import (
    Centre,
    EmergencyGatewaySettings,
    EmergencyIncident,
    HandoffResult,
    HttpEmergencyGateway,
    Location,
    Person,
)
from alerts.escalation import NotifyContact
from hub.alarms import store
from hub.alarms.settings import AlarmSettings
from hub.console.health import summary_for_112
from hub.console.models import ResidentHealth
from hub.db.models import Device, Home, Resident
from hub.ingest.events import DeviceConnected
from protocol import Configure
from protocol.i18n import LANGUAGES

_LOGGER = logging.getLogger(__name__)


async def build_incident(
    session: AsyncSession, alarm: Alarm, settings: AlarmSettings, now: datetime, operator: str = ""
) -> EmergencyIncident:
    """The 112 incident of ``alarm`` from the registry (resident and home)."""
    resident = (
        await session.get(Resident, int(alarm.resident_id)) if alarm.resident_id.isdigit() else None
    )
    home = await session.get(Home, int(alarm.home_id)) if alarm.home_id.isdigit() else None
    person = Person(
        name=resident.name if resident else f"resident {alarm.resident_id}",
        language=resident.language
        if resident and resident.language in ("ca", "es", "en")
        else "ca",
        birth_date=resident.birth_date if resident else None,
        lives_alone=resident.lives_alone if resident else True,
        # The structured record when there is one (DNR and allergies first), else the notes.
        medical_notes=summary_for_112(
            await session.get(ResidentHealth, resident.id), resident.medical_notes
        )
        if resident
        else "",
    )
    location = Location(
        address=home.address if home and home.address.strip() else f"home {alarm.home_id}",
        latitude=home.lat if home else None,
        longitude=home.lon if home and home.lat is not None else None,
        confidence_percent=90 if home and home.lat is not None else 50,
        access_notes=home.access_notes if home else "",
        key_safe=bool(home and home.key_safe_code_enc),
    )
    centre = Centre(settings.centre_id, settings.centre_name, settings.callback_phone, operator)
    return EmergencyIncident(alarm, person, location, centre, now)


class PahoLoopPublisher:
    """:class:`~alerts.channels.CommandPublisher` over the hub's MQTT connection."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Queue the command on the hub's MQTT client (non-blocking)."""
        self._client.publish(topic, payload, qos=qos)


class HubAlarmEffects:
    """Effects over the configured channels; the tablet channel is set once MQTT is up."""

    def __init__(
        self,
        settings: AlarmSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
    ) -> None:
        self.settings = settings
        self._sessionmaker = sessionmaker
        self._http = http
        self.tablet: TabletChannel | None = None
        # Finds the hub's MQTT client once ingestion has connected (None: not yet/none).
        self.mqtt_lookup: Callable[[], Any] | None = None
        # 112 hand-offs by outcome ("delivered"/"failed"), exported on /metrics.
        self.handoffs: Counter[str] = Counter()
        retry = RetryPolicy(attempts=max(1, settings.emergency_attempts))
        # How long a hand-off may take at worst: beyond it, a claimed one was interrupted.
        self.handoff_longest = timedelta(seconds=retry.longest_s())
        self.gateway = (
            HttpEmergencyGateway(
                EmergencyGatewaySettings(
                    settings.emergency_url,
                    settings.emergency_format,
                    settings.emergency_token or None,
                    retry,
                ),
                http,
            )
            if settings.emergency_url
            else None
        )
        self.email = (
            EmailChannel(SmtpSettings(settings.smtp_host, settings.smtp_port, settings.smtp_sender))
            if settings.smtp_host
            else None
        )
        self.sms = (
            SmsChannel(SmsGatewaySettings(settings.sms_url, settings.sms_token or None), http)
            if settings.sms_url
            else None
        )

    def _tablet_channel(self) -> TabletChannel | None:
        if self.tablet is None and self.mqtt_lookup is not None:
            client = self.mqtt_lookup()
            if client is not None:
                self.tablet = TabletChannel(PahoLoopPublisher(client))
        return self.tablet

    async def _tablet_of(self, home_id: str) -> str | None:
        if not home_id.isdigit():
            return None
        async with self._sessionmaker() as session:
            return await session.scalar(
                select(Device.id)
                .where(
                    Device.home_id == int(home_id),
                    Device.type == "tablet",
                    Device.state != "revoked",  # a replaced tablet no longer listens
                )
                .order_by(Device.created_at.desc())
            )

    async def configure_tablet(
        self, device_id: str, resident_id: int | None, now: datetime
    ) -> None:
        """Send a (re)connected tablet its resident's language and check-in times.

        The tablet promises no check-in time of its own: without this it shows none.
        """
        tablet = self._tablet_channel()
        if tablet is None or resident_id is None:
            return
        async with self._sessionmaker() as session:
            resident = await session.get(Resident, resident_id)
            plan, _ = await store.load_plan(session, str(resident_id))
        if resident is None:
            return
        language = resident.language if resident.language in LANGUAGES else None
        body = Configure(
            check_in_deadlines=list(plan.check_in.deadlines) if plan.check_in.enabled else [],
            language=language,
        )
        await tablet.configure(device_id, body, now)
        _LOGGER.info("settings sent to tablet %s", device_id)

    async def play_message(self, home_id: str, text: str, language: str, now: datetime) -> bool:
        """A message from the centre on the home's tablet; False when there is no tablet
        (or no broker connection) to send it to."""
        device = await self._tablet_of(home_id)
        tablet = self._tablet_channel()
        if tablet is None or device is None:
            return False
        await tablet.play_message(device, text, language, now)
        return True

    async def prompt(self, request: PromptRequest) -> None:
        """Pre-alarm question on the home's tablet."""
        device = await self._tablet_of(request.home_id)
        tablet = self._tablet_channel()
        if tablet is None or device is None:
            _LOGGER.info("prompt %s not sent: no tablet channel/device", request.prompt_id)
            return
        await tablet.prompt(device, request, request.sent_at)

    async def alarm_received(self, alarm: Alarm, event_id: str | None) -> None:
        """Close the loop on the home's tablet."""
        device = await self._tablet_of(alarm.home_id)
        tablet = self._tablet_channel()
        if tablet is not None and device is not None:
            await tablet.alarm_received(device, alarm.id, event_id, alarm.raised_at)

    async def notify(self, alarm: Alarm, action: NotifyContact) -> DeliveryResult:
        """E-mail and/or SMS the contact; the first delivery that works is reported."""
        contact = action.contact
        recipient = Recipient(
            contact.contact_id, contact.name, contact.language, contact.email, contact.phone
        )
        message = contact_notification(alarm, recipient, f"resident {alarm.resident_id}")
        results: list[DeliveryResult] = []
        for channel in (self.email, self.sms):
            if channel is not None:
                result = await channel.send(message)
                results.append(result)
                if result.delivered:
                    return result
        if results:
            return results[-1]
        return DeliveryResult("none", False, "no notification channel configured", 0)

    async def hand_off(self, alarm: Alarm, now: datetime) -> HandoffResult | None:
        """Send the incident to 112."""
        if self.gateway is None:
            return None
        async with self._sessionmaker() as session:
            incident = await build_incident(session, alarm, self.settings, now)
        try:
            result = await self.gateway.hand_off(incident)
        except BaseException:
            self.handoffs["failed"] += 1
            raise
        self.handoffs["delivered" if result.delivered else "failed"] += 1
        return result


class TabletSettingsSender:
    """A :class:`~hub.ingest.events.ConnectListener`: a tablet gets its settings on connect."""

    def __init__(self, effects: Callable[[], HubAlarmEffects | None]) -> None:
        self._effects = effects

    async def handle_connected(self, connected: DeviceConnected) -> None:
        """Send the settings if the device is a tablet and the engine is up."""
        effects = self._effects()
        if connected.device_type == "tablet" and effects is not None:
            await effects.configure_tablet(
                connected.device_id, connected.resident_id, connected.received_at
            )
