""" "How is she today?": one answer per resident for the family home, per consent.

``GET /api/family/residents/{rid}/today`` gives, of what the resident lets the reader see:

- ``activity``: today's check-in (when "I'm OK" was pressed today, local time, or not yet),
  when activity was last seen at home — a time only, never the room or the sensor — and,
  when the care plan lists medication, doses confirmed and missed per week (4 weeks);
- ``agenda``: the next appointment;
- ``alarms``: an alarm of theirs the family was told about and that is still open.

``shared`` lists the scopes the reader has; what is not shared is absent, not empty.
:class:`TodaySink` follows the ingested events and sends ``today.changed`` to the members
allowed to see activity (a check-in at once; other activity at most once a minute per
resident),
so an open family home refetches; alarm and agenda changes have live events of their own.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import ACTIVITY_EVENT_TYPES
from hub.alarms.adherence import resident_adherence
from hub.alarms.plans import CareService, care_service
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.db.models import Device, Resident, StoredEvent
from hub.family.access import require_reader
from hub.family.consent import Scope, decode_scopes
from hub.family.live import LIVE_HUB
from hub.family.models import AgendaItem, AlarmNotice, CircleLink
from hub.family.principal import family_api, principal_of
from hub.http import ApiError, iso, path_int
from hub.ingest.events import IngestedEvent
from hub.web import DISPLAY_TIMEZONE

_LOGGER = logging.getLogger(__name__)

CHECK_IN = "check_in"
# Events that say she is up and about (never shown: only their time): the ones the
# inactivity rule counts, so a dose confirmed on the tablet is activity here too.
ACTIVITY = tuple(sorted(ACTIVITY_EVENT_TYPES))
# A busy motion sensor must not flood the relatives' sockets.
ACTIVITY_EVERY = timedelta(minutes=1)
ADHERENCE_WEEKS = 4
_ZONE = ZoneInfo(DISPLAY_TIMEZONE)


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day in the service's time zone (aware)."""
    return datetime.combine(now.astimezone(_ZONE).date(), time(0), tzinfo=_ZONE)


async def _last(session: AsyncSession, home_id: int, types: tuple[str, ...]) -> datetime | None:
    devices = select(Device.id).where(Device.home_id == home_id).scalar_subquery()
    value: datetime | None = await session.scalar(
        select(func.max(StoredEvent.ts)).where(
            StoredEvent.device_id.in_(devices), StoredEvent.type.in_(types)
        )
    )
    return value


async def today_view(
    session: AsyncSession,
    resident: Resident,
    scopes: frozenset[Scope],
    now: datetime,
    service: CareService,
) -> dict[str, Any]:
    """The answer for a reader allowed ``scopes`` (see the module docstring)."""
    body: dict[str, Any] = {
        "resident_id": resident.id,
        "name": resident.name,
        "shared": sorted(s.value for s in scopes),
    }
    if Scope.ACTIVITY in scopes:
        check_in = await _last(session, resident.home_id, (CHECK_IN,))
        moved = await _last(session, resident.home_id, ACTIVITY)
        today = check_in is not None and check_in >= local_midnight(now)
        body["check_in"] = {"done_at": iso(check_in) if today and check_in else None}
        # Minutes as the hub counts them: the page says "20 minutes ago" from this, so a
        # phone with a wrong clock does not make it up.
        ago = None if moved is None else max(0, int((now - moved).total_seconds() // 60))
        body["last_activity"] = {"at": iso(moved) if moved else None, "minutes_ago": ago}
        # Medication taken and missed per week (ADR 0152), when the plan lists any.
        doses, weeks = await resident_adherence(session, resident, now, ADHERENCE_WEEKS, service)
        if doses:
            body["medication"] = {"doses": doses, "weeks": [w.view() for w in weeks]}
    if Scope.AGENDA in scopes:
        item = await session.scalar(
            select(AgendaItem)
            .where(
                AgendaItem.resident_id == resident.id,
                AgendaItem.starts_at >= now,
                AgendaItem.status.in_(("confirmed", "accepted")),
            )
            .order_by(AgendaItem.starts_at)
            .limit(1)
        )
        body["next_agenda"] = (
            {"title": item.title, "starts_at": iso(item.starts_at), "kind": item.kind}
            if item
            else None
        )
    if Scope.ALARMS in scopes:
        notice = await session.scalar(
            select(AlarmNotice)
            .where(AlarmNotice.resident_id == resident.id, AlarmNotice.state != "closed")
            .order_by(AlarmNotice.created_at.desc())
            .limit(1)
        )
        body["open_alarm"] = (
            {
                "event_type": notice.event_type,
                "state": notice.state,
                "since": iso(notice.created_at),
            }
            if notice
            else None
        )
    return body


@family_api
async def today(request: web.Request) -> web.Response:
    """``GET /api/family/residents/{rid}/today`` for the resident, staff or a member."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    async with request.app[SESSIONMAKER]() as session:
        scopes = await require_reader(session, who, resident_id)
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise ApiError(404, "resident_unknown", "no such resident")
        body = await today_view(
            session, resident, scopes, request.app[CLOCK](), care_service(request.app)
        )
    return web.json_response(body)


class TodaySink:
    """An ingestion sink: tells the members who may see activity that "today" changed."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._last_sent: dict[int, datetime] = {}  # resident → last movement notice

    async def handle(self, event: IngestedEvent) -> None:
        """Send ``today.changed`` for a check-in, or for other activity once a minute."""
        kind = event.type
        resident_id = event.resident_id
        if resident_id is None or kind not in ACTIVITY_EVENT_TYPES:
            return
        if kind != CHECK_IN:
            last = self._last_sent.get(resident_id)
            if last is not None and event.received_at - last < ACTIVITY_EVERY:
                return
        self._last_sent[resident_id] = event.received_at
        try:
            async with self._app[SESSIONMAKER]() as session:
                links = await session.execute(
                    select(CircleLink.member, CircleLink.consent).where(
                        CircleLink.resident_id == resident_id
                    )
                )
                watchers = [m for m, c in links if Scope.ACTIVITY in decode_scopes(c)]
        except Exception:  # a sink must not raise; the next event tries again
            _LOGGER.exception("today: could not read the circle of resident %s", resident_id)
            return
        if watchers:
            self._app[LIVE_HUB].publish(
                watchers, {"type": "today.changed", "resident_id": resident_id}
            )
