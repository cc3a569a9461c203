"""Messages from the centre to residents' tablets (issue 22, item 4).

``GET /api/console/residents/{id}/messages`` lists what was sent to the resident's tablet
(messages, agenda and medication reminders) and what became of each: sent, received, shown,
postponed (and until when), acknowledged, expired (:mod:`hub.ingest.delivery`, ADR 0163).

``POST /api/console/messages`` with ``{"resident_ids": [...], "text": "...", "language": null,
"speak": true, "confirm": false}``: the text is shown (and spoken, unless ``speak`` is false) on
each resident's tablet (``PlayMessage``), in the resident's language unless one is given; with
``confirm`` the resident is asked to press "I've read it" and the card waits for it. One
resident or a group (up to 500: a heat warning for an area).
The answer says who got it and who has no tablet to send it to; the audit names the residents
and the text (what the centre told people is part of the record).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.alarms.keys import ALARM_EFFECTS
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import TabletMessage
from hub.console.residents import _resident_id as resident_id_of
from hub.db.models import Resident
from hub.http import ApiError, read_checked
from hub.ingest import delivery

SENDERS = (Role.OPERATOR, Role.SUPERVISOR, Role.COORDINATOR)
READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
LIST_LIMIT = 20
# The form says these in words (an empty text, one over the limit).
TEXT_CODES = {"$.text": "text_empty", "$.text>max": "text_too_long"}


@requires(*SENDERS)
async def send_message(request: web.Request) -> web.Response:
    """Send a message to the residents' tablets; ``{"sent": [...], "no_tablet": [...]}``."""
    data = await read_checked(request, TabletMessage, TEXT_CODES)
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
        delivered = await effects.play_message(
            str(home_id), text, chosen or language, now,
            resident_id=resident_id, sent_by=user.username,
            speak=data.get("speak", True), confirm=data.get("confirm", False),
        )  # fmt: skip
        (sent if delivered else missing).append(resident_id)
    async with request.app[SESSIONMAKER]() as session:
        await record_audit(
            session,
            user.username,
            "tablet.message",
            "residents:" + ",".join(str(i) for i in ids[:50]) + ("…" if len(ids) > 50 else ""),
            {
                "text": text,
                "speak": data.get("speak", True),
                "confirm": data.get("confirm", False),
                "sent": len(sent),
                "no_tablet": sorted(missing),
            },
            at=now,
        )
        await session.commit()
    return web.json_response({"sent": sorted(sent), "no_tablet": sorted(missing)})


@requires(*READERS)
async def resident_messages(request: web.Request) -> web.Response:
    """The last messages and reminders sent to the resident's tablet, newest first, each with
    its state at the hub's clock (the card reads it again every few seconds)."""
    resident_id = resident_id_of(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(Resident, resident_id) is None:
            raise ApiError(404, "not_found", "no such resident")
        items = await delivery.recent(session, resident_id, now, LIST_LIMIT)
    return web.json_response({"now": now.isoformat(), "messages": items})
