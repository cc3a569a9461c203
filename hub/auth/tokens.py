"""JWTs (HS256): short-lived access tokens and single-use refresh tokens.

Expiry is checked against the hub's clock rather than PyJWT's, so tests can move time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from hub.auth.roles import Role
from hub.errors import HubError

ALGORITHM = "HS256"
ISSUER = "teleassist-hub"
TokenType = Literal["access", "refresh"]


class TokenError(HubError):
    """A token that cannot be used; ``code`` says why (``token_expired``, ``token_invalid``)."""

    status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says."""

    type: TokenType
    jti: str
    user_id: int
    username: str
    role: Role
    language: str
    family: str
    issued_at: datetime
    expires_at: datetime
    # The user's token version when issued: a password reset, a disabled account or a
    # changed role bumps it, and older tokens stop working (hub.auth.service.access_refusal).
    version: int = 0


def new_token_id() -> str:
    """A random token id (``jti``)."""
    return secrets.token_hex(16)


def issue_token(claims: TokenClaims, secret: str) -> str:
    """Sign ``claims`` as a compact JWT."""
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "typ": claims.type,
        "jti": claims.jti,
        "sub": str(claims.user_id),
        "name": claims.username,
        "role": claims.role.value,
        "lang": claims.language,
        "fam": claims.family,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "ver": claims.version,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str, *, expected: TokenType, now: datetime) -> TokenClaims:
    """Verify ``token``'s signature, type and expiry; raise :class:`TokenError`."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "jti", "sub"]},
        )
    except jwt.InvalidTokenError as err:
        raise TokenError("token_invalid", f"the token is not valid: {err}") from None
    try:
        claims = TokenClaims(
            type=payload["typ"],
            jti=str(payload["jti"]),
            user_id=int(payload["sub"]),
            username=str(payload["name"]),
            role=Role(payload["role"]),
            language=str(payload.get("lang", "ca")),
            family=str(payload.get("fam", "")),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            version=int(payload.get("ver", 0)),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise TokenError("token_invalid", f"the token's claims are not valid: {err}") from None
    if claims.type != expected:
        raise TokenError(
            "token_invalid", f"a {claims.type} token was given where {expected} is needed"
        )
    if claims.expires_at <= now:
        raise TokenError("token_expired", "the token has expired; refresh it or sign in again")
    return claims


def lifetime(seconds: int) -> timedelta:
    """``seconds`` as a timedelta (settings hold plain integers)."""
    return timedelta(seconds=seconds)
