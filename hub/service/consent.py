"""The centre changes a resident's consents on their behalf, always with who and why.

- ``POST /api/service/referrals/{reference}/consent/social-record``
  ``{"given": false, "reason": "She asked at the review visit"}``: the resident's answer to
  the social record (wSocial). Withdrawing withholds what still waits in the outbox
  (:mod:`hub.outbox.consent`, ADR 0065).
- ``PUT /api/service/referrals/{reference}/circle/{link_id}``
  ``{"consent": ["alarms", "agenda"], "reason": "..."}``: what a member of the resident's
  circle may see; ``DELETE`` the same path with ``{"reason": "..."}`` takes them out
  (:mod:`hub.family.circle_consent`, ADR 0043). Open sockets follow at once.
- ``POST /api/service/referrals/{reference}/circle/codes`` ``{"consent": ["alarms"],
  "reason": "..."}``: a linking code for a new member, granting that, made on the resident's
  behalf (e.g. the resident asked by phone).

Social workers, coordinators and admins may do it; the reason (5–300 characters) goes into
the audit entry with the user's name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SETTINGS
from hub.audit import record_audit
from hub.auth import current_user, requires
from hub.db.models import Resident
from hub.family.circle_consent import CircleChange, change_consent, remove_member
from hub.family.circles import code_view, issue_link_code, link_view
from hub.family.consent import ConsentError, Scope, encode_scopes, parse_scopes
from hub.family.live import LIVE_HUB
from hub.family.models import CircleLink
from hub.family.parties import party_names, user_party
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, read_checked
from hub.outbox.consent import SOCIAL_RECORD, set_social_record_consent, social_record_consent
from hub.service import bodies, store
from hub.service.api import ASSESSORS, CATALOG, service_json, transaction
from hub.service.models import ServiceRow
from hub.web.language import page_language

MIN_REASON = 5
MAX_REASON = 300


def reason_of(request: web.Request, data: dict[str, Any]) -> str:
    """The staff member's reason for acting on the resident's behalf (422 if too short)."""
    value = data.get("reason")
    reason = value.strip() if isinstance(value, str) else ""
    if len(reason) < MIN_REASON:
        raise ApiError(
            422,
            "consent_reason_required",
            CATALOG.text("consent_reason_required", page_language(request)),
            field="reason",
        )
    return reason[:MAX_REASON]


async def circle_of(session: AsyncSession, resident_id: int) -> list[dict[str, Any]]:
    """The resident's circle: each member, how related, and what they may see."""
    links = list(
        await session.scalars(
            select(CircleLink).where(CircleLink.resident_id == resident_id).order_by(CircleLink.id)
        )
    )
    names = await party_names(session, [link.member for link in links])
    return [link_view(link, names) for link in links]


async def consent_context(session: AsyncSession, row: ServiceRow) -> dict[str, Any]:
    """What the referral page's consent section shows."""
    resident = await session.get(Resident, row.resident_id) if row.resident_id else None
    social = social_record_consent(resident.consent if resident else row.consent)
    circle = await circle_of(session, resident.id) if resident is not None else None
    return {"social_record": social, "circle": circle, "scopes": [s.value for s in Scope]}


async def _circle_link(session: AsyncSession, request: web.Request) -> CircleLink:
    """The link named in the path, of the referral's resident (404 otherwise)."""
    row = await store.get_service(session, request.match_info["reference"])
    raw = request.match_info["link_id"]
    link = await session.get(CircleLink, int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if link is None or row.resident_id is None or link.resident_id != row.resident_id:
        raise ApiError(404, "not_found", "no such member in this person's circle")
    return link


def _publish(request: web.Request, change: CircleChange) -> None:
    if LIVE_HUB in request.app:
        change.publish(request.app[LIVE_HUB])


@requires(*ASSESSORS)
async def change_circle_member(request: web.Request) -> web.Response:
    """What one member of the circle may see, set by the centre on the resident's behalf."""
    data = await read_checked(request, bodies.CircleConsent, bodies.CONSENT_CODES)
    values = data.get("consent")
    if not isinstance(values, list):
        raise ApiError(400, "consent_invalid", "consent must be a list such as ['alarms']")
    try:
        scopes = parse_scopes(values)
    except ConsentError as err:
        raise ApiError(400, err.code, err.message) from None
    reason = reason_of(request, data)
    who = current_user(request).username
    async with transaction(request) as session:
        link = await _circle_link(session, request)
        change = await change_consent(
            session, link, scopes, actor=who, reason=reason, on_behalf=True
        )
        names = await party_names(session, [link.member])
        body = link_view(link, names)
    _publish(request, change)
    return web.json_response(body)


@requires(*ASSESSORS)
async def remove_circle_member(request: web.Request) -> web.Response:
    """Take a member out of the circle on the resident's behalf."""
    data = await read_checked(request, bodies.ReasonOnly) if request.body_exists else {}
    reason = reason_of(request, data)
    who = current_user(request).username
    async with transaction(request) as session:
        link = await _circle_link(session, request)
        change = await remove_member(session, link, actor=who, reason=reason, on_behalf=True)
    _publish(request, change)
    return web.json_response({"removed": change.link_id})


@requires(*ASSESSORS)
async def change_social_record(request: web.Request) -> web.Response:
    """The resident gives or withdraws consent to the social record (through the centre)."""
    data = await read_checked(request, bodies.SocialRecordConsent, bodies.CONSENT_CODES)
    given = data.get("given")
    if not isinstance(given, bool):
        raise ApiError(400, "invalid_field", "given must be true or false")
    reason = reason_of(request, data)
    who = current_user(request).username
    now = request.app[CLOCK]()
    async with transaction(request) as session:
        row = await store.get_service(session, request.match_info["reference"], for_update=True)
        # The referral keeps the answer too: a resident created later starts from it.
        row.consent = {**(row.consent or {}), SOCIAL_RECORD: given}
        withheld = 0
        resident = None
        if row.resident_id is not None:
            resident = await session.get(Resident, row.resident_id)
        if resident is not None:
            withheld = await set_social_record_consent(
                session, resident, given, actor=who, reason=reason, now=now
            )
            answer = social_record_consent(resident.consent)
        else:
            await record_audit(
                session,
                who,
                "consent.social_record." + ("give" if given else "withdraw"),
                f"service:{row.reference}",
                {"reason": reason, "withheld_events": 0},
                at=now,
            )
            answer = social_record_consent(row.consent)
        body = service_json(row, now)
    body["social_record"] = {
        "given": answer.given,
        "changed_at": answer.changed_at.isoformat() if answer.changed_at else None,
        "withheld_events": withheld,
    }
    return web.json_response(body)


@requires(*ASSESSORS)
async def make_circle_code(request: web.Request) -> web.Response:
    """A linking code for a new member of the circle, made on the resident's behalf."""
    data = await read_checked(request, bodies.CircleConsent, bodies.CONSENT_CODES)
    values = data.get("consent", [])
    if not isinstance(values, list):
        raise ApiError(400, "consent_invalid", "consent must be a list such as ['alarms']")
    try:
        scopes = parse_scopes(values)
    except ConsentError as err:
        raise ApiError(400, err.code, err.message) from None
    reason = reason_of(request, data)
    user = current_user(request)
    async with transaction(request) as session:
        row = await store.get_service(session, request.match_info["reference"])
        if row.resident_id is None:
            raise ApiError(409, "no_resident", "the person is not a resident yet")
        code, link_code = await issue_link_code(
            session,
            resident_id=row.resident_id,
            consent=encode_scopes(scopes),
            created_by=user_party(user.id),
            actor=user.username,
            ttl_s=request.app[FAMILY_SETTINGS].link_code_ttl_s,
            now=request.app[CLOCK](),
            secret=request.app[SETTINGS].jwt_secret,
            reason=reason,
        )
    return web.json_response(code_view(code, link_code), status=201)
