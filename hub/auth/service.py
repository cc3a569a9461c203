"""Sign-in, token rotation, sign-out and user creation, over the relational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.auth.passwords import (
    check_password_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from hub.auth.roles import Role
from hub.auth.tokens import (
    TokenClaims,
    TokenError,
    TokenType,
    decode_token,
    issue_token,
    lifetime,
    new_token_id,
)
from hub.db.models import RefreshToken, RevokedToken, User
from hub.settings import HubSettings


class AuthError(Exception):
    """Sign-in or token refusal: HTTP ``status`` and a stable ``code`` for clients."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class UserExistsError(ValueError):
    """A username that is already taken."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a successful sign-in or refresh returns."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    user: User


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str = "",
    language: str = "ca",
    actor: str = "system",
) -> User:
    """Add a user with an Argon2id password hash; raise on a weak password or taken name."""
    check_password_policy(password)
    if language not in ("ca", "es", "en"):
        raise ValueError(f"language must be ca, es or en, not {language!r}")
    existing = await session.scalar(select(User.id).where(User.username == username))
    if existing is not None:
        raise UserExistsError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role.value,
        display_name=display_name or username,
        language=language,
        failed_logins=0,
        active=True,
    )
    session.add(user)
    await session.flush()
    await record_audit(session, actor, "user.create", f"user:{user.id}", {"role": role.value})
    return user


async def _issue_pair(
    session: AsyncSession, user: User, settings: HubSettings, now: datetime, family: str
) -> TokenPair:
    refresh_id = new_token_id()
    access_expires = now + lifetime(settings.access_token_ttl_s)
    refresh_expires = now + lifetime(settings.refresh_token_ttl_s)
    session.add(
        RefreshToken(
            id=refresh_id, user_id=user.id, family=family, issued_at=now, expires_at=refresh_expires
        )
    )

    def claims(kind: TokenType, jti: str, expires_at: datetime) -> TokenClaims:
        return TokenClaims(
            type=kind,
            jti=jti,
            user_id=user.id,
            username=user.username,
            role=Role(user.role),
            language=user.language,
            family=family,
            issued_at=now,
            expires_at=expires_at,
        )

    access = issue_token(claims("access", new_token_id(), access_expires), settings.jwt_secret)
    refresh = issue_token(claims("refresh", refresh_id, refresh_expires), settings.jwt_secret)
    return TokenPair(access, refresh, access_expires, refresh_expires, user)


async def issue_tokens(
    session: AsyncSession, user: User, settings: HubSettings, now: datetime
) -> TokenPair:
    """Start a new sign-in for ``user`` without a password (tests, trusted tools)."""
    return await _issue_pair(session, user, settings, now, family=new_token_id())


async def login(
    session: AsyncSession, username: str, password: str, settings: HubSettings, now: datetime
) -> TokenPair:
    """Check the password and issue tokens; count failures and lock the account after N.

    The caller commits (failures are recorded too, so commit on :class:`AuthError` as well).
    """
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        await verify_password(dummy_hash(), password)
        raise AuthError(401, "invalid_credentials", "wrong username or password")
    if user.locked_until is not None and user.locked_until > now:
        raise AuthError(
            423,
            "account_locked",
            f"too many failed sign-ins; try again after {user.locked_until.isoformat()}",
        )
    if not await verify_password(user.password_hash, password):
        user.failed_logins += 1
        details: dict[str, object] = {"failed_logins": user.failed_logins}
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + lifetime(settings.lockout_s)
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
            await record_audit(session, username, "auth.lock", f"user:{user.id}", details, at=now)
        else:
            await record_audit(session, username, "auth.fail", f"user:{user.id}", details, at=now)
        raise AuthError(401, "invalid_credentials", "wrong username or password")
    if not user.active:
        raise AuthError(403, "account_disabled", "this account is disabled")
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    pair = await _issue_pair(session, user, settings, now, family=new_token_id())
    await record_audit(session, user.username, "auth.login", f"user:{user.id}", at=now)
    return pair


async def refresh(
    session: AsyncSession, token: str, settings: HubSettings, now: datetime
) -> TokenPair:
    """Swap a refresh token for a new pair; a reused (spent) token revokes its whole family."""
    try:
        claims = decode_token(token, settings.jwt_secret, expected="refresh", now=now)
    except TokenError as err:
        raise AuthError(401, err.code, err.message) from None
    row = await session.get(RefreshToken, claims.jti)
    if row is None:
        raise AuthError(401, "token_invalid", "unknown refresh token")
    if row.revoked_at is not None:
        # Someone replays a spent token: assume theft and end that sign-in everywhere.
        await revoke_family(session, row.family, now)
        await record_audit(
            session, claims.username, "auth.refresh_reuse", f"user:{row.user_id}", at=now
        )
        raise AuthError(401, "token_revoked", "this refresh token was already used or revoked")
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthError(401, "token_invalid", "the account no longer exists or is disabled")
    row.revoked_at = now
    return await _issue_pair(session, user, settings, now, family=row.family)


async def revoke_family(session: AsyncSession, family: str, now: datetime) -> None:
    """Revoke every refresh token of one sign-in."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def logout(session: AsyncSession, claims: TokenClaims, now: datetime) -> None:
    """Revoke the access token ``claims`` came from and the refresh tokens of its sign-in."""
    if await session.get(RevokedToken, claims.jti) is None:
        session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at))
    await revoke_family(session, claims.family, now)
    await record_audit(session, claims.username, "auth.logout", f"user:{claims.user_id}", at=now)


async def is_revoked(session: AsyncSession, jti: str) -> bool:
    """True when the access token ``jti`` was revoked by a sign-out."""
    return await session.get(RevokedToken, jti) is not None
