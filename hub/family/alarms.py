"""Alarm notices for the circle, and the "I'm on my way" acknowledgement operators see.

With the alarm engine running, the acknowledgement is also a note on the alarm's history.

Alarms themselves belong to the alerts engine; the family network keeps a notice per
alarm and resident, shows it to the circle members whose consent includes ``alarms``,
and stores their acknowledgements. :class:`FamilyPushChannel` is the adapter of the
alerts engine's ``FamilyPush`` port; staff can also post a notice through the API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from alerts.alarm import Actor, ActorKind, Alarm, add_note
from alerts.channels.base import DeliveryResult, Notification
from alerts.errors import AlarmError, AlertsError
from hub.alarms.engine import AlarmNotFound
from hub.alarms.keys import ALARM_ENGINE
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.clock import Clock
from hub.family import bodies
from hub.family.access import link_of, require_reader
from hub.family.alarm_progress import steps_of
from hub.family.alarm_stage import stage_of
from hub.family.consent import Scope, decode_scopes
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.missed_dose_refs import dose_of
from hub.family.models import AlarmAcknowledgement, AlarmNotice, CircleLink
from hub.family.parties import party_names, party_view
from hub.family.principal import family_api, principal_of
from hub.http import ApiError, iso, path_int, read_checked, text_field

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
    *,
    mirror: bool = True,
) -> tuple[AlarmNotice, int]:
    """Record (or update) the notice of an alarm and push it; return it and how many got it.
    ``mirror=False`` when every worker makes the same call (the bridge, docs/adr/0181)."""
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
    await restage(session, notice, view)
    await session.commit()
    return notice, live.publish(watchers, {"type": "alarm.notice", "notice": view}, mirror=mirror)


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
        "acknowledgements": [
            party_view(a.party, names) | {"at": iso(a.at), "answer": a.answer} for a in acks
        ],
        "steps": await steps_of(session, notice.alarm_ref, alarm),
        "stage": notice.stage,
        # A missed dose's notice (hub/family/missed_doses.py) names the dose.
        "dose": dose_of(notice.alarm_ref) if notice.event_type == "medication_missed" else None,
    }


async def restage(session: AsyncSession, notice: AlarmNotice, view: dict[str, Any]) -> bool:
    """Store the stage ``view`` (from :func:`notice_view`) implies; True when this call
    changed it. Conditional, so of several workers writing the same stage one gets True
    and pushes it (the caller commits)."""
    stage = stage_of(notice.state, view["steps"], [a["answer"] for a in view["acknowledgements"]])
    view["stage"] = stage
    if notice.stage == stage:
        return False
    written = await session.execute(
        update(AlarmNotice)
        .where(AlarmNotice.id == notice.id, AlarmNotice.stage != stage)
        .values(stage=stage)
    )
    set_committed_value(notice, "stage", stage)
    return bool(written.rowcount)  # type: ignore[attr-defined]


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


# Called once per new stage of a notice, by the worker whose write made it: Web Push to
# the app's subscriptions and SMS to key holders without the app (hub/family/alarm_bridge.py).
OnChange = Callable[[AlarmNotice, list[str], datetime], Awaitable[object]]
NOTICE_CHANGED = web.AppKey("family_notice_changed", list[OnChange])


async def tell_change(app: web.Application, notice: AlarmNotice, watchers: list[str]) -> None:
    """Run every :data:`NOTICE_CHANGED` hook for a new stage (a failing one is logged)."""
    for hook in app.get(NOTICE_CHANGED, []):
        try:
            await hook(notice, watchers, app[CLOCK]())
        except Exception:  # one channel down must not keep the others from telling
            _LOGGER.exception("telling the family about a new alarm stage failed")


async def answer_notice(
    app: web.Application,
    notice: AlarmNotice,
    party: str,
    answer: str,
    audit_actor: str,
    channel: str,
    *,
    note_on_alarm: bool = True,
) -> dict[str, Any]:
    """Record ``party``'s answer (``on_my_way`` / ``cannot``) to an open notice, note it on
    the engine's alarm, tell the circle live and push a new stage; the notice's view.
    ``note_on_alarm`` False: the alarm has its own entry already (a key pressed on the
    operator's call, ``on_my_way`` in its history: ADR 0160).

    The same answer again changes nothing; a changed mind replaces the answer."""
    now = app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        notice = await session.get(AlarmNotice, notice.id, populate_existing=True) or notice
        if notice.state == "closed":
            raise ApiError(409, "alarm_closed", "this alarm is over; no answer is needed")
        ack = await session.get(AlarmAcknowledgement, (notice.id, party))
        changed = ack is None or ack.answer != answer
        if ack is None:
            session.add(AlarmAcknowledgement(notice_id=notice.id, party=party, at=now,
                                             answer=answer))  # fmt: skip
        elif changed:
            ack.answer, ack.at = answer, now
        if changed:
            await record_audit(
                session, audit_actor, f"family.{answer}", f"alarm:{notice.alarm_ref}",
                {"resident_id": notice.resident_id, "notice_id": notice.id, "channel": channel},
            )  # fmt: skip
        await session.flush()
        view = await notice_view(session, notice)
        staged = await restage(session, notice, view)
        watchers = await alarm_watchers(session, notice.resident_id)
        names = await party_names(session, [party])
        await session.commit()
    # The operator sees it on the alarm itself when the hub runs the alarm engine.
    view["on_alarm"] = (
        changed
        and note_on_alarm
        and await note_answer(
            app, notice.alarm_ref, notice.resident_id, party, names[party], answer, channel
        )
    )
    app[LIVE_HUB].publish(watchers, {"type": "alarm.notice", "notice": view})
    if staged:
        await tell_change(app, notice, watchers)
    return view


async def _answer_from_app(request: web.Request, answer: str) -> web.Response:
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        notice = await session.get(AlarmNotice, path_int(request, "notice_id"))
        if notice is None:
            raise ApiError(404, "not_found", "no such alarm notice")
        scopes = await require_reader(session, who, notice.resident_id)
        if Scope.ALARMS not in scopes or who.is_staff or who.is_tablet:
            raise ApiError(
                403, "consent_required", "only circle members told of the alarm can answer"
            )
    view = await answer_notice(request.app, notice, who.party, answer, who.actor, "app")
    return web.json_response(view)


@family_api
async def on_my_way(request: web.Request) -> web.Response:
    """A member says "I'm on my way"; the operators see it on the alarm, live."""
    return await _answer_from_app(request, "on_my_way")


@family_api
async def cannot(request: web.Request) -> web.Response:
    """A member says "I can't go"; the operators see it on the alarm, live."""
    return await _answer_from_app(request, "cannot")


# The note's text for a reader of the raw history; the console words it from the detail.
_NOTE_TEXT = {"on_my_way": "on my way (Hi vaig)", "cannot": "cannot come (No hi puc anar)"}


async def note_answer(
    app: web.Application,
    alarm_ref: str,
    resident_id: int,
    party: str,
    name: str,
    answer: str,
    channel: str,
) -> bool:
    """Add the answer to the engine's alarm; False when there is no such engine alarm."""
    engine = app.get(ALARM_ENGINE)
    if engine is None:
        return False
    actor = Actor(ActorKind.CONTACT, party, name)
    now = app[CLOCK]()
    extra = {"family_answer": answer, "channel": channel}

    def change(alarm: Alarm) -> Alarm:
        if alarm.resident_id != str(resident_id):
            raise AlarmError(alarm.id, "the notice and the alarm are about different residents")
        return add_note(alarm, actor, now, f"{name}: {_NOTE_TEXT[answer]}", extra=extra)

    try:
        await engine.act(
            alarm_ref, change, audit_actor=party, audit_action=f"alarm.family_{answer}",
            details={"party": party, "channel": channel},
        )  # fmt: skip
    except (AlarmNotFound, AlertsError) as err:
        _LOGGER.info("family answer not added to alarm %s: %s", alarm_ref, err)
        return False
    return True
