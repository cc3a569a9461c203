"""Messages from the centre to residents' tablets (issue 22, item 4).

``POST /api/console/messages`` with ``{"resident_ids": [...], "text": "...", "language": null}``:
the text is shown and spoken on each resident's tablet (``PlayMessage``), in the resident's
language unless one is given. One resident or a group (up to 500: a heat warning for an area).
The answer says who got it and who has no tablet to send it to; the audit names the residents
and the text (what the centre told people is part of the record).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.alarms.routes import ALARM_EFFECTS
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import TabletMessage
from hub.db.models import Resident
from hub.http import ApiError, read_checked

SENDERS = (Role.OPERATOR, Role.SUPERVISOR, Role.COORDINATOR)


@requires(*SENDERS)
async def send_message(request: web.Request) -> web.Response:
    """Send a message to the residents' tablets; ``{"sent": [...], "no_tablet": [...]}``."""
    data = await read_checked(request, TabletMessage)
    ids = sorted(set(data["resident_ids"]))
    text = " ".join(str(data["text"]).split())
    chosen = data.get("language")
    user, now = current_user(request), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        rows = (
            await session.execute(
                select(Resident.id, Resident.home_id, Resident.language).where(Resident.id.in_(ids))
            )
        ).all()
    unknown = sorted(set(ids) - {row.id for row in rows})
    if unknown:
        raise ApiError(404, "not_found", f"no such residents: {unknown[:10]}")
    effects = request.app[ALARM_EFFECTS]
    sent: list[int] = []
    missing: list[int] = []
    for resident_id, home_id, language in rows:
        delivered = await effects.play_message(str(home_id), text, chosen or language, now)
        (sent if delivered else missing).append(resident_id)
    async with request.app[SESSIONMAKER]() as session:
        await record_audit(
            session,
            user.username,
            "tablet.message",
            "residents:" + ",".join(str(i) for i in ids[:50]) + ("…" if len(ids) > 50 else ""),
            {"text": text, "sent": len(sent), "no_tablet": sorted(missing)},
            at=now,
        )
        await session.commit()
    return web.json_response({"sent": sorted(sent), "no_tablet": sorted(missing)})


def setup(app: web.Application) -> None:
    """Add the message route."""
    app.router.add_post("/api/console/messages", send_message)
