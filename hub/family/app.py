"""The family network's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``).

Every route of the context is added here, from the handlers of its feature modules (one
module per concept: ``circles.py``, ``conversations.py``, ``groups.py`` …), together with its
settings, media store, live hub, and the lifespans of the account messenger, reminders, video
jobs, web push, SMS answers, the alarm bridge and the call service.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from alerts.channels import EmailChannel, SmsChannel, SmsGatewaySettings, SmtpSettings
from hub.alarms.keys import FANOUT_RELAYS
from hub.alarms.missed_doses import MISSED_DOSE_SINK
from hub.alarms.settings import AlarmSettings
from hub.appkeys import ACCESS_LISTENERS, CLOCK, CONFIG, ENGINE, SESSIONMAKER, SETTINGS
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
    sms_answers,
    tablets,
    today,
    video_jobs,
    webpush,
)
from hub.family.access import may_contact
from hub.family.account_messages import ChannelMessenger
from hub.family.alarm_bridge import bridge_ctx
from hub.family.calls import routes as call_routes
from hub.family.calls.across import CALL_LINKS, CallLinks
from hub.family.calls.signalling import CALL_OBSERVER, CallService
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.live_fanout import LIVE_MIRROR, LiveMirror
from hub.family.missed_doses import FamilyMissedDoses
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
from hub.family.video_fanout import VideoRelay
from hub.family.video_jobs import VIDEO_JOBS
from hub.family.ws import CALL_SERVICE, live_socket
from hub.ingest.keys import EVENT_SINKS
from hub.media import LocalDiskStore
from hub.registry.keys import TABLET_TOKEN_ISSUER
from hub.tasks import cancel_and_wait

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


async def _live_mirror_ctx(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, this worker's family events go to the others' sockets (ADR 0181)."""
    live, mirror = app[LIVE_HUB], app[LIVE_MIRROR]
    if app[ENGINE].dialect.name != "postgresql":
        yield  # SQLite serves one worker
        return
    task = asyncio.create_task(mirror.run(), name="family-live-mirror")
    live.mirror, live.mirror_close = mirror.offer, mirror.offer_close
    try:
        yield
    finally:
        live.mirror = live.mirror_close = None
        await cancel_and_wait([task])


async def _calls_ctx(app: web.Application) -> AsyncIterator[None]:
    service = CallService(
        app[SESSIONMAKER],
        app[LIVE_HUB],
        app[CLOCK],
        may_contact,
        app[FAMILY_SETTINGS].ring_timeout_s,
        observer=app.get(CALL_OBSERVER),
    )
    clustered = app[ENGINE].dialect.name == "postgresql"
    if clustered:  # the rows of the calls held here name this worker (ADR 0185)
        service.holder = app[CALL_LINKS].origin
    # Calls a previous process left open cannot be going on: close them as failed (with
    # several workers, those whose worker stopped holding them).
    if await service.recover():
        _LOGGER.warning("calls left open by the last run were closed as failed (hub_restart)")
    app[CALL_SERVICE] = service
    tasks = []
    if clustered:
        # A call's parties may be on different workers (ADR 0185); SQLite serves one worker.
        links = app[CALL_LINKS]
        service.links, links.holder = links, service
        tasks.append(asyncio.create_task(links.run(), name="family-call-links"))
        tasks.append(asyncio.create_task(service.keep(), name="family-call-holds"))
    try:
        yield
    finally:
        if tasks:
            await cancel_and_wait(tasks)
            service.links = app[CALL_LINKS].holder = None
        await service.close()


def setup(app: web.Application) -> None:
    """Settings, media store, live hub, lifespans and every family route."""
    if FAMILY_SETTINGS not in app:
        app[FAMILY_SETTINGS] = app[CONFIG].section(SECTION, FamilySettings)
    if MEDIA_STORE not in app:
        app[MEDIA_STORE] = LocalDiskStore(app[FAMILY_SETTINGS].media_path(app[SETTINGS].data_path))
    app[LIVE_HUB] = live = LiveHub()
    # Missed doses of plans that tell the family (the alarm engine reads this at its start).
    app[MISSED_DOSE_SINK] = FamilyMissedDoses(app)
    app[TRANSCODE_GATE] = asyncio.Semaphore(1)
    app[alarms.NOTICE_CHANGED] = []  # filled by the push and SMS contexts

    def access_ended(user_id: int, sign_in: str | None) -> None:
        # A logout, a disabled account, a new password or role: that user's sockets close.
        live.close(user_party(user_id), sign_in)

    app[ACCESS_LISTENERS].append(access_ended)
    # Circles and linking codes (circles.py).
    app.router.add_get("/api/family/me", circles.me)
    app.router.add_post("/api/family/residents/{rid}/linking-codes", circles.create_code)
    app.router.add_post("/api/family/links", circles.redeem_code)
    app.router.add_get("/api/family/residents", circles.my_residents)
    app.router.add_get("/api/family/residents/{rid}/circle", circles.circle)
    app.router.add_patch("/api/family/links/{link_id}", circles.update_link)
    app.router.add_delete("/api/family/links/{link_id}", circles.remove_link)
    # The resident's tablets (tablets.py).
    # Pairing gives a new tablet its token through us (hub.registry.keys).
    app[TABLET_TOKEN_ISSUER] = tablets.grant_tablet_token
    app.router.add_post("/api/family/tablet/token", tablets.renew_tablet_token)
    app.router.add_get("/api/family/residents/{rid}/tablets", tablets.list_tablets)
    app.router.add_delete("/api/family/tablets/{device_id}", tablets.revoke_tablet)
    # Conversations and messages (conversations.py).
    app.router.add_get("/api/family/conversations", conversations.list_conversations)
    app.router.add_post("/api/family/conversations", conversations.open_direct)
    app.router.add_get("/api/family/conversations/{cid}/messages", conversations.history)
    app.router.add_post("/api/family/conversations/{cid}/messages", conversations.post_message)
    app.router.add_post("/api/family/conversations/{cid}/read", conversations.mark_read)
    app.router.add_delete("/api/family/messages/{mid}", conversations.delete_message)
    app.router.add_get("/api/family/unread", conversations.unread)
    # Photos and other media (media_routes.py).
    app.router.add_post("/api/family/media", media_routes.upload)
    app.router.add_get("/api/family/media/{media_id}", media_routes.get_media)
    app.router.add_get("/api/family/media/{media_id}/thumbnail", media_routes.get_thumbnail)
    # Video messages, prepared by a durable job (video_jobs.py).
    app.router.add_post("/api/family/conversations/{cid}/videos", video_jobs.upload_video)
    app.router.add_delete("/api/family/video-uploads/{uid}", video_jobs.withdraw_upload)
    app.cleanup_ctx.append(video_jobs.video_jobs_ctx)
    # What another worker's job finished reaches the sockets of this one (ADR 0172).
    relay = VideoRelay(
        lambda: app[SESSIONMAKER],
        app[LIVE_HUB],
        lambda: jobs.worker if (jobs := app.get(VIDEO_JOBS)) is not None else None,
    )
    app[FANOUT_RELAYS].append(relay.relay())
    # Every other family event reaches the other workers' sockets too (ADR 0181).
    origin = f"{app[SETTINGS].ingest_client_id or 'hub'}-{secrets.token_hex(4)}"[-48:]
    app[LIVE_MIRROR] = LiveMirror(lambda: app[SESSIONMAKER], app[LIVE_HUB], origin)
    app[FANOUT_RELAYS].append(app[LIVE_MIRROR].relay())
    app.cleanup_ctx.append(_live_mirror_ctx)
    # Calls whose parties' sockets are on different workers (ADR 0185).
    app[CALL_LINKS] = CallLinks(lambda: app[SESSIONMAKER], app[LIVE_HUB], origin)
    app[FANOUT_RELAYS].append(app[CALL_LINKS].relay())
    # Video calls: configuration and history (calls/routes.py).
    app.router.add_get("/api/family/calls/config", call_routes.call_config)
    app.router.add_get("/api/family/calls", call_routes.call_history)
    # The agenda (agenda.py).
    app.router.add_get("/api/family/residents/{rid}/agenda", agenda.list_agenda)
    app.router.add_post("/api/family/residents/{rid}/agenda", agenda.add_item)
    app.router.add_post("/api/family/agenda/{item_id}/respond", agenda.respond)
    app.router.add_delete("/api/family/agenda/{item_id}", agenda.remove_item)
    # Groups and invitations (groups.py).
    app.router.add_post("/api/family/groups", groups.create_group)
    app.router.add_get("/api/family/groups", groups.list_groups)
    app.router.add_get("/api/family/groups/{gid}", groups.group_detail)
    app.router.add_post("/api/family/groups/{gid}/members", groups.add_member)
    app.router.add_delete("/api/family/groups/{gid}/members/{rid}", groups.remove_member)
    app.router.add_post("/api/family/groups/{gid}/events", groups.group_event)
    app.router.add_post("/api/family/groups/{gid}/invitations", groups.invite)
    app.router.add_get("/api/family/invitations", groups.my_invitations)
    app.router.add_get("/api/family/group-requests", groups.group_requests)
    app.router.add_post("/api/family/groups/{gid}/respond", groups.answer_group_request)
    app.router.add_post("/api/family/invitations/{inv_id}/respond", groups.answer_invitation)
    # Alarm notices and relatives' answers (alarms.py).
    app.router.add_get("/api/family/residents/{rid}/alarm-notices", alarms.list_notices)
    app.router.add_post("/api/family/residents/{rid}/alarm-notices", alarms.post_notice)
    app.router.add_post("/api/family/alarm-notices/{notice_id}/on-my-way", alarms.on_my_way)
    app.router.add_post("/api/family/alarm-notices/{notice_id}/cannot", alarms.cannot)
    # The day's activity (activity.py).
    app.router.add_get("/api/family/residents/{rid}/activity", activity.activity_summary)
    # Today's summary (today.py).
    app.router.add_get("/api/family/residents/{rid}/today", today.today)
    if EVENT_SINKS in app:  # follow ingested events when the hub ingests
        app[EVENT_SINKS].append(today.TodaySink(app))
    # The family app's pages and static files (pages.py).
    app.router.add_static(pages.STATIC_PREFIX, pages.HERE / "static", name="family-static")
    app.router.add_get("/family", pages.home)
    app.router.add_get("/family/chat/{cid}", pages.chat)
    app.router.add_get("/family/chat/direct/{party}", pages.chat_with)
    app.router.add_get("/family/call/{party}", pages.call)
    app.router.add_get("/family/agenda", pages.agenda)
    app.router.add_get("/family/groups", pages.groups)
    app.router.add_get("/family/join", pages.join)
    app.router.add_get("/family/sw.js", pages.service_worker)
    app.router.add_get("/family/manifest.webmanifest", pages.manifest)
    app.router.add_get("/family/reset", pages.reset)
    # Public sign-up and password reset (signup.py).
    app.router.add_post("/api/family/signup", signup.start_signup)
    app.router.add_post("/api/family/signup/{sid}/verify", signup.verify_signup)
    app.router.add_post("/api/auth/password-reset", signup.start_reset)
    app.router.add_post("/api/auth/password-reset/{rid}/confirm", signup.confirm_reset)
    # Account messages, reminders to the tablet.
    app.cleanup_ctx.append(_messenger_ctx)
    app[REMINDERS] = make_reminders(app)
    app.cleanup_ctx.append(reminders_ctx)
    # Their contexts first: the bridge's hooks are the pusher and the SMS they make.
    # Web push subscriptions (webpush.py).
    app.router.add_get("/api/family/push/key", webpush.push_key)
    app.router.add_post("/api/family/push/subscriptions", webpush.subscribe)
    app.router.add_delete("/api/family/push/subscriptions", webpush.unsubscribe)
    app.cleanup_ctx.append(webpush.push_ctx)
    # Relatives' SMS replies (sms_answers.py).
    app.router.add_post("/api/family/sms/replies", sms_answers.sms_reply)
    app.cleanup_ctx.append(sms_answers.sms_ctx)
    # Alarm notices to relatives, the live socket and the call service.
    app.cleanup_ctx.append(bridge_ctx)
    app.router.add_get("/api/family/ws", live_socket)
    app.cleanup_ctx.append(_calls_ctx)
