"""Authentication for handlers: ``@requires(Role.OPERATOR, ...)`` and ``current_user``.

A token comes in the ``Authorization: Bearer`` header (API clients, the tablet) or in the
``ta_access`` cookie (the server-rendered pages; SameSite=Strict, HttpOnly). Refusals are
JSON: 401 ``{"error": "token_missing" | "token_invalid" | "token_expired" | "token_revoked"}``
and 403 ``{"error": "forbidden"}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.auth.roles import Role
from hub.auth.service import access_refusal
from hub.auth.tokens import TokenClaims, TokenError, decode_token
from hub.http import ApiError, Handler

ACCESS_COOKIE = "ta_access"
REFRESH_COOKIE = "ta_refresh"
# Attribute set on decorated handlers, read by the role-matrix tests and the docs.
ROLES_ATTRIBUTE = "__teleassist_roles__"


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in user of a request, from a verified access token."""

    id: int
    username: str
    role: Role
    language: str
    claims: TokenClaims


USER_KEY = web.RequestKey("user", CurrentUser)


def _unauthorized(code: str, message: str) -> ApiError:
    err = ApiError(401, code, message)
    err.headers["WWW-Authenticate"] = 'Bearer realm="teleassist"'
    return err


def _token_from(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized(
                "token_invalid", "the Authorization header must be 'Bearer <token>'"
            )
        return value.strip()
    return request.cookies.get(ACCESS_COOKIE)


async def authenticate(request: web.Request) -> CurrentUser:
    """Verify the request's access token (signature, expiry, revocation, the account's
    state, role and token version); raise 401."""
    if USER_KEY in request:
        return request[USER_KEY]
    token = _token_from(request)
    if not token:
        raise _unauthorized("token_missing", "sign in first: no access token was sent")
    app = request.app
    try:
        claims = decode_token(token, app[SETTINGS].jwt_secret, expected="access", now=app[CLOCK]())
    except TokenError as err:
        raise _unauthorized(err.code, err.message) from None
    async with app[SESSIONMAKER]() as session:
        refusal = await access_refusal(session, claims)
    if refusal is not None:
        raise _unauthorized("token_revoked", refusal)
    user = CurrentUser(claims.user_id, claims.username, claims.role, claims.language, claims)
    request[USER_KEY] = user
    return user


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Decorate a handler: a valid access token is required, and one of ``roles`` if given.

    ``@requires()`` admits any signed-in user. The handler reads the user with
    :func:`current_user`.
    """
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = await authenticate(request)
            if allowed and user.role not in allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                raise ApiError(
                    403, "forbidden", f"role {user.role.value!r} may not do this (needs: {names})"
                )
            return await handler(request)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return wrapper

    return decorate


def current_user(request: web.Request) -> CurrentUser:
    """The user authenticated by :func:`requires` for this request."""
    try:
        return request[USER_KEY]
    except KeyError:
        raise RuntimeError("current_user() called in a handler without @requires") from None


def required_roles(handler: object) -> frozenset[Role] | None:
    """The roles a handler was decorated with (``None``: a public handler)."""
    roles = getattr(handler, ROLES_ATTRIBUTE, None)
    return roles if isinstance(roles, frozenset) else None
