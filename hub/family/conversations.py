"""Conversations and messages: text, photo, video and voice, with receipts and unread counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family import bodies
from hub.family.access import may_contact, require_member
from hub.family.live import LIVE_HUB
from hub.family.models import (
    Conversation,
    ConversationMember,
    Group,
    MediaObject,
    Message,
    VideoUpload,
)
from hub.family.parties import parse_party, party_names, party_view
from hub.family.principal import family_api, principal_of
from hub.family.sending import count_post
from hub.family.settings import MEDIA_STORE
from hub.http import (
    ApiError,
    int_field,
    iso,
    path_int,
    query_int,
    read_checked,
    required_int,
    text_field,
)

MAX_TEXT = 2000
PAGE_MAX = 100


def direct_key(a: str, b: str) -> str:
    """The key of the one direct conversation between two parties."""
    return "|".join(sorted((a, b)))


async def ensure_direct(session: AsyncSession, a: str, b: str, now: datetime) -> Conversation:
    """The direct conversation of ``a`` and ``b`` (created, or re-joined, as needed)."""
    key = direct_key(a, b)
    conversation = (
        await session.execute(select(Conversation).where(Conversation.direct_key == key))
    ).scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(kind="direct", direct_key=key, created_at=now)
        session.add(conversation)
        await session.flush()
    for party in (a, b):
        if await session.get(ConversationMember, (conversation.id, party)) is None:
            session.add(ConversationMember(conversation_id=conversation.id, party=party))
    await session.flush()
    return conversation


async def leave_direct(session: AsyncSession, a: str, b: str) -> None:
    """``b`` leaves the direct conversation with ``a`` (when a link is removed)."""
    conversation = (
        await session.execute(
            select(Conversation).where(Conversation.direct_key == direct_key(a, b))
        )
    ).scalar_one_or_none()
    if conversation is not None:
        await session.execute(
            delete(ConversationMember).where(
                ConversationMember.conversation_id == conversation.id,
                ConversationMember.party == b,
            )
        )


async def members_of(session: AsyncSession, conversation_id: int) -> list[ConversationMember]:
    """Every member of a conversation."""
    return list(
        await session.scalars(
            select(ConversationMember).where(ConversationMember.conversation_id == conversation_id)
        )
    )


def media_view(media: MediaObject) -> dict[str, Any]:
    """A media object for JSON answers (URLs are served with access checks)."""
    return {
        "id": media.id,
        "kind": media.kind,
        "content_type": media.content_type,
        "size": media.size,
        "width": media.width,
        "height": media.height,
        "duration_s": media.duration_s,
        "url": f"/api/family/media/{media.id}",
        "thumbnail_url": f"/api/family/media/{media.id}/thumbnail" if media.thumbnail_key else None,
    }


def upload_view(upload: VideoUpload, names: dict[str, str]) -> dict[str, Any]:
    """A video on its way, shaped like a message (its ``id`` is null until it is one)."""
    return {
        "id": None,
        "upload_id": upload.id,
        "conversation_id": upload.conversation_id,
        "sender": party_view(upload.sender, names),
        "kind": "video",
        "text": upload.text,
        "status": upload.status,
        "failure": upload.failure,
        "size": upload.size,
        "duration_s": upload.duration_s,
        "created_at": iso(upload.created_at),
    }


async def pending_uploads(
    session: AsyncSession, conversation_id: int, sender: str
) -> list[dict[str, Any]]:
    """The sender's videos still processing (or failed) in a conversation, oldest first."""
    rows = list(
        await session.scalars(
            select(VideoUpload)
            .where(VideoUpload.conversation_id == conversation_id, VideoUpload.sender == sender)
            .order_by(VideoUpload.id)
        )
    )
    names = await party_names(session, [sender])
    return [upload_view(row, names) for row in rows]


def message_view(
    message: Message,
    media: MediaObject | None,
    names: dict[str, str],
    members: list[ConversationMember],
) -> dict[str, Any]:
    """A message for JSON answers; a deleted one keeps only its place."""
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender": party_view(message.sender, names),
        "kind": message.kind,
        "text": "" if deleted else message.text,
        "media": None if deleted or media is None else media_view(media),
        "created_at": iso(message.created_at),
        "deleted": deleted,
        "read_by": sorted(
            m.party for m in members if m.party != message.sender and m.last_read_id >= message.id
        ),
    }


async def unread_count(
    session: AsyncSession, conversation_id: int, member: ConversationMember
) -> int:
    """Messages of others after the member's read mark."""
    count = await session.scalar(
        select(func.count(Message.id)).where(
            Message.conversation_id == conversation_id,
            Message.id > member.last_read_id,
            Message.sender != member.party,
            Message.deleted_at.is_(None),
        )
    )
    return int(count or 0)


async def _title(
    session: AsyncSession, conversation: Conversation, others: list[str], names: dict[str, str]
) -> str:
    if conversation.kind == "group" and conversation.group_id is not None:
        group = await session.get(Group, conversation.group_id)
        if group is not None:
            return group.name
    return ", ".join(names[p] for p in others) or "—"


@family_api
async def list_conversations(request: web.Request) -> web.Response:
    """The caller's conversations, newest activity first, with unread counts."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        mine = list(
            await session.scalars(
                select(ConversationMember).where(ConversationMember.party == who.party)
            )
        )
        out: list[dict[str, Any]] = []
        for membership in mine:
            conversation = await session.get(Conversation, membership.conversation_id)
            if conversation is None:
                continue
            members = await members_of(session, conversation.id)
            last = (
                await session.execute(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            parties = [m.party for m in members] + ([last.sender] if last else [])
            names = await party_names(session, parties)
            others = [m.party for m in members if m.party != who.party]
            last_media = (
                await session.get(MediaObject, last.media_id) if last and last.media_id else None
            )
            out.append(
                {
                    "id": conversation.id,
                    "kind": conversation.kind,
                    "group_id": conversation.group_id,
                    "title": await _title(session, conversation, others, names),
                    "members": [party_view(m.party, names) for m in members],
                    "unread": await unread_count(session, conversation.id, membership),
                    "last_message": message_view(last, last_media, names, members)
                    if last
                    else None,
                    "last_activity": iso(conversation.last_message_at or conversation.created_at),
                }
            )
    out.sort(key=lambda c: str(c["last_activity"] or ""), reverse=True)
    return web.json_response(out)


@family_api
async def open_direct(request: web.Request) -> web.Response:
    """Get or create the direct conversation with another party."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.DirectBody, bodies.TEXT_CODES)
    other = data.get("with")
    parse_party(other)
    assert isinstance(other, str)
    async with request.app[SESSIONMAKER]() as session:
        if not await may_contact(session, who.party, other):
            raise ApiError(
                403, "not_allowed", "you can only talk to people of your circles and groups"
            )
        conversation = await ensure_direct(session, who.party, other, request.app[CLOCK]())
        await session.commit()
    return web.json_response({"id": conversation.id, "kind": "direct"}, status=200)


@family_api
async def history(request: web.Request) -> web.Response:
    """A page of messages, newest first; ``before`` pages back."""
    who = await principal_of(request)
    conversation_id = path_int(request, "cid")
    limit = query_int(request, "limit", 30, 1, PAGE_MAX)
    before = query_int(request, "before", 2**62, 1, 2**62)
    async with request.app[SESSIONMAKER]() as session:
        await require_member(session, who, conversation_id)
        rows = list(
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id < before)
                .order_by(Message.id.desc())
                .limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        members = await members_of(session, conversation_id)
        names = await party_names(session, [m.sender for m in rows] + [m.party for m in members])
        media_ids = [m.media_id for m in rows if m.media_id]
        media = (
            {
                m.id: m
                for m in await session.scalars(
                    select(MediaObject).where(MediaObject.id.in_(media_ids))
                )
            }
            if media_ids
            else {}
        )
    body = {
        "messages": [
            message_view(m, media.get(m.media_id) if m.media_id else None, names, members)
            for m in rows
        ],
        "next_before": rows[-1].id if more and rows else None,
    }
    if "before" not in request.query:
        # The caller's own videos still being prepared (or that failed), after the page.
        async with request.app[SESSIONMAKER]() as session:
            body["uploads"] = await pending_uploads(session, conversation_id, who.party)
    return web.json_response(body)


@family_api
async def post_message(request: web.Request) -> web.Response:
    """Send text, or a media object the caller uploaded (with an optional caption)."""
    who = await principal_of(request)
    conversation_id = path_int(request, "cid")
    data = await read_checked(request, bodies.MessageBody, bodies.TEXT_CODES)
    text = text_field(data, "text", max_length=MAX_TEXT, required=False)
    media_id = int_field(data, "media_id", required=False)
    if not text and media_id is None:
        raise ApiError(400, "message_empty", "a message needs text or a photo, video or voice")
    # Counted before the session below opens: on SQLite a second session writing while
    # this one holds a read snapshot would make this one's write fail.
    await count_post(request, who)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        # Every read first, then a short write transaction: on SQLite a writer holds the
        # database lock until commit, so nothing slow may happen in between.
        await require_member(session, who, conversation_id)
        media: MediaObject | None = None
        if media_id is not None:
            media = await session.get(MediaObject, media_id)
            if media is None or media.uploaded_by != who.party:
                raise ApiError(
                    404, "media_unknown", "upload the file first; this media is not yours"
                )
        members = await members_of(session, conversation_id)
        names = await party_names(session, [who.party])
        message = Message(
            conversation_id=conversation_id,
            sender=who.party,
            kind=media.kind if media else "text",
            text=text,
            media_id=media_id,
            created_at=now,
        )
        session.add(message)
        await session.flush()
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_message_at=now)
        )
        # Sending is reading: the sender has seen everything up to their own message.
        await session.execute(
            update(ConversationMember)
            .where(
                ConversationMember.conversation_id == conversation_id,
                ConversationMember.party == who.party,
            )
            .values(last_read_id=message.id)
        )
        await session.commit()
    for member in members:
        if member.party == who.party:
            member.last_read_id = message.id
    view = message_view(message, media, names, members)
    request.app[LIVE_HUB].publish(
        [m.party for m in members], {"type": "message.new", "message": view}
    )
    return web.json_response(view, status=201)


@family_api
async def mark_read(request: web.Request) -> web.Response:
    """Read receipt: the caller has seen everything up to ``up_to``."""
    who = await principal_of(request)
    conversation_id = path_int(request, "cid")
    data = await read_checked(request, bodies.ReadMark, bodies.TEXT_CODES)
    up_to = required_int(data, "up_to")
    async with request.app[SESSIONMAKER]() as session:
        await require_member(session, who, conversation_id)
        member = await session.get(ConversationMember, (conversation_id, who.party))
        assert member is not None
        newest = await session.scalar(
            select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
        )
        # Never move backwards, never past what exists.
        member.last_read_id = max(member.last_read_id, min(up_to, int(newest or 0)))
        unread = await unread_count(session, conversation_id, member)
        members = await members_of(session, conversation_id)
        mark = member.last_read_id
        await session.commit()
    request.app[LIVE_HUB].publish(
        [m.party for m in members],
        {
            "type": "message.read",
            "conversation_id": conversation_id,
            "party": who.party,
            "up_to": mark,
        },
    )
    return web.json_response({"unread": unread, "up_to": mark})


@family_api
async def delete_message(request: web.Request) -> web.Response:
    """The sender withdraws a message; its content (and unshared media) is erased."""
    who = await principal_of(request)
    message_id = path_int(request, "mid")
    async with request.app[SESSIONMAKER]() as session:
        message = await session.get(Message, message_id)
        if message is None or message.deleted_at is not None:
            raise ApiError(404, "not_found", "no such message")
        await require_member(session, who, message.conversation_id)
        if message.sender != who.party:
            raise ApiError(403, "not_sender", "only the sender can delete a message")
        media_id = message.media_id
        message.deleted_at = request.app[CLOCK]()
        message.text = ""
        message.media_id = None
        await session.flush()
        orphan: MediaObject | None = None
        if media_id is not None:
            still_used = await session.scalar(
                select(func.count(Message.id)).where(Message.media_id == media_id)
            )
            if not still_used:
                orphan = await session.get(MediaObject, media_id)
                if orphan is not None:
                    await session.delete(orphan)
        members = await members_of(session, message.conversation_id)
        conversation_id = message.conversation_id
        await session.commit()
    if orphan is not None:
        store = request.app[MEDIA_STORE]
        await store.delete(orphan.storage_key)
        if orphan.thumbnail_key:
            await store.delete(orphan.thumbnail_key)
    request.app[LIVE_HUB].publish(
        [m.party for m in members],
        {"type": "message.deleted", "message_id": message_id, "conversation_id": conversation_id},
    )
    return web.Response(status=204)


@family_api
async def unread(request: web.Request) -> web.Response:
    """Unread counts of all the caller's conversations (the tablet's badge)."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        counts: dict[str, int] = {}
        for member in await session.scalars(
            select(ConversationMember).where(ConversationMember.party == who.party)
        ):
            n = await unread_count(session, member.conversation_id, member)
            if n:
                counts[str(member.conversation_id)] = n
    return web.json_response({"total": sum(counts.values()), "conversations": counts})
