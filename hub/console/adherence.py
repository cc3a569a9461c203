"""Medication adherence per week, for the centre (issue 22, item 3).

``GET /api/console/residents/{id}/adherence?weeks=4``: per local week the doses the care
plan expected (grace over), confirmed and missed (counted by :mod:`hub.alarms.adherence`,
which the family app and the visor share).
"""

from __future__ import annotations

from aiohttp import web

from hub.alarms.adherence import MAX_WEEKS, resident_adherence
from hub.alarms.plans import care_service
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth import Role, requires
from hub.db.models import Resident
from hub.http import ApiError

READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)


@requires(*READERS)
async def adherence(request: web.Request) -> web.Response:
    """The resident's medication adherence per week."""
    try:
        resident_id = int(request.match_info["resident_id"])
        weeks = int(request.query.get("weeks", "4"))
    except ValueError:
        raise ApiError(400, "invalid_request", "resident and weeks are numbers") from None
    if not 1 <= weeks <= MAX_WEEKS:
        raise ApiError(400, "invalid_request", f"weeks is 1 to {MAX_WEEKS}")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise ApiError(404, "not_found", "no such resident")
        doses, weeks_seen = await resident_adherence(
            session, resident, now, weeks, care_service(request.app)
        )
    return web.json_response({"doses": doses, "weeks": [w.view() for w in weeks_seen]})
