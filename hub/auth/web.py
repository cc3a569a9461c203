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
from enum import StrEnum
from typing import TypeVar

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.auth.roles import Role
from hub.auth.service import access_refusal
from hub.auth.tokens import TokenClaims, TokenError, decode_token
from hub.http import ApiError, Handler

ACCESS_COOKIE = "ta_access"
REFRESH_COOKIE = "ta_refresh"
# Attributes set on decorated handlers, read by the role-matrix tests and the docs: every
# route declares who may call it (roles, public, or the family API's own callers); a route
# that declares nothing fails tests/console/test_roles.py.
ROLES_ATTRIBUTE = "__teleassist_roles__"
PUBLIC_ATTRIBUTE = "__teleassist_public__"
FAMILY_ATTRIBUTE = "__teleassist_family__"


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
    """The roles a handler was decorated with (``None``: not decorated with roles)."""
    roles = getattr(handler, ROLES_ATTRIBUTE, None)
    return roles if isinstance(roles, frozenset) else None


H = TypeVar("H")


def public(why: str) -> Callable[[H], H]:
    """Declare a handler public (no sign-in), saying why; the role-matrix test then expects
    an anonymous caller to get past any gate. Without this, a handler with no
    :func:`requires` fails the suite instead of being public by omission."""
    if not why.strip():
        raise ValueError("say why the route is public")

    def decorate(handler: H) -> H:
        setattr(handler, PUBLIC_ATTRIBUTE, why)
        return handler

    return decorate


class Access(StrEnum):
    """How a route is guarded, as its handler declares it."""

    ROLES = "roles"  # @requires / @page_requires: a valid token, and one of the roles if any
    FAMILY = "family"  # a resident's tablet token or any signed-in user; records checked inside
    PUBLIC = "public"  # @public(why)
    UNDECLARED = "undeclared"  # nothing declared: refused by the role-matrix test


def route_access(handler: object) -> tuple[Access, frozenset[Role]]:
    """What ``handler`` declares: its kind of access and, for ``ROLES``, the roles."""
    roles = required_roles(handler)
    if roles is not None:
        return Access.ROLES, roles
    if getattr(handler, FAMILY_ATTRIBUTE, False):
        return Access.FAMILY, frozenset()
    if getattr(handler, PUBLIC_ATTRIBUTE, None):
        return Access.PUBLIC, frozenset()
    return Access.UNDECLARED, frozenset()
