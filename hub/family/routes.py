"""The family network's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from alerts.channels import EmailChannel, SmsChannel, SmsGatewaySettings, SmtpSettings
from hub.alarms.settings import AlarmSettings
from hub.appkeys import ACCESS_LISTENERS, CLOCK, CONFIG, SESSIONMAKER, SETTINGS
from hub.calls import routes as call_routes
from hub.calls.signalling import CALL_OBSERVER, CallService
from hub.family import (
    activity,
    agenda,
    alarms,
    circles,
    conversations,
    groups,
    media_routes,
    pages,
    signup,
    tablets,
    today,
    webpush,
)
from hub.family.access import may_contact
from hub.family.account_messages import ChannelMessenger
from hub.family.alarm_bridge import bridge_ctx
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.parties import user_party
from hub.family.reminders import REMINDERS, make_reminders, reminders_ctx
from hub.family.settings import (
    FAMILY_SETTINGS,
    MEDIA_STORE,
    SECTION,
    TRANSCODE_GATE,
    FamilySettings,
)
from hub.family.signup import ACCOUNT_MESSENGER
from hub.family.ws import CALL_SERVICE, live_socket
from hub.media import LocalDiskStore

_LOGGER = logging.getLogger(__name__)


async def _messenger_ctx(app: web.Application) -> AsyncIterator[None]:
    # Verification and reset codes go out through the same e-mail and SMS settings as
    # alarm notifications ([alarms]); a test or a deployment may set its own messenger.
    if ACCOUNT_MESSENGER in app:
        yield
        return
    alarm_settings = app[CONFIG].section("alarms", AlarmSettings)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        email = (
            EmailChannel(
                SmtpSettings(
                    alarm_settings.smtp_host, alarm_settings.smtp_port, alarm_settings.smtp_sender
                )
            )
            if alarm_settings.smtp_host
            else None
        )
        sms = (
            SmsChannel(
                SmsGatewaySettings(alarm_settings.sms_url, alarm_settings.sms_token or None), http
            )
            if alarm_settings.sms_url
            else None
        )
        app[ACCOUNT_MESSENGER] = ChannelMessenger(email, sms)
        yield


async def _calls_ctx(app: web.Application) -> AsyncIterator[None]:
    service = CallService(
        app[SESSIONMAKER],
        app[LIVE_HUB],
        app[CLOCK],
        may_contact,
        app[FAMILY_SETTINGS].ring_timeout_s,
        observer=app.get(CALL_OBSERVER),
    )
    # Calls a previous process left open cannot be going on: close them as failed.
    if await service.recover():
        _LOGGER.warning("calls left open by the last run were closed as failed (hub_restart)")
    app[CALL_SERVICE] = service
    try:
        yield
    finally:
        await service.close()


def setup(app: web.Application) -> None:
    """Settings, media store, live hub and every ``/api/family`` route."""
    if FAMILY_SETTINGS not in app:
        app[FAMILY_SETTINGS] = app[CONFIG].section(SECTION, FamilySettings)
    if MEDIA_STORE not in app:
        app[MEDIA_STORE] = LocalDiskStore(app[FAMILY_SETTINGS].media_path(app[SETTINGS].data_path))
    app[LIVE_HUB] = live = LiveHub()
    app[TRANSCODE_GATE] = asyncio.Semaphore(1)

    def access_ended(user_id: int, sign_in: str | None) -> None:
        # A logout, a disabled account, a new password or role: that user's sockets close.
        live.close(user_party(user_id), sign_in)

    app[ACCESS_LISTENERS].append(access_ended)
    circles.setup_routes(app)
    tablets.setup_routes(app)
    conversations.setup_routes(app)
    media_routes.setup_routes(app)
    call_routes.setup_routes(app)
    agenda.setup_routes(app)
    groups.setup_routes(app)
    alarms.setup_routes(app)
    activity.setup_routes(app)
    today.setup_routes(app)
    pages.setup_routes(app)
    signup.setup_routes(app)
    app.cleanup_ctx.append(_messenger_ctx)
    app[REMINDERS] = make_reminders(app)
    app.cleanup_ctx.append(reminders_ctx)
    webpush.setup_routes(app)  # its context first: the bridge takes the pusher it makes
    app.cleanup_ctx.append(bridge_ctx)
    app.router.add_get("/api/family/ws", live_socket)
    app.cleanup_ctx.append(_calls_ctx)
