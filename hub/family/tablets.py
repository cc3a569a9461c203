"""Tablet tokens of the family API: granted by pairing only, renewed, listed, revoked.

A resident's tablet speaks for the resident (their private chats, linking codes with full
consent), so a tablet identity comes only from pairing a registered tablet device of the
resident's home (``hub.registry.pairing``, ADR 0051/0052), which gets
:func:`grant_tablet_token` from us at setup; staff cannot mint one.

- ``POST /api/family/tablet/token`` (the tablet, with its valid token) →
  ``200 {"token", "expires_at", "renew_at"}``: a new token replaces the old one.
- ``GET /api/family/residents/{rid}/tablets`` (staff) → the resident's tablet tokens
  (device, issued, expires; never the token).
- ``DELETE /api/family/tablets/{device_id}`` (staff) → ``204``: the token stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.audit import record_audit
from hub.auth.roles import Role
from hub.family.live import LIVE_HUB
from hub.family.models import TabletCredential
from hub.family.parties import resident_party
from hub.family.principal import (
    family_api,
    new_tablet_token,
    principal_of,
    require_role,
    tablet_token_hash,
)
from hub.http import ApiError, iso, path_int

# Staff who look after residents' tablets (list and revoke; never issue).
TABLET_MANAGERS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.INSTALLER)


@dataclass(frozen=True, slots=True)
class TabletToken:
    """A fresh token (shown once to the tablet) and when it stops working."""

    token: str
    issued_at: datetime
    expires_at: datetime

    @property
    def renew_at(self) -> datetime:
        """When the tablet should renew it: half way, so a few days offline do no harm."""
        return self.issued_at + (self.expires_at - self.issued_at) / 2


async def grant_tablet_token(
    session: AsyncSession,
    *,
    device_id: str,
    resident_id: int,
    actor: str,
    now: datetime,
    ttl: timedelta,
) -> TabletToken:
    """Give the paired tablet ``device_id`` a fresh token (replacing any older one).

    Only pairing calls this, after it registered ``device_id`` as the resident's tablet;
    audited in ``session``, the caller commits.
    """
    token = new_tablet_token()
    await session.execute(delete(TabletCredential).where(TabletCredential.device_id == device_id))
    session.add(
        TabletCredential(
            device_id=device_id,
            resident_id=resident_id,
            token_hash=tablet_token_hash(token),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await record_audit(
        session, actor, "family.tablet_issue", f"device:{device_id}",
        {"resident_id": resident_id, "expires_at": (now + ttl).isoformat()}, at=now,
    )  # fmt: skip
    return TabletToken(token, now, now + ttl)


def _old_token(request: web.Request) -> str:
    return request.headers.get("Authorization", "").partition(" ")[2].strip()


@family_api
async def renew_tablet_token(request: web.Request) -> web.Response:
    """The tablet swaps its still-valid token for a new one with a new expiry."""
    who = await principal_of(request)
    if not who.is_tablet:
        raise ApiError(403, "forbidden", "only a paired tablet renews its own token")
    now = request.app[CLOCK]()
    ttl = timedelta(seconds=request.app[SETTINGS].tablet_token_ttl_s)
    token = TabletToken(new_tablet_token(), now, now + ttl)
    async with request.app[SESSIONMAKER]() as session:
        # Conditional on the old hash: two renewals racing with one token, only one wins.
        result = await session.execute(
            update(TabletCredential)
            .where(TabletCredential.token_hash == tablet_token_hash(_old_token(request)))
            .values(token_hash=tablet_token_hash(token.token), created_at=now, expires_at=now + ttl)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ApiError(401, "token_invalid", "this tablet token was already renewed")
        await record_audit(
            session, who.actor, "family.tablet_renew", f"device:{who.device_id}",
            {"resident_id": who.resident_id, "expires_at": (now + ttl).isoformat()}, at=now,
        )  # fmt: skip
        await session.commit()
    body = {
        "token": token.token,
        "expires_at": iso(token.expires_at),
        "renew_at": iso(token.renew_at),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@family_api
async def list_tablets(request: web.Request) -> web.Response:
    """Staff see which tablets hold a token for the resident, and until when."""
    who = await principal_of(request)
    require_role(who, *TABLET_MANAGERS)
    resident_id = path_int(request, "rid")
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(TabletCredential)
                .where(TabletCredential.resident_id == resident_id)
                .order_by(TabletCredential.created_at.desc())
            )
        )
    return web.json_response(
        [
            {
                "device_id": r.device_id,
                "resident_id": r.resident_id,
                "issued_at": iso(r.created_at),
                "expires_at": iso(r.expires_at),
                "expired": r.expires_at <= now,
            }
            for r in rows
        ]
    )


@family_api
async def revoke_tablet(request: web.Request) -> web.Response:
    """Staff withdraw a tablet's token (pair the tablet again to give it a new one)."""
    who = await principal_of(request)
    require_role(who, *TABLET_MANAGERS)
    device_id = request.match_info["device_id"]
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(TabletCredential, device_id)
        if row is None:
            raise ApiError(404, "not_found", "this device has no tablet token")
        resident_id = row.resident_id
        await session.delete(row)
        await record_audit(session, who.actor, "family.tablet_revoke", f"device:{device_id}")
        await session.commit()
    request.app[LIVE_HUB].close(resident_party(resident_id), device_id)
    return web.Response(status=204)
