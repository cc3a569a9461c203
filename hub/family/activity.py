"""A resident's daily activity summary for circle members with consent ``activity``.

Built from the device events the hub stored (``events`` table): when the resident last
said "I'm OK", when movement was last seen at home, and how many events came in over the
last 24 hours. Only times and counts: never the events themselves.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import func, select

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.db.models import Device, Resident, StoredEvent
from hub.family.access import require_reader
from hub.family.consent import ConsentError, Scope, require_scope
from hub.family.principal import family_api, principal_of
from hub.http import ApiError, iso, path_int


@family_api
async def activity_summary(request: web.Request) -> web.Response:
    """``{"last_check_in", "last_movement", "events_24h"}`` for the resident."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        scopes = await require_reader(session, who, resident_id)
        try:
            require_scope(scopes, Scope.ACTIVITY)
        except ConsentError as err:
            raise ApiError(403, err.code, err.message) from None
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise ApiError(404, "resident_unknown", "no such resident")
        devices = select(Device.id).where(Device.home_id == resident.home_id).scalar_subquery()
        of_home = StoredEvent.device_id.in_(devices)

        async def last(*types: str) -> object:
            return await session.scalar(
                select(func.max(StoredEvent.ts)).where(of_home, StoredEvent.type.in_(types))
            )

        check_in = await last("check_in")
        movement = await last("motion", "door_open", "door_close", "bed_exit", "bed_return")
        count = await session.scalar(
            select(func.count(StoredEvent.id)).where(
                of_home, StoredEvent.ts >= now - timedelta(hours=24)
            )
        )
    return web.json_response(
        {
            "resident_id": resident_id,
            "last_check_in": iso(check_in) if check_in else None,  # type: ignore[arg-type]
            "last_movement": iso(movement) if movement else None,  # type: ignore[arg-type]
            "events_24h": int(count or 0),
        }
    )
