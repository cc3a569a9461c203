"""Alarm notices for the circle, and the "I'm on my way" acknowledgement operators see.

With the alarm engine running, the acknowledgement is also a note on the alarm's history.

Alarms themselves belong to the alerts engine; the family network keeps a notice per
alarm and resident, shows it to the circle members whose consent includes ``alarms``,
and stores their acknowledgements. :class:`FamilyPushChannel` is the adapter of the
alerts engine's ``FamilyPush`` port; staff can also post a notice through the API.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.alarm import Actor, ActorKind, Alarm, add_note
from alerts.channels.base import DeliveryResult, Notification
from alerts.errors import AlarmError, AlertsError
from hub.alarms.engine import AlarmNotFound
from hub.alarms.routes import ALARM_ENGINE
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.clock import Clock
from hub.family import bodies
from hub.family.access import link_of, require_reader
from hub.family.alarm_progress import steps_of
from hub.family.consent import Scope, decode_scopes
from hub.family.jsonio import iso, path_int, text_field
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.models import AlarmAcknowledgement, AlarmNotice, CircleLink
from hub.family.parties import party_names, party_view
from hub.family.principal import family_api, principal_of
from hub.http import ApiError, read_checked

_LOGGER = logging.getLogger(__name__)


async def alarm_watchers(session: AsyncSession, resident_id: int) -> list[str]:
    """Circle members who agreed to hear about the resident's alarms."""
    links = await session.scalars(select(CircleLink).where(CircleLink.resident_id == resident_id))
    return [link.member for link in links if Scope.ALARMS in decode_scopes(link.consent)]


async def notify_family(
    session: AsyncSession,
    live: LiveHub,
    resident_id: int,
    alarm_ref: str,
    event_type: str,
    state: str,
    now: datetime,
) -> tuple[AlarmNotice, int]:
    """Record (or update) the notice of an alarm and push it; return it and how many got it."""
    notice = (
        await session.execute(
            select(AlarmNotice).where(
                AlarmNotice.resident_id == resident_id, AlarmNotice.alarm_ref == alarm_ref
            )
        )
    ).scalar_one_or_none()
    if notice is None:
        notice = AlarmNotice(
            resident_id=resident_id, alarm_ref=alarm_ref, event_type=event_type,
            state=state, created_at=now,
        )  # fmt: skip
        session.add(notice)
    else:
        notice.state = state
    await session.flush()
    watchers = await alarm_watchers(session, resident_id)
    view = await notice_view(session, notice)
    await session.commit()
    return notice, live.publish(watchers, {"type": "alarm.notice", "notice": view})


async def notice_view(
    session: AsyncSession, notice: AlarmNotice, alarm: Alarm | None = None
) -> dict[str, Any]:
    """A notice with its acknowledgements and its alarm's steps (hub/family/alarm_progress)."""
    acks: Sequence[AlarmAcknowledgement] = list(
        await session.scalars(
            select(AlarmAcknowledgement).where(AlarmAcknowledgement.notice_id == notice.id)
        )
    )
    names = await party_names(session, [a.party for a in acks])
    return {
        "id": notice.id,
        "resident_id": notice.resident_id,
        "alarm_ref": notice.alarm_ref,
        "event_type": notice.event_type,
        "state": notice.state,
        "created_at": iso(notice.created_at),
        "acknowledgements": [party_view(a.party, names) | {"at": iso(a.at)} for a in acks],
        "steps": await steps_of(session, notice.alarm_ref, alarm),
    }


class FamilyPushChannel:
    """The alerts engine's ``FamilyPush`` port over the family websocket.

    ``notification.recipient.recipient_id`` is the member's party (``u:3``); ``data``
    carries ``resident_id``, ``event_type`` and optionally ``state``.
    """

    name = "push"

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], live: LiveHub, clock: Clock
    ) -> None:
        self.sessionmaker = sessionmaker
        self.live = live
        self.clock = clock

    async def send(self, notification: Notification) -> DeliveryResult:
        """Store the notice and push it; refused without the member's consent."""
        data = dict(notification.data)
        try:
            resident_id = int(data["resident_id"])
        except (KeyError, ValueError):
            return DeliveryResult(self.name, False, "notification data lacks resident_id")
        party = notification.recipient.recipient_id
        async with self.sessionmaker() as session:
            link = await link_of(session, resident_id, party)
            if link is None or Scope.ALARMS not in decode_scopes(link.consent):
                return DeliveryResult(self.name, False, "no consent to share alarms with them")
            _, sent = await notify_family(
                session, self.live, resident_id, notification.alarm_id,
                data.get("event_type", "alarm"), data.get("state", "open"), self.clock(),
            )  # fmt: skip
        if not self.live.online(party):
            return DeliveryResult(self.name, False, "stored; the person has no open session")
        return DeliveryResult(self.name, sent > 0, reference=notification.alarm_id)


@family_api
async def post_notice(request: web.Request) -> web.Response:
    """Staff (or the alerts integration) tell the circle about an alarm."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    if not who.is_staff:
        raise ApiError(403, "forbidden", "only the centre's staff post alarm notices")
    data = await read_checked(request, bodies.NoticeBody, bodies.TEXT_CODES)
    alarm_ref = text_field(data, "alarm_ref", max_length=64)
    event_type = text_field(data, "event_type", max_length=32)
    state = text_field(data, "state", max_length=16, required=False, default="open")
    async with request.app[SESSIONMAKER]() as session:
        await require_reader(session, who, resident_id)
        notice, sent = await notify_family(
            session, request.app[LIVE_HUB], resident_id, alarm_ref, event_type, state,
            request.app[CLOCK](),
        )  # fmt: skip
        view = await notice_view(session, notice)
    return web.json_response(view | {"pushed": sent}, status=201)


@family_api
async def list_notices(request: web.Request) -> web.Response:
    """Alarm notices of a resident: staff, or members whose consent includes alarms."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    async with request.app[SESSIONMAKER]() as session:
        scopes = await require_reader(session, who, resident_id)
        if Scope.ALARMS not in scopes:
            raise ApiError(403, "consent_required", "the resident has not agreed to share alarms")
        notices = list(
            await session.scalars(
                select(AlarmNotice)
                .where(AlarmNotice.resident_id == resident_id)
                .order_by(AlarmNotice.id.desc())
                .limit(50)
            )
        )
        out = [await notice_view(session, n) for n in notices]
    return web.json_response(out)


@family_api
async def on_my_way(request: web.Request) -> web.Response:
    """A member says "I'm on my way"; the operators see it on the notice and in the audit."""
    who = await principal_of(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        notice = await session.get(AlarmNotice, path_int(request, "notice_id"))
        if notice is None:
            raise ApiError(404, "not_found", "no such alarm notice")
        scopes = await require_reader(session, who, notice.resident_id)
        if Scope.ALARMS not in scopes or who.is_staff or who.is_tablet:
            raise ApiError(
                403, "consent_required", "only circle members told of the alarm can answer"
            )
        if await session.get(AlarmAcknowledgement, (notice.id, who.party)) is None:
            session.add(AlarmAcknowledgement(notice_id=notice.id, party=who.party, at=now))
            await record_audit(
                session, who.actor, "family.on_my_way", f"alarm:{notice.alarm_ref}",
                {"resident_id": notice.resident_id, "notice_id": notice.id},
            )  # fmt: skip
            await session.flush()
        view = await notice_view(session, notice)
        watchers = await alarm_watchers(session, notice.resident_id)
        names = await party_names(session, [who.party])
        await session.commit()
    # The operator sees it on the alarm itself when the hub runs the alarm engine.
    view["on_alarm"] = await note_on_my_way(
        request.app, notice.alarm_ref, notice.resident_id, who.party, names[who.party]
    )
    request.app[LIVE_HUB].publish(watchers, {"type": "alarm.notice", "notice": view})
    return web.json_response(view)


async def note_on_my_way(
    app: web.Application, alarm_ref: str, resident_id: int, party: str, name: str
) -> bool:
    """Add "on my way" to the engine's alarm; False when there is no such engine alarm."""
    engine = app.get(ALARM_ENGINE)
    if engine is None:
        return False
    actor = Actor(ActorKind.CONTACT, party, name)
    now = app[CLOCK]()

    def change(alarm: Alarm) -> Alarm:
        if alarm.resident_id != str(resident_id):
            raise AlarmError(alarm.id, "the notice and the alarm are about different residents")
        return add_note(alarm, actor, now, f"{name}: on my way (Hi vaig)")

    try:
        await engine.act(
            alarm_ref, change, audit_actor=party, audit_action="alarm.family_on_my_way",
            details={"party": party},
        )  # fmt: skip
    except (AlarmNotFound, AlertsError) as err:
        _LOGGER.info("on-my-way not added to alarm %s: %s", alarm_ref, err)
        return False
    return True


def setup_routes(app: web.Application) -> None:
    """Add the alarm notice routes."""
    app.router.add_get("/api/family/residents/{rid}/alarm-notices", list_notices)
    app.router.add_post("/api/family/residents/{rid}/alarm-notices", post_notice)
    app.router.add_post("/api/family/alarm-notices/{notice_id}/on-my-way", on_my_way)
