"""Sign-in, token rotation, sign-out and user creation, over the relational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select, update
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
from hub.db.models import RefreshToken, RevokedToken, ThrottleCounter, User
from hub.errors import HubError
from hub.settings import HubSettings
from hub.throttle import Limit, forget, release, take
from protocol.i18n import LANGUAGES


class AuthError(HubError):
    """Sign-in or token refusal: HTTP ``status`` and a stable ``code`` for clients."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code, status=status)


class UserExistsError(HubError, ValueError):
    """A username that is already taken."""

    code = "user_exists"
    status = 409


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
    if language not in LANGUAGES:
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
            version=user.token_version or 0,
        )

    access = issue_token(claims("access", new_token_id(), access_expires), settings.jwt_secret)
    refresh = issue_token(claims("refresh", refresh_id, refresh_expires), settings.jwt_secret)
    return TokenPair(access, refresh, access_expires, refresh_expires, user)


async def issue_tokens(
    session: AsyncSession, user: User, settings: HubSettings, now: datetime
) -> TokenPair:
    """Start a new sign-in for ``user`` without a password (tests, trusted tools)."""
    return await _issue_pair(session, user, settings, now, family=new_token_id())


LOGIN_ADDRESS = "login.address"
LOGIN_ACCOUNT = "login.account"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed sign-ins allowed per address, and per username from one address."""

    per_address: Limit
    per_account: Limit

    @classmethod
    def of(cls, settings: HubSettings) -> LoginLimits:
        """The limits set in ``settings``."""
        window = lifetime(settings.lockout_s)
        return cls(
            Limit(LOGIN_ADDRESS, settings.login_max_failures_per_address, window),
            Limit(LOGIN_ACCOUNT, settings.max_failed_logins, window),
        )


def account_key(username: str, address: str) -> str:
    """The throttle key of one username tried from one address."""
    return f"{username.casefold()}|{address}"


async def reserve_login(
    session: AsyncSession, limits: LoginLimits, username: str, address: str, now: datetime
) -> int:
    """Count a sign-in try before the password is checked; 0 if it may go ahead, else the
    seconds to wait. Commits (so parallel tries are counted one by one, see hub.throttle).

    The answer is the same for a username that exists and one that does not.
    """
    by_address = await take(session, limits.per_address, address, now)
    await session.commit()
    if not by_address.allowed:
        return by_address.retry_after_s
    by_account = await take(session, limits.per_account, account_key(username, address), now)
    if not by_account.allowed:
        await release(session, limits.per_address, address)  # this try was not checked
    await session.commit()
    return by_account.retry_after_s if not by_account.allowed else 0


async def forget_login_failures(
    session: AsyncSession, limits: LoginLimits, username: str, address: str
) -> None:
    """After a good sign-in: the address gets its try back, the username's count is reset."""
    await release(session, limits.per_address, address)
    await forget(session, limits.per_account, account_key(username, address))


async def unlock_account(session: AsyncSession, username: str) -> None:
    """Reset the failed sign-ins of ``username`` from every address (an admin's unlock)."""
    await session.execute(
        delete(ThrottleCounter).where(
            ThrottleCounter.kind == LOGIN_ACCOUNT,
            ThrottleCounter.key.startswith(f"{username.casefold()}|", autoescape=True),
        )
    )


async def login(
    session: AsyncSession,
    username: str,
    password: str,
    settings: HubSettings,
    now: datetime,
    *,
    address: str = "",
) -> TokenPair:
    """Check the password and issue tokens (the limits are :func:`reserve_login`'s).

    The caller commits (a failure is audited, so commit on :class:`AuthError` as well).
    """
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        await verify_password(dummy_hash(), password)
        raise AuthError(401, "invalid_credentials", "wrong username or password")
    if not await verify_password(user.password_hash, password):
        await record_audit(
            session, username, "auth.fail", f"user:{user.id}", {"address": address}, at=now
        )
        raise AuthError(401, "invalid_credentials", "wrong username or password")
    if not user.active:
        raise AuthError(403, "account_disabled", "this account is disabled")
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
    if (user.token_version or 0) != claims.version:
        await revoke_family(session, row.family, now)
        raise AuthError(401, "token_revoked", "this sign-in was ended; sign in again")
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


async def access_refusal(session: AsyncSession, claims: TokenClaims) -> str | None:
    """Why a (well signed, unexpired) access token may no longer be used, or ``None``.

    One indexed query per request: the token was signed out, the account is gone or
    disabled, its role changed, or its sign-ins were ended (token version).
    """
    row = (
        await session.execute(
            select(
                User.active,
                User.role,
                User.token_version,
                exists().where(RevokedToken.jti == claims.jti).label("revoked"),
            ).where(User.id == claims.user_id)
        )
    ).first()
    if row is None or not row.active:
        return "the account no longer exists or is disabled"
    if row.revoked:
        return "this token was revoked by signing out"
    if row.role != claims.role.value or (row.token_version or 0) != claims.version:
        return "this sign-in was ended (password, role or access changed); sign in again"
    return None


async def end_access(
    session: AsyncSession, user: User, now: datetime, why: str, actor: str
) -> None:
    """End every sign-in of ``user`` at once: access tokens stop on their next request,
    refresh tokens are revoked (audited; the caller commits, then tells live sockets)."""
    user.token_version = (user.token_version or 0) + 1
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await record_audit(
        session, actor, "auth.sessions_ended", f"user:{user.id}", {"why": why}, at=now
    )
