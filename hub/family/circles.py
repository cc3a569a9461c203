"""Circles: who the caller is, linking codes, links and consent (``/api/family/...``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.audit import record_audit
from hub.auth import codes
from hub.auth.roles import Role
from hub.db.models import Resident
from hub.family import bodies
from hub.family.access import require_manager, require_reader
from hub.family.circle_consent import change_consent, remove_member
from hub.family.consent import ConsentError, decode_scopes, encode_scopes, parse_scopes
from hub.family.conversations import ensure_direct
from hub.family.live import LIVE_HUB
from hub.family.models import CircleLink, Conversation, LinkCode
from hub.family.parties import party_names, party_view, resident_party
from hub.family.principal import (
    Principal,
    family_api,
    principal_of,
    require_role,
)
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, int_field, iso, path_int, read_checked, text_field, too_many_attempts
from hub.throttle import Limit, release, take

LINKABLE_ROLES = (Role.FAMILY, Role.FACILITATOR)


def _consent(values: object) -> str:
    if not isinstance(values, list):
        raise ApiError(400, "consent_invalid", "consent must be a list such as ['alarms']")
    try:
        return encode_scopes(parse_scopes(values))
    except ConsentError as err:
        raise ApiError(400, err.code, err.message) from None


def link_view(link: CircleLink, names: dict[str, str]) -> dict[str, Any]:
    """A circle link for JSON answers."""
    return {
        "link_id": link.id,
        "resident_id": link.resident_id,
        "member": party_view(link.member, names),
        "relationship": link.relationship_,
        "consent": sorted(s.value for s in decode_scopes(link.consent)),
        "created_at": iso(link.created_at),
    }


@family_api
async def me(request: web.Request) -> web.Response:
    """Who the caller is to the family network."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        names = await party_names(session, [who.party])
    body: dict[str, Any] = {
        "party": who.party,
        "kind": "resident" if who.is_tablet else "user",
        "name": names[who.party],
        "role": who.role.value if who.role else None,
        "resident_id": who.resident_id,
        "language": who.language,
    }
    return web.json_response(body)


# ---------------------------------------------------------------- codes and links


async def issue_link_code(
    session: AsyncSession,
    *,
    resident_id: int,
    consent: str,
    created_by: str,
    actor: str,
    ttl_s: int,
    now: datetime,
    secret: str,
    reason: str | None = None,
) -> tuple[str, LinkCode]:
    """Make a linking code granting ``consent`` (encoded scopes), audited in ``session``; the
    caller has checked who may, and commits. Returns the code as shown and its row."""
    code = codes.new_code()
    row = LinkCode(
        digest=codes.code_digest(code, secret),
        resident_id=resident_id,
        consent=consent,
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(row)
    details: dict[str, Any] = {"consent": consent, "ttl_s": ttl_s}
    if reason:
        details |= {"reason": reason, "on_behalf_of_resident": True}
    await record_audit(session, actor, "family.code_create", f"resident:{resident_id}", details)
    return codes.display_code(code), row


def code_view(code: str, row: LinkCode) -> dict[str, Any]:
    """A new code for JSON answers."""
    return {
        "code": code,
        "expires_at": iso(row.expires_at),
        "consent": sorted(decode_scopes(row.consent)),
    }


@family_api
async def create_code(request: web.Request) -> web.Response:
    """The resident's tablet (or staff) make a linking code for a new circle member."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    data = (
        await read_checked(request, bodies.LinkingCodeBody, bodies.TEXT_CODES)
        if request.can_read_body
        else {}
    )
    settings = request.app[FAMILY_SETTINGS]
    consent = _consent(data.get("consent", []))
    ttl = int_field(data, "ttl_s", required=False) or settings.link_code_ttl_s
    if not 60 <= ttl <= settings.link_code_max_ttl_s:
        raise ApiError(
            400, "invalid_request", f"ttl_s must be between 60 and {settings.link_code_max_ttl_s}"
        )
    async with request.app[SESSIONMAKER]() as session:
        await require_manager(session, who, resident_id)
        code, row = await issue_link_code(
            session,
            resident_id=resident_id,
            consent=consent,
            created_by=who.party,
            actor=who.actor,
            ttl_s=ttl,
            now=request.app[CLOCK](),
            secret=request.app[SETTINGS].jwt_secret,
        )
        await session.commit()
    return web.json_response(code_view(code, row), status=201)


async def find_code(session: AsyncSession, typed: str, secret: str, now: datetime) -> LinkCode:
    """The redeemable code ``typed``, or raise :class:`~hub.auth.codes.LinkingError`."""
    code = codes.normalize_code(typed)
    row = (
        await session.execute(
            select(LinkCode).where(LinkCode.digest == codes.code_digest(code, secret))
        )
    ).scalar_one_or_none()
    state = None if row is None else codes.CodeState(row.expires_at, row.used_at, row.revoked)
    codes.check_redeemable(state, now)
    assert row is not None
    return row


async def join_circle(
    session: AsyncSession,
    row: LinkCode,
    member: str,
    relationship: str,
    actor: str,
    now: datetime,
) -> tuple[CircleLink, Conversation]:
    """Use the code ``row`` for ``member``: the link with the code's consent, the direct
    conversation, the audit entry (the caller commits). Single use even when two people
    race with one code: only one conditional UPDATE wins (410 ``code_used``); 409
    ``already_linked`` if ``member`` is in the circle already (the session is rolled back)."""
    won = await session.execute(
        update(LinkCode)
        .where(LinkCode.id == row.id, LinkCode.used_at.is_(None))
        .values(used_at=now, used_by=member)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        raise ApiError(410, "code_used", "this code was already used; ask for a new one")
    link = CircleLink(
        resident_id=row.resident_id,
        member=member,
        relationship_=relationship,
        consent=row.consent,
        created_at=now,
    )
    session.add(link)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ApiError(409, "already_linked", "you are already in this circle") from None
    conversation = await ensure_direct(session, resident_party(row.resident_id), member, now)
    await record_audit(
        session, actor, "family.link_create", f"resident:{row.resident_id}",
        {"link_id": link.id, "relationship": relationship, "consent": row.consent},
    )  # fmt: skip
    return link, conversation


@family_api
async def redeem_code(request: web.Request) -> web.Response:
    """A person joins a resident's circle with a code and says how they are related."""
    who = await principal_of(request)
    require_role(who, *LINKABLE_ROLES)
    assert who.user_id is not None
    data = await read_checked(request, bodies.RedeemBody, bodies.TEXT_CODES)
    typed = text_field(data, "code", max_length=40)
    relationship = text_field(data, "relationship", max_length=60)
    settings = request.app[FAMILY_SETTINGS]
    limit = Limit(
        "family.link", settings.link_max_failures, timedelta(seconds=settings.link_failure_window_s)
    )
    key = str(who.user_id)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        # Counted before the code is checked, atomically: parallel guesses cannot slip past.
        slot = await take(session, limit, key, now)
        await session.commit()
        if not slot.allowed:
            raise too_many_attempts(slot.retry_after_s)
        try:
            row = await find_code(session, typed, request.app[SETTINGS].jwt_secret, now)
        except codes.LinkingError as err:
            # Every wrong code counts against the limit (it was taken above), malformed too.
            await record_audit(session, who.actor, "family.code_refused", "code", {"why": err.code})
            await session.commit()
            status = {"code_malformed": 400, "code_unknown": 404}.get(err.code, 410)
            raise ApiError(status, err.code, err.message) from None
        try:
            link, conversation = await join_circle(session, row, who.party, relationship,
                                                   who.actor, now)  # fmt: skip
        except ApiError as err:
            if err.code == "already_linked":  # a good code, not a guess
                await release(session, limit, key)
                await session.commit()
            raise
        await release(session, limit, key)  # a good code does not count against the limit
        names = await party_names(session, [who.party])
        await session.commit()
    body = link_view(link, names) | {"conversation_id": conversation.id}
    return web.json_response(body, status=201)


async def linked_residents(
    session: AsyncSession, party: str, now: datetime
) -> list[dict[str, Any]]:
    """The residents whose circle ``party`` is in, with their direct conversation."""
    rows = (
        await session.execute(
            select(CircleLink, Resident.name)
            .join(Resident, Resident.id == CircleLink.resident_id)
            .where(CircleLink.member == party)
            .order_by(Resident.name)
        )
    ).all()
    out = []
    for link, name in rows:
        conversation = await ensure_direct(session, resident_party(link.resident_id), party, now)
        out.append(
            {
                "resident_id": link.resident_id,
                "party": resident_party(link.resident_id),
                "name": name,
                "relationship": link.relationship_,
                "consent": sorted(s.value for s in decode_scopes(link.consent)),
                "link_id": link.id,
                "conversation_id": conversation.id,
            }
        )
    return out


@family_api
async def my_residents(request: web.Request) -> web.Response:
    """The residents whose circle the caller belongs to."""
    who = await principal_of(request)
    async with request.app[SESSIONMAKER]() as session:
        out = await linked_residents(session, who.party, request.app[CLOCK]())
        await session.commit()
    return web.json_response(out)


@family_api
async def circle(request: web.Request) -> web.Response:
    """The members of a resident's circle (resident, staff, or a member)."""
    who = await principal_of(request)
    resident_id = path_int(request, "rid")
    async with request.app[SESSIONMAKER]() as session:
        await require_reader(session, who, resident_id)
        links = list(
            await session.scalars(
                select(CircleLink)
                .where(CircleLink.resident_id == resident_id)
                .order_by(CircleLink.id)
            )
        )
        names = await party_names(session, [link.member for link in links])
        if who.is_staff:
            # Who the family is, read by the centre: audited (the resident and members
            # reading their own circle are not).
            await record_audit(
                session, who.actor, "family.circle_read", f"resident:{resident_id}",
                at=request.app[CLOCK](),
            )  # fmt: skip
            await session.commit()
    return web.json_response([link_view(link, names) for link in links])


async def _link_for_change(session: AsyncSession, request: web.Request) -> CircleLink:
    link = await session.get(CircleLink, path_int(request, "link_id"))
    if link is None:
        raise ApiError(404, "not_found", "no such link")
    return link


def _staff_reason(who: Principal, data: dict[str, Any]) -> str | None:
    """Staff act on the resident's behalf: they say why (recorded in the audit entry)."""
    value = data.get("reason")
    reason = value.strip()[:300] if isinstance(value, str) else ""
    if who.is_staff and len(reason) < 5:
        raise ApiError(422, "reason_required", "say why you change this on the resident's behalf")
    return reason or None


@family_api
async def update_link(request: web.Request) -> web.Response:
    """The resident (or staff, with a reason) change what a member may see."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.LinkChange, bodies.TEXT_CODES)
    consent = _consent(data.get("consent"))
    reason = _staff_reason(who, data)
    async with request.app[SESSIONMAKER]() as session:
        link = await _link_for_change(session, request)
        await require_manager(session, who, link.resident_id)
        change = await change_consent(
            session,
            link,
            decode_scopes(consent),
            actor=who.actor,
            reason=reason,
            on_behalf=who.is_staff,
        )
        names = await party_names(session, [link.member])
        await session.commit()
    change.publish(request.app[LIVE_HUB])
    return web.json_response(link_view(link, names))


@family_api
async def remove_link(request: web.Request) -> web.Response:
    """The resident or staff (with a reason) remove a member; a member may also leave."""
    who = await principal_of(request)
    data = (
        await read_checked(request, bodies.LinkRemoval, bodies.TEXT_CODES)
        if request.body_exists
        else {}
    )
    async with request.app[SESSIONMAKER]() as session:
        link = await _link_for_change(session, request)
        leaving = link.member == who.party
        if not leaving:
            await require_manager(session, who, link.resident_id)
        reason = None if leaving else _staff_reason(who, data)
        change = await remove_member(
            session,
            link,
            actor=who.actor,
            reason=reason,
            on_behalf=who.is_staff and not leaving,
        )
        await session.commit()
    change.publish(request.app[LIVE_HUB])
    return web.Response(status=204)
