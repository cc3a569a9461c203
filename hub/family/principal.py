"""Who is calling the family API: a signed-in person (hub JWT) or a resident's tablet.

Tablets send ``Authorization: Bearer tab_<token>``; only the SHA-256 of the token is
stored (it is a long random secret, so a plain hash is enough). A tablet token is valid
only while it has not expired and its device is a registered, unrevoked tablet of the
resident's home (ADR 0052).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth.roles import STAFF, Role
from hub.auth.service import access_refusal
from hub.auth.web import FAMILY_ATTRIBUTE, USER_KEY, authenticate
from hub.db.models import Device, Resident
from hub.family.models import TabletCredential
from hub.family.parties import resident_party, user_party
from hub.http import ApiError, Handler

TABLET_PREFIX = "tab_"
TABLET_DEVICE_TYPE = "tablet"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a party key plus what the hub knows about them."""

    party: str
    actor: str  # for the audit log: a username or "tablet:<device id>"
    language: str
    role: Role | None = None  # None for a tablet
    user_id: int | None = None
    resident_id: int | None = None  # set for a tablet
    device_id: str | None = None  # set for a tablet
    sign_in: str = ""  # the JWT's token family, or the tablet's device id
    credential: str = ""  # the tablet token's hash (to check it again later)

    @property
    def is_staff(self) -> bool:
        """Operators, supervisors and admins act on behalf of residents."""
        return self.role in STAFF

    @property
    def is_tablet(self) -> bool:
        """The resident themself, through their tablet."""
        return self.resident_id is not None


PRINCIPAL_KEY = web.RequestKey("family_principal", Principal)


def new_tablet_token() -> str:
    """A fresh tablet token (shown once)."""
    return TABLET_PREFIX + secrets.token_urlsafe(32)


def tablet_token_hash(token: str) -> str:
    """What the database stores for a tablet token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def _tablet_row(
    session: AsyncSession, token_hash: str, now: datetime
) -> Row[str, int, str] | None:
    """(device id, resident id, language) of a valid tablet token, else ``None``."""
    return (
        await session.execute(
            select(TabletCredential.device_id, Resident.id, Resident.language)
            .join(Resident, Resident.id == TabletCredential.resident_id)
            # The token's device must still be a tablet of this resident's home.
            .join(
                Device,
                (Device.id == TabletCredential.device_id)
                & (Device.resident_id == Resident.id)
                & (Device.home_id == Resident.home_id)
                & (Device.type == TABLET_DEVICE_TYPE)
                & (Device.state != "revoked"),
            )
            .where(TabletCredential.token_hash == token_hash, TabletCredential.expires_at > now)
        )
    ).first()


async def still_allowed(request: web.Request, who: Principal) -> bool:
    """Whether the credential ``who`` came with still works (for long-lived sockets).

    A user's token must not have been signed out or ended (disabled, role, password);
    a tablet's token must still be valid. Expiry of a user's access token is not
    checked here: a socket outlives the token it was opened with.
    """
    app = request.app
    async with app[SESSIONMAKER]() as session:
        if who.is_tablet:
            return await _tablet_row(session, who.credential, app[CLOCK]()) is not None
        claims = request[USER_KEY].claims
        return await access_refusal(session, claims) is None


async def principal_of(request: web.Request) -> Principal:
    """Authenticate the request (tablet token or hub JWT); raise 401 otherwise."""
    known: Principal | None = request.get(PRINCIPAL_KEY)
    if known is not None:
        return known
    token = _bearer(request)
    if token and token.startswith(TABLET_PREFIX):
        async with request.app[SESSIONMAKER]() as session:
            row = await _tablet_row(session, tablet_token_hash(token), request.app[CLOCK]())
        if row is None:
            raise ApiError(
                401, "token_invalid", "this tablet token is not valid (expired or revoked?)"
            )
        device_id, resident_id, language = row
        found = Principal(
            party=resident_party(resident_id),
            actor=f"tablet:{device_id}",
            language=language,
            resident_id=resident_id,
            device_id=device_id,
            sign_in=device_id,
            credential=tablet_token_hash(token),
        )
    else:
        user = await authenticate(request)
        found = Principal(
            party=user_party(user.id),
            actor=user.username,
            language=user.language,
            role=user.role,
            user_id=user.id,
            sign_in=user.claims.family,
        )
    request[PRINCIPAL_KEY] = found
    return found


def require_role(principal: Principal, *roles: Role) -> None:
    """403 unless the caller is a person with one of ``roles``."""
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise ApiError(403, "forbidden", f"only {names} may do this")


def family_api(handler: Handler) -> Handler:
    """Decorate a family-API handler: a resident's tablet token or any signed-in user.

    The caller is authenticated (401 otherwise) before the handler runs; the handler
    checks which records this caller may reach (circle, consent, group membership) and
    any role it needs. Declares the route's access for the role-matrix test.
    """

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        await principal_of(request)
        return await handler(request)

    setattr(wrapper, FAMILY_ATTRIBUTE, True)
    return wrapper
