"""Tablet pairing: a one-time setup code becomes a registered tablet with its credentials.

Staff issue a code for a resident (:func:`issue_setup_code`); the installer types it on
the tablet, which calls ``POST /api/tablet/pair``; :func:`redeem_setup_code` then, in the
caller's transaction, marks the code used, registers the tablet as a device of the
resident's home (or gives the resident's existing tablet new broker credentials) and
issues its family-API token (through the issuer the family context gives the pairing
routes: :data:`hub.registry.keys.TABLET_TOKEN_ISSUER`). Codes are 8 digits,
stored as an HMAC keyed with a hub secret, single use and expiring; tries are counted per
source address before the code is checked (``hub.throttle``: parallel tries cannot slip
past), a good one is given back.

The code rules (unknown/used/expired, the guessing limit) are the linking codes' own
(:mod:`hub.auth.codes`), with digits instead of letters because the tablet's pad
has only digits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.auth.codes import (
    CodeState,
    LinkingError,
    check_redeemable,
    code_digest,
)
from hub.db.models import Device, Resident
from hub.errors import HubError
from hub.registry.models import TabletSetupCode
from hub.registry.service import (
    DeviceCredentials,
    ProvisioningError,
    issue_credentials,
    provision_device,
)
from hub.throttle import Limit

CODE_DIGITS = 8
MIN_CODE, MAX_CODE = 6, 12  # what the tablet's pad accepts (tablet_app/pairing.py)
TABLET_TYPE = "tablet"
NOUN = "setup code"


class PairingError(HubError):
    """A pairing that cannot go ahead; ``code`` is stable, ``status`` its HTTP status."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: int = 0) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after_s = retry_after_s


class ApiToken(Protocol):
    """A tablet's fresh API token (shown once to the tablet) and its times."""

    @property
    def token(self) -> str:
        """The token itself."""
        ...

    @property
    def expires_at(self) -> datetime:
        """When it stops working."""
        ...

    @property
    def renew_at(self) -> datetime:
        """When the tablet should renew it."""
        ...


class TabletTokenIssuer(Protocol):
    """Gives a just-paired tablet its API token (the family context's
    ``hub.family.tablets.grant_tablet_token``), audited in ``session``; the caller commits."""

    async def __call__(
        self,
        session: AsyncSession,
        *,
        device_id: str,
        resident_id: int,
        actor: str,
        now: datetime,
        ttl: timedelta,
    ) -> ApiToken:
        """A fresh token for ``device_id``, replacing any older one."""
        ...


@dataclass(frozen=True, slots=True)
class SetupCode:
    """A fresh code (shown once to the member of staff)."""

    code: str
    resident_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PairedTablet:
    """What a successful pairing gives the tablet."""

    resident_id: int
    credentials: DeviceCredentials
    api_token: ApiToken
    device: Device


def actor_of(address: str) -> str:
    """How a tablet that is pairing appears in the audit log."""
    return f"tablet@{address}"[:64]


def new_setup_code() -> str:
    """A random code of :data:`CODE_DIGITS` digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def check_code_format(code: object) -> str:
    """``code`` if it is 6–12 ASCII digits, else ``code_malformed``."""
    if not (
        isinstance(code, str)
        and code.isascii()
        and code.isdigit()
        and MIN_CODE <= len(code) <= MAX_CODE
    ):
        raise PairingError(
            400, "code_malformed", f"a {NOUN} is a string of {MIN_CODE} to {MAX_CODE} digits"
        )
    return code


async def issue_setup_code(
    session: AsyncSession,
    *,
    resident_id: int,
    actor: str,
    now: datetime,
    ttl: timedelta,
    secret: str,
) -> SetupCode:
    """A new code for the resident's tablet (audited; the caller commits)."""
    if await session.get(Resident, resident_id) is None:
        raise PairingError(404, "resident_unknown", "no such resident")
    for _ in range(20):
        code = new_setup_code()
        digest = code_digest(code, secret)
        live = await session.scalar(
            select(TabletSetupCode.id).where(
                TabletSetupCode.digest == digest,
                TabletSetupCode.used_at.is_(None),
                TabletSetupCode.expires_at > now,
            )
        )
        if live is None:
            break
    else:  # pragma: no cover - needs millions of live codes
        raise PairingError(503, "no_code", "could not find a free setup code; try again")
    row = TabletSetupCode(
        digest=digest,
        resident_id=resident_id,
        created_by=actor[:64],
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    await record_audit(
        session, actor, "tablet.setup_code", f"resident:{resident_id}",
        {"code_id": row.id, "expires_at": row.expires_at.isoformat()}, at=now,
    )  # fmt: skip
    return SetupCode(code, resident_id, row.expires_at)


def pairing_limit(max_failures: int, window: timedelta) -> Limit:
    """Pairing tries per source address (counted before the code is checked)."""
    return Limit("tablet.pair", max_failures, window)


async def record_refusal(session: AsyncSession, address: str, now: datetime, why: str) -> None:
    """Audit a refused try from ``address`` (the caller commits; the limit counted it)."""
    await record_audit(
        session, actor_of(address), "tablet.pair_refused", "setup-code", {"why": why},
        at=now,
    )  # fmt: skip


async def _find_code(
    session: AsyncSession, code: str, secret: str, now: datetime
) -> TabletSetupCode:
    rows = list(
        await session.scalars(
            select(TabletSetupCode)
            .where(TabletSetupCode.digest == code_digest(code, secret))
            .order_by(TabletSetupCode.created_at.desc(), TabletSetupCode.id.desc())
        )
    )
    live = [r for r in rows if r.used_at is None and r.expires_at > now]
    row = live[0] if live else (rows[0] if rows else None)
    try:
        check_redeemable(None if row is None else CodeState(row.expires_at, row.used_at), now, NOUN)
    except LinkingError as err:
        status = 404 if err.code == "code_unknown" else 410
        raise PairingError(status, err.code, err.message) from None
    assert row is not None
    return row


async def _tablet_device(
    session: AsyncSession, resident: Resident, actor: str
) -> tuple[Device, DeviceCredentials]:
    """The resident's tablet with new credentials, registered first if there is none."""
    existing = await session.scalar(
        select(Device)
        .where(
            Device.resident_id == resident.id,
            Device.home_id == resident.home_id,
            Device.type == TABLET_TYPE,
            Device.state != "revoked",
        )
        .order_by(Device.created_at.desc())
    )
    if existing is not None:
        return existing, await issue_credentials(session, existing.id, actor=actor)
    base = f"tab-{resident.id:04d}"
    for n in range(1, 100):
        device_id = base if n == 1 else f"{base}-{n}"
        if await session.get(Device, device_id) is None:
            return await provision_device(
                session,
                device_id=device_id,
                home_id=resident.home_id,
                device_type=TABLET_TYPE,
                resident_id=resident.id,
                actor=actor,
            )
    raise ProvisioningError("conflict", f"resident {resident.id} has too many old tablets")


async def redeem_setup_code(
    session: AsyncSession,
    code: str,
    *,
    secret: str,
    now: datetime,
    address: str,
    token_ttl: timedelta,
    issue_token: TabletTokenIssuer,
) -> PairedTablet:
    """Use ``code``: register the tablet, give it broker credentials and its API token
    (from ``issue_token``).

    Raises :class:`PairingError` for an unknown (404), used or expired (410) code; the
    caller records the refusal. Everything else happens in ``session`` (caller commits).
    """
    row = await _find_code(session, code, secret, now)
    # Single use even when two tablets race with the same code: only one UPDATE wins.
    won = await session.execute(
        update(TabletSetupCode)
        .where(TabletSetupCode.id == row.id, TabletSetupCode.used_at.is_(None))
        .values(used_at=now)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        raise PairingError(410, "code_used", f"this {NOUN} was already used; ask for a new one")
    resident = await session.get(Resident, row.resident_id)
    if resident is None:  # pragma: no cover - the foreign key cascades
        raise PairingError(404, "code_unknown", f"this {NOUN} does not exist")
    actor = actor_of(address)
    device, creds = await _tablet_device(session, resident, actor)
    await session.execute(
        update(TabletSetupCode).where(TabletSetupCode.id == row.id).values(device_id=device.id)
    )
    token = await issue_token(
        session, device_id=device.id, resident_id=resident.id, actor=actor, now=now, ttl=token_ttl
    )
    await record_audit(
        session, actor, "tablet.pair", f"device:{device.id}",
        {"resident_id": resident.id, "code_id": row.id, "created_by": row.created_by}, at=now,
    )  # fmt: skip
    return PairedTablet(resident.id, creds, token, device)
