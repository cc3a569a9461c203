"""The centre changes a resident's consents on their behalf, always with who and why.

- ``POST /api/service/referrals/{reference}/consent/social-record``
  ``{"given": false, "reason": "She asked at the review visit"}``: the resident's answer to
  the social record (wSocial). Withdrawing withholds what still waits in the outbox
  (:mod:`hub.outbox.consent`, ADR 0065).

Social workers, coordinators and admins may do it; the reason (5–300 characters) goes into
the audit entry with the user's name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK
from hub.audit import record_audit
from hub.auth import current_user, requires
from hub.db.models import Resident
from hub.http import ApiError, read_json_object
from hub.outbox.consent import SOCIAL_RECORD, set_social_record_consent, social_record_consent
from hub.service import store
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


async def consent_context(session: AsyncSession, row: ServiceRow) -> dict[str, Any]:
    """What the referral page's consent section shows."""
    resident = await session.get(Resident, row.resident_id) if row.resident_id else None
    social = social_record_consent(resident.consent if resident else row.consent)
    return {"social_record": social}


@requires(*ASSESSORS)
async def change_social_record(request: web.Request) -> web.Response:
    """The resident gives or withdraws consent to the social record (through the centre)."""
    data = await read_json_object(request)
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


def add_routes(app: web.Application) -> None:
    """Add the consent routes of the service pages."""
    app.router.add_post(
        "/api/service/referrals/{reference}/consent/social-record", change_social_record
    )
