"""The resident's agenda: appointments and invitations with accept/decline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.family import bodies
from hub.family.access import link_of, require_reader
from hub.family.consent import ConsentError, Scope, decode_scopes, require_scope
from hub.family.live import LIVE_HUB
from hub.family.models import AgendaItem, CircleLink
from hub.family.parties import party_names, party_view, resident_party
from hub.family.principal import Principal, family_api, principal_of
from hub.family.sending import count_post
from hub.http import ApiError, int_field, iso, path_int, read_checked, text_field, time_field

KINDS = ("visit", "appointment", "activity", "other")
MAX_REMIND_S = 7 * 24 * 3600


def item_view(item: AgendaItem, names: dict[str, str]) -> dict[str, Any]:
    """An agenda item for JSON answers."""
    return {
        "id": item.id,
        "resident_id": item.resident_id,
        "title": item.title,
        "kind": item.kind,
        "starts_at": iso(item.starts_at),
        "ends_at": iso(item.ends_at),
        "status": item.status,
        "created_by": party_view(item.created_by, names),
        "group_id": item.group_id,
        "remind_before_s": item.remind_before_s,
    }


async def circle_parties(session: AsyncSession, resident_id: int) -> list[str]:
    """The resident and the members of their circle who may see the agenda (who hear about
    agenda changes), as their consent stands now."""
    links = await session.execute(
        select(CircleLink.member, CircleLink.consent).where(CircleLink.resident_id == resident_id)
    )
    allowed = [member for member, consent in links if Scope.AGENDA in decode_scopes(consent)]
    return [resident_party(resident_id), *allowed]


async def require_agenda_reader(session: AsyncSession, who: Principal, resident_id: int) -> None:
    """The resident, staff, and members the resident lets see the agenda (403 otherwise)."""
    try:
        require_scope(await require_reader(session, who, resident_id), Scope.AGENDA)
    except ConsentError as err:
        raise ApiError(403, err.code, err.message) from None


def new_item(
    who: Principal,
    resident_id: int,
    data: dict[str, Any],
    now: datetime,
    group_id: int | None = None,
) -> AgendaItem:
    """Validate a request body into an item (``pending`` unless the resident or staff made it)."""
    title = text_field(data, "title", max_length=200)
    kind = data.get("kind", "group" if group_id else "visit")
    if group_id is not None:
        kind = "activity"
    if kind not in KINDS:
        raise ApiError(400, "invalid_request", f"kind must be one of {', '.join(KINDS)}")
    starts_at = time_field(data, "starts_at")
    ends_at = time_field(data, "ends_at", required=False)
    assert starts_at is not None
    if ends_at is not None and ends_at <= starts_at:
        raise ApiError(400, "invalid_request", "ends_at must be after starts_at")
    if starts_at < now - timedelta(hours=1):
        raise ApiError(400, "in_the_past", "the appointment is in the past")
    remind = int_field(data, "remind_before_s", required=False)
    remind = 3600 if remind is None else remind
    if not 0 <= remind <= MAX_REMIND_S:
        raise ApiError(400, "invalid_request", "remind_before_s must be between 0 and 7 days")
    own = who.resident_id == resident_id or who.is_staff
    return AgendaItem(
        resident_id=resident_id,
        title=title,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        status="confirmed" if own else "pending",
        created_by=who.party,
        group_id=group_id,
        remind_before_s=remind,
        created_at=now,
    )


@family_api
async def list_agenda(request: web.Request) -> web.Response:
    """Items from ``from`` (default: now − 1 day) to ``to`` (default: + 30 days)."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    now = request.app[CLOCK]()
    bounds = {k: request.query[k] for k in ("from", "to") if k in request.query}
    start = time_field(bounds, "from", required=False) or now - timedelta(days=1)
    end = time_field(bounds, "to", required=False) or now + timedelta(days=30)
    async with request.app[SESSIONMAKER]() as session:
        await require_agenda_reader(session, who, resident_id)
        items = list(
            await session.scalars(
                select(AgendaItem)
                .where(
                    AgendaItem.resident_id == resident_id,
                    AgendaItem.starts_at >= start,
                    AgendaItem.starts_at < end,
                )
                .order_by(AgendaItem.starts_at)
            )
        )
        names = await party_names(session, [i.created_by for i in items])
    return web.json_response([item_view(i, names) for i in items])


@family_api
async def add_item(request: web.Request) -> web.Response:
    """Put an appointment on the resident's agenda (an invitation if someone else adds it)."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    data = await read_checked(request, bodies.AgendaBody, bodies.TEXT_CODES)
    await count_post(request, who)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        await require_agenda_reader(session, who, resident_id)
        item = new_item(who, resident_id, data, now)
        session.add(item)
        await session.flush()
        await record_audit(session, who.actor, "family.agenda_add", f"agenda:{item.id}")
        names = await party_names(session, [who.party])
        parties = await circle_parties(session, resident_id)
        await session.commit()
    view = item_view(item, names)
    request.app[LIVE_HUB].publish(parties, {"type": "agenda.changed", "item": view})
    return web.json_response(view, status=201)


@family_api
async def respond(request: web.Request) -> web.Response:
    """The resident accepts or declines an invitation."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.AnswerBody, bodies.TEXT_CODES)
    answer = data.get("answer")
    if answer not in ("accept", "decline"):
        raise ApiError(400, "invalid_request", "answer must be 'accept' or 'decline'")
    async with request.app[SESSIONMAKER]() as session:
        item = await session.get(AgendaItem, path_int(request, "item_id"))
        if item is None:
            raise ApiError(404, "not_found", "no such agenda item")
        if who.resident_id != item.resident_id and not who.is_staff:
            raise ApiError(403, "forbidden", "only the resident answers their invitations")
        if item.status != "pending":
            raise ApiError(409, "already_answered", f"this invitation is already {item.status}")
        item.status = "accepted" if answer == "accept" else "declined"
        await record_audit(session, who.actor, f"family.agenda_{answer}", f"agenda:{item.id}")
        names = await party_names(session, [item.created_by])
        parties = await circle_parties(session, item.resident_id)
        # Whoever proposed it hears the answer: a group's facilitator, or a member who may
        # still see the agenda (not one taken out of the circle or whose consent was narrowed).
        creator_link = await link_of(session, item.resident_id, item.created_by)
        if item.group_id is not None or (
            creator_link is not None and Scope.AGENDA in decode_scopes(creator_link.consent)
        ):
            parties = [*parties, item.created_by]
        await session.commit()
    view = item_view(item, names)
    request.app[LIVE_HUB].publish(parties, {"type": "agenda.changed", "item": view})
    return web.json_response(view)


@family_api
async def remove_item(request: web.Request) -> web.Response:
    """Its creator, the resident or staff cancel an item."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        item = await session.get(AgendaItem, path_int(request, "item_id"))
        if item is None:
            raise ApiError(404, "not_found", "no such agenda item")
        await require_reader(session, who, item.resident_id)
        if (
            who.party != item.created_by
            and who.resident_id != item.resident_id
            and not who.is_staff
        ):
            raise ApiError(403, "forbidden", "only who added it or the resident can remove it")
        await session.delete(item)
        await record_audit(session, who.actor, "family.agenda_remove", f"agenda:{item.id}")
        await session.commit()
    return web.Response(status=204)
