"""Sign-in endpoints under ``/api/auth/`` and ``GET /api/me``."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS, access_ended
from hub.auth import service
from hub.auth.bodies import LoginBody, RefreshBody, TokenPair, UserView
from hub.auth.web import ACCESS_COOKIE, REFRESH_COOKIE, current_user, public, requires
from hub.db.models import User
from hub.http import (
    ApiError,
    client_address,
    read_body,
    served_over_https,
    too_many_attempts,
)

REFRESH_COOKIE_PATH = "/api/auth"


def user_view(user: User) -> dict[str, Any]:
    """The public view of a user (no hash, no counters)."""
    view: dict[str, Any] = msgspec.to_builtins(_user(user))
    return view


def _user(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        role=user.role,
        language=user.language,
        display_name=user.display_name,
    )


def pair_response(request: web.Request, pair: service.TokenPair) -> web.Response:
    """The token pair as JSON and as the HttpOnly cookies the web pages use."""
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    body = TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=int((pair.access_expires_at - now).total_seconds()),
        refresh_expires_in=int((pair.refresh_expires_at - now).total_seconds()),
        user=_user(pair.user),
    )
    response = web.json_response(msgspec.to_builtins(body))
    common: dict[str, Any] = {
        "httponly": True,
        "samesite": "Strict",
        # Secure when asked, and always when the hub is served over HTTPS.
        "secure": settings.secure_cookies or served_over_https(request, settings.public_url),
    }
    response.set_cookie(
        ACCESS_COOKIE, pair.access_token, max_age=settings.access_token_ttl_s, path="/", **common
    )
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=settings.refresh_token_ttl_s,
        path=REFRESH_COOKIE_PATH,
        **common,
    )
    return response


@public("signing in; tries limited per address and account")
async def login(request: web.Request) -> web.Response:
    """Exchange a username and password for an access and a refresh token.

    Tries are counted before the password is checked (atomically, so parallel tries
    cannot slip past the limit); over a limit the answer is ``429 too_many_attempts``
    whether the username exists or not.
    """
    body = await read_body(request, LoginBody)
    username, password = body.username, body.password
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    address = client_address(request, settings.trusted_proxies)
    limits = service.LoginLimits.of(settings)
    async with app[SESSIONMAKER]() as session:
        wait = await service.reserve_login(session, limits, username, address, now)
        if wait:
            raise too_many_attempts(wait, "sign-ins")
        try:
            pair = await service.login(session, username, password, settings, now, address=address)
        except service.AuthError as err:
            await session.commit()  # keep the audit entry; the try stays counted
            raise ApiError(err.status, err.code, err.message) from None
        await service.forget_login_failures(session, limits, username, address)
        await session.commit()
    return pair_response(request, pair)


@public("takes a refresh token instead of an access token")
async def refresh(request: web.Request) -> web.Response:
    """Swap a refresh token (body ``refresh_token`` or cookie) for a new pair."""
    token: str | None = None
    if request.can_read_body:
        token = (await read_body(request, RefreshBody)).refresh_token
    token = token or request.cookies.get(REFRESH_COOKIE)
    if not isinstance(token, str) or not token:
        raise ApiError(401, "token_missing", "send 'refresh_token' in the body or the cookie")
    app = request.app
    async with app[SESSIONMAKER]() as session:
        try:
            pair = await service.refresh(session, token, app[SETTINGS], app[CLOCK]())
        except service.AuthError as err:
            await session.commit()  # a detected reuse revokes the family: keep that
            raise ApiError(err.status, err.code, err.message) from None
        await session.commit()
    return pair_response(request, pair)


@requires()
async def logout(request: web.Request) -> web.Response:
    """Revoke the access token and the refresh tokens of this sign-in."""
    user = current_user(request)
    async with request.app[SESSIONMAKER]() as session:
        await service.logout(session, user.claims, request.app[CLOCK]())
        await session.commit()
    access_ended(request.app, user.id, user.claims.family)
    response = web.Response(status=204)
    response.del_cookie(ACCESS_COOKIE, path="/")
    response.del_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    return response


@requires()
async def me(request: web.Request) -> web.Response:
    """Who is signed in."""
    user = current_user(request)
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(User, user.id)
    if row is None or not row.active:
        raise ApiError(401, "token_invalid", "the account no longer exists or is disabled")
    return web.json_response(user_view(row))
