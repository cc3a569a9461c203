"""Vincles-style groups led by a facilitator: members, group chat, events, invitations.

The facilitator view (``GET /api/family/groups/{gid}``) shows each member's last activity
(a message sent or a call made/answered) so a quiet member stands out.

Membership needs consent (issue 19): a facilitator only *asks* a resident to join
(``202``, the same answer whether the resident id exists or not); the resident's tablet
(or the centre's staff) accepts or declines it. Before acceptance the facilitator sees
nothing of the resident and cannot message, call or invite them; staff adding a member
is the centre's acceptance.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth.roles import Role
from hub.db.models import Resident
from hub.family import bodies
from hub.family.agenda import item_view, new_item
from hub.family.conversations import ensure_direct
from hub.family.live import LIVE_HUB
from hub.family.models import (
    MEMBER_ACCEPTED,
    MEMBER_DECLINED,
    MEMBER_PENDING,
    CallRecord,
    CircleLink,
    Conversation,
    ConversationMember,
    Group,
    GroupMember,
    Invitation,
    Message,
)
from hub.family.parties import party_names, resident_party, user_party
from hub.family.principal import Principal, family_api, principal_of, require_role
from hub.family.sending import count_post
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, iso, path_int, read_checked, required_int, text_field


async def _group(session: AsyncSession, request: web.Request) -> Group:
    group = await session.get(Group, path_int(request, "gid"))
    if group is None:
        raise ApiError(404, "not_found", "no such group")
    return group


def _leads(who: Principal, group: Group) -> bool:
    return who.user_id == group.facilitator_id or who.is_staff


async def _is_member(session: AsyncSession, group_id: int, resident_id: int | None) -> bool:
    if resident_id is None:
        return False
    row = await session.get(GroupMember, (group_id, resident_id))
    return row is not None and row.status == MEMBER_ACCEPTED


async def _member_ids(session: AsyncSession, group_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(GroupMember.resident_id).where(
                GroupMember.group_id == group_id, GroupMember.status == MEMBER_ACCEPTED
            )
        )
    )


async def last_activity(session: AsyncSession, party: str) -> datetime | None:
    """When ``party`` last sent a message or took part in an answered call."""
    sent = await session.scalar(select(func.max(Message.created_at)).where(Message.sender == party))
    called = await session.scalar(
        select(func.max(CallRecord.started_at)).where(
            or_(CallRecord.caller == party, CallRecord.callee == party),
            or_(CallRecord.caller == party, CallRecord.answered_at.is_not(None)),
        )
    )
    # func.max keeps the column's type, so both come back as aware UTC.
    found = [t for t in (sent, called) if t is not None]
    return max(found) if found else None


async def member_rows(
    session: AsyncSession, group_id: int, leads: bool, now: datetime, quiet_after: timedelta
) -> list[dict[str, Any]]:
    """Members of a group; for its facilitator also last activity and whether they are quiet."""
    rows = (
        await session.execute(
            select(Resident.id, Resident.name)
            .join(GroupMember, GroupMember.resident_id == Resident.id)
            .where(GroupMember.group_id == group_id, GroupMember.status == MEMBER_ACCEPTED)
            .order_by(Resident.name)
        )
    ).all()
    members = []
    for rid, name in rows:
        entry: dict[str, Any] = {"resident_id": rid, "party": resident_party(rid), "name": name}
        if leads:
            last = await last_activity(session, resident_party(rid))
            entry["last_activity"] = iso(last)
            entry["quiet_days"] = None if last is None else (now - last).days
            # Someone who has never sent or called has not "gone quiet": they have not
            # started yet, which asks for a different word (and a different nudge).
            entry["not_started"] = last is None
            entry["quiet"] = last is not None and now - last >= quiet_after
        members.append(entry)
    return members


def group_view(group: Group, members: int) -> dict[str, Any]:
    """A group for JSON answers."""
    return {
        "id": group.id,
        "name": group.name,
        "facilitator": user_party(group.facilitator_id),
        "conversation_id": group.conversation_id,
        "members": members,
        "created_at": iso(group.created_at),
    }


@family_api
async def create_group(request: web.Request) -> web.Response:
    """A facilitator starts a group (with its group chat)."""
    who = await principal_of(request)
    require_role(who, Role.FACILITATOR)
    assert who.user_id is not None
    data = await read_checked(request, bodies.GroupBody, bodies.TEXT_CODES)
    name = text_field(data, "name", max_length=120)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        conversation = Conversation(kind="group", created_at=now)
        session.add(conversation)
        await session.flush()
        group = Group(
            name=name, facilitator_id=who.user_id, conversation_id=conversation.id, created_at=now
        )
        session.add(group)
        await session.flush()
        conversation.group_id = group.id
        session.add(ConversationMember(conversation_id=conversation.id, party=who.party))
        await record_audit(session, who.actor, "family.group_create", f"group:{group.id}")
        await session.commit()
    return web.json_response(group_view(group, 0), status=201)


@family_api
async def list_groups(request: web.Request) -> web.Response:
    """The facilitator's groups, the resident's groups, or all groups for staff."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        query = select(Group).order_by(Group.name)
        if who.resident_id is not None:
            query = query.join(GroupMember, GroupMember.group_id == Group.id).where(
                GroupMember.resident_id == who.resident_id, GroupMember.status == MEMBER_ACCEPTED
            )
        elif not who.is_staff:
            query = query.where(Group.facilitator_id == who.user_id)
        groups = list(await session.scalars(query))
        out = [group_view(g, len(await _member_ids(session, g.id))) for g in groups]
    return web.json_response(out)


@family_api
async def group_detail(request: web.Request) -> web.Response:
    """Members with their last activity (facilitator view: who has gone quiet)."""
    who = await principal_of(request)
    now = request.app[CLOCK]()
    quiet_after = timedelta(days=request.app[FAMILY_SETTINGS].quiet_after_days)
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        leads = _leads(who, group)
        if not leads and not await _is_member(session, group.id, who.resident_id):
            raise ApiError(403, "not_member", "you are not in this group")
        members = await member_rows(session, group.id, leads, now, quiet_after)
        names = await party_names(session, [user_party(group.facilitator_id)])
    body = group_view(group, len(members)) | {
        "facilitator_name": names[user_party(group.facilitator_id)],
        "member_list": members,
    }
    return web.json_response(body)


async def _join_chat(session: AsyncSession, group: Group, resident_id: int) -> None:
    party = resident_party(resident_id)
    if await session.get(ConversationMember, (group.conversation_id, party)) is None:
        session.add(ConversationMember(conversation_id=group.conversation_id, party=party))


@family_api
async def add_member(request: web.Request) -> web.Response:
    """Staff add a resident (the centre's acceptance); a facilitator asks them to join.

    A facilitator always gets ``202 {"status": "requested"}`` — for an unknown resident id,
    a pending or declined request and a member alike — so the answer reveals nothing.
    """
    who = await principal_of(request)
    data = await read_checked(request, bodies.GroupMemberBody, bodies.TEXT_CODES)
    resident_id = required_int(data, "resident_id")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        if not _leads(who, group):
            raise ApiError(403, "forbidden", "only the group's facilitator can add members")
        row = await session.get(GroupMember, (group.id, resident_id))
        if not who.is_staff:
            requested = {"group_id": group.id, "resident_id": resident_id, "status": "requested"}
            if row is not None or await session.get(Resident, resident_id) is None:
                return web.json_response(requested, status=202)
            session.add(
                GroupMember(
                    group_id=group.id, resident_id=resident_id, status=MEMBER_PENDING,
                    requested_at=now, joined_at=now,
                )
            )  # fmt: skip
            try:
                await session.flush()
            except IntegrityError:  # asked concurrently: one request is enough
                return web.json_response(requested, status=202)
            await record_audit(
                session, who.actor, "family.group_request", f"group:{group.id}",
                {"resident_id": resident_id}, at=now,
            )  # fmt: skip
            await session.commit()
            request.app[LIVE_HUB].publish(
                [resident_party(resident_id)], {"type": "group.request", "group_id": group.id}
            )
            return web.json_response(requested, status=202)
        if await session.get(Resident, resident_id) is None:
            raise ApiError(404, "resident_unknown", "no such resident")
        if row is not None and row.status == MEMBER_ACCEPTED:
            raise ApiError(409, "already_member", "the resident is already in the group")
        if row is None:
            row = GroupMember(group_id=group.id, resident_id=resident_id, joined_at=now)
            session.add(row)
        row.status, row.answered_by, row.joined_at = MEMBER_ACCEPTED, who.actor[:64], now
        await _join_chat(session, group, resident_id)
        try:
            await session.flush()
        except IntegrityError:  # added concurrently by someone else
            raise ApiError(409, "already_member", "the resident is already in the group") from None
        await record_audit(
            session,
            who.actor,
            "family.group_add",
            f"group:{group.id}",
            {"resident_id": resident_id},
        )
        await session.commit()
    return web.json_response(
        {"group_id": group.id, "resident_id": resident_id, "status": MEMBER_ACCEPTED}, status=201
    )


@family_api
async def group_requests(request: web.Request) -> web.Response:
    """Pending requests to join a group: the tablet's own, or staff's ``?resident_id=``."""
    who = await principal_of(request)
    resident_id = _answering_for(who, request.query.get("resident_id"))
    async with request.app[SESSIONMAKER]() as session:
        rows = (
            await session.execute(
                select(Group, GroupMember.requested_at)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.resident_id == resident_id, GroupMember.status == MEMBER_PENDING)
                .order_by(GroupMember.requested_at)
            )
        ).all()
        names = await party_names(session, [user_party(g.facilitator_id) for g, _ in rows])
    return web.json_response(
        [
            {
                "group_id": g.id,
                "group_name": g.name,
                "resident_id": resident_id,
                "facilitator": {
                    "party": user_party(g.facilitator_id),
                    "name": names[user_party(g.facilitator_id)],
                },
                "requested_at": iso(at),
            }
            for g, at in rows
        ]
    )


def _answering_for(who: Principal, given: object) -> int:
    """The resident a request is answered for: the tablet's own, or one staff name."""
    if who.resident_id is not None:
        return who.resident_id
    if not who.is_staff:
        raise ApiError(403, "forbidden", "only the resident or the centre's staff answer this")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    if isinstance(given, str) and given.isdigit() and len(given) <= 12:
        return int(given)
    raise ApiError(400, "invalid_request", "staff say which resident: resident_id")


@family_api
async def answer_group_request(request: web.Request) -> web.Response:
    """The resident (or staff for them) accept or decline joining the group."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.AnswerBody, bodies.TEXT_CODES)
    answer = data.get("answer")
    if answer not in ("accept", "decline"):
        raise ApiError(400, "invalid_request", "answer must be 'accept' or 'decline'")
    resident_id = _answering_for(who, data.get("resident_id"))
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        row = await session.get(GroupMember, (group.id, resident_id))
        if row is None or row.status != MEMBER_PENDING:
            raise ApiError(404, "not_found", "no pending request to join this group")
        row.answered_by = who.actor[:64]
        if answer == "accept":
            row.status, row.joined_at = MEMBER_ACCEPTED, now
            await _join_chat(session, group, resident_id)
        else:
            row.status = MEMBER_DECLINED
        await record_audit(
            session, who.actor, f"family.group_{answer}", f"group:{group.id}",
            {"resident_id": resident_id}, at=now,
        )  # fmt: skip
        await session.commit()
    return web.json_response(
        {"group_id": group.id, "resident_id": resident_id, "status": row.status}
    )


@family_api
async def remove_member(request: web.Request) -> web.Response:
    """The facilitator (or staff) removes a member; they leave the group chat too."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        if not _leads(who, group):
            raise ApiError(403, "forbidden", "only the group's facilitator can remove members")
        # A declined request stays, so the facilitator cannot ask again and again.
        await session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group.id,
                GroupMember.resident_id == resident_id,
                GroupMember.status != MEMBER_DECLINED,
            )
        )
        await session.execute(
            delete(ConversationMember).where(
                ConversationMember.conversation_id == group.conversation_id,
                ConversationMember.party == resident_party(resident_id),
            )
        )
        await record_audit(
            session, who.actor, "family.group_remove", f"group:{group.id}",
            {"resident_id": resident_id},
        )  # fmt: skip
        await session.commit()
    return web.Response(status=204)


@family_api
async def group_event(request: web.Request) -> web.Response:
    """The facilitator puts an activity on every member's agenda (as an invitation)."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.AgendaBody, bodies.TEXT_CODES)
    await count_post(request, who)  # one post, however many agendas it reaches
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        if not _leads(who, group):
            raise ApiError(403, "forbidden", "only the group's facilitator can add group events")
        items = []
        for rid in await _member_ids(session, group.id):
            item = new_item(who, rid, data, now, group_id=group.id)
            item.status = "pending"
            session.add(item)
            items.append(item)
        if not items:
            raise ApiError(409, "group_empty", "the group has no members yet")
        await session.flush()
        names = await party_names(session, [who.party])
        views = [item_view(i, names) for i in items]
        await record_audit(session, who.actor, "family.group_event", f"group:{group.id}")
        await session.commit()
    for view in views:
        request.app[LIVE_HUB].publish(
            [resident_party(view["resident_id"])], {"type": "agenda.changed", "item": view}
        )
    return web.json_response(views, status=201)


@family_api
async def invite(request: web.Request) -> web.Response:
    """A member (their tablet) invites another member of the group into their own circle."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.InvitationBody, bodies.TEXT_CODES)
    to_resident = required_int(data, "to_resident")
    async with request.app[SESSIONMAKER]() as session:
        group = await _group(session, request)
        if not await _is_member(session, group.id, who.resident_id):
            raise ApiError(403, "not_member", "only members of the group can invite")
        if to_resident == who.resident_id or not await _is_member(session, group.id, to_resident):
            raise ApiError(400, "invalid_request", "invite another member of this group")
        if who.resident_id is None:
            raise ApiError(403, "not_member", "only members of the group can invite")
        invitation = Invitation(
            group_id=group.id, from_resident=who.resident_id, to_resident=to_resident,
            created_at=request.app[CLOCK](),
        )  # fmt: skip
        session.add(invitation)
        await session.flush()
        names = await party_names(session, [who.party])
        await session.commit()
    view = {
        "id": invitation.id,
        "group_id": group.id,
        "from": {"party": who.party, "name": names[who.party]},
        "status": "pending",
    }
    request.app[LIVE_HUB].publish(
        [resident_party(to_resident)], {"type": "invitation.new", "invitation": view}
    )
    return web.json_response(view, status=201)


@family_api
async def answer_invitation(request: web.Request) -> web.Response:
    """The invitee accepts (both join each other's circle, with a direct chat) or declines."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.AnswerBody, bodies.TEXT_CODES)
    answer = data.get("answer")
    if answer not in ("accept", "decline"):
        raise ApiError(400, "invalid_request", "answer must be 'accept' or 'decline'")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        invitation = await session.get(Invitation, path_int(request, "inv_id"))
        if invitation is None or invitation.to_resident != who.resident_id:
            raise ApiError(404, "not_found", "no such invitation for you")
        if invitation.status != "pending":
            raise ApiError(409, "already_answered", f"already {invitation.status}")
        invitation.status = "accepted" if answer == "accept" else "declined"
        invitation.answered_at = now
        conversation_id = None
        if answer == "accept":
            a, b = invitation.from_resident, invitation.to_resident
            for owner, member in ((a, b), (b, a)):
                exists = await session.scalar(
                    select(CircleLink.id).where(
                        CircleLink.resident_id == owner,
                        CircleLink.member == resident_party(member),
                    )
                )
                if exists is None:
                    session.add(
                        CircleLink(
                            resident_id=owner, member=resident_party(member),
                            relationship_="friend", consent="", created_at=now,
                        )
                    )  # fmt: skip
            await session.flush()
            conversation = await ensure_direct(session, resident_party(a), resident_party(b), now)
            conversation_id = conversation.id
        await record_audit(
            session, who.actor, f"family.invitation_{answer}", f"invitation:{invitation.id}"
        )
        await session.commit()
    return web.json_response(
        {"id": invitation.id, "status": invitation.status, "conversation_id": conversation_id}
    )


@family_api
async def my_invitations(request: web.Request) -> web.Response:
    """Pending invitations for the resident (their tablet)."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(Invitation).where(
                    Invitation.to_resident == who.resident_id, Invitation.status == "pending"
                )
            )
        )
        names = await party_names(session, [resident_party(r.from_resident) for r in rows])
    return web.json_response(
        [
            {
                "id": r.id,
                "group_id": r.group_id,
                "from": {
                    "party": resident_party(r.from_resident),
                    "name": names[resident_party(r.from_resident)],
                },
                "status": r.status,
            }
            for r in rows
        ]
    )
