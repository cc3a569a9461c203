"""The hub's :class:`~hub.alarms.engine.AlarmEffects`: 112 gateway, e-mail/SMS, tablet."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Alarm, PromptRequest, PromptWithdrawal
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
from hub.alarms.plans import NO_CARE_SERVICE, CareService
from hub.alarms.settings import AlarmSettings
from hub.db.health import ResidentHealth, summary_for_112
from hub.db.models import Device, Home, Resident
from hub.ingest import delivery
from hub.ingest.commands import DeviceCommands
from hub.ingest.events import DeviceConnected
from protocol import ADDRESS_FORMS, Configure, new_message_id
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
        language=resident.language if resident and resident.language in LANGUAGES else "ca",
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
        # The worker's one command sender (hub.ingest.commands); its channel is used once
        # ingestion has connected.
        self.commands: DeviceCommands | None = None
        # The service context's answers (the plan whose check-in times a tablet is sent).
        self.care_service: CareService = NO_CARE_SERVICE
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
        if self.tablet is None and self.commands is not None and self.commands.connected:
            self.tablet = self.commands.channel
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
            plan, _ = await store.load_plan(session, str(resident_id), self.care_service)
        if resident is None:
            return
        language = resident.language if resident.language in LANGUAGES else None
        address_form = resident.address_form if resident.address_form in ADDRESS_FORMS else None
        body = Configure(
            check_in_deadlines=list(plan.check_in.deadlines) if plan.check_in.enabled else [],
            language=language,
            address_form=address_form,
        )
        await tablet.configure(device_id, body, now)
        _LOGGER.info("settings sent to tablet %s", device_id)

    async def play_message(
        self,
        home_id: str,
        text: str,
        language: str,
        now: datetime,
        *,
        resident_id: int | None = None,
        sent_by: str | None = None,
        speak: bool = True,
        confirm: bool = False,
    ) -> bool:
        """A message from the centre on the home's tablet (said aloud unless ``speak`` is
        False; ``confirm``: the resident is asked to press "I've read it"); False when there
        is no tablet (or no broker connection) to send it to. Followed (ADR 0163): the card
        shows whether the tablet showed it and the resident acknowledged it."""
        device = await self._tablet_of(home_id)
        tablet = self._tablet_channel()
        if tablet is None or device is None:
            return False
        expires = now + delivery.MESSAGE_EXPIRY
        outgoing = delivery.Outgoing(
            new_message_id(), device, resident_id, "message", text, now, expires, sent_by,
            confirm=confirm, speak=speak,
        )  # fmt: skip
        async with self._following(outgoing):
            await tablet.play_message(
                device, text, language, now, outgoing.command_id, speak=speak, confirm=confirm
            )
        return True

    async def prompt(self, request: PromptRequest) -> None:
        """Pre-alarm question on the home's tablet; a medication reminder is followed
        (ADR 0163: shown, put off until when, confirmed, expired)."""
        device = await self._tablet_of(request.home_id)
        tablet = self._tablet_channel()
        if tablet is None or device is None:
            _LOGGER.info("prompt %s not sent: no tablet channel/device", request.prompt_id)
            return
        if request.kind != "medication":
            await tablet.prompt(device, request, request.sent_at)
            return
        resident = int(request.resident_id) if request.resident_id.isdigit() else None
        outgoing = delivery.Outgoing(
            new_message_id(), device, resident, "medication", request.schedule or "",
            request.sent_at, request.expires,
        )  # fmt: skip
        async with self._following(outgoing):
            await tablet.prompt(device, request, request.sent_at, outgoing.command_id)

    async def withdraw_prompt(self, withdrawal: PromptWithdrawal, now: datetime) -> None:
        """Take a medication reminder off the home's tablet: the dose was confirmed by the
        pill dispenser (ADR 0174). The tablet acknowledges the reminder's followed command
        itself, so the card's row says confirmed as when the resident answers on it."""
        device = await self._tablet_of(withdrawal.home_id)
        tablet = self._tablet_channel()
        if tablet is None or device is None:
            _LOGGER.info("prompt %s not withdrawn: no tablet channel/device", withdrawal.prompt_id)
            return
        await tablet.withdraw_prompt(device, withdrawal.prompt_id, now)
        _LOGGER.info(
            "reminder of %s withdrawn from tablet %s (confirmed elsewhere)",
            withdrawal.schedule,
            device,
        )

    @asynccontextmanager
    async def _following(self, outgoing: delivery.Outgoing) -> AsyncIterator[None]:
        """Record ``outgoing`` before it is sent (its tablet may answer at once, to any
        worker), and forget it if sending fails."""
        async with self._sessionmaker() as session:
            await delivery.record(session, outgoing)
            await session.commit()
        try:
            yield
        except BaseException:
            async with self._sessionmaker() as session:
                await delivery.forget(session, outgoing.command_id)
                await session.commit()
            raise

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
