"""Signed-in pages: ``@page_requires(Role.OPERATOR, ...)`` for HTML handlers.

Like :func:`hub.auth.requires` (and visible to the same role-matrix test through the same
handler attribute), but a browser without a valid access token is sent to
``/login?next=<page>`` instead of getting JSON, and a wrong role gets a plain 403 page.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from hub.auth.roles import Role
from hub.auth.web import ROLES_ATTRIBUTE, authenticate
from hub.http import ApiError, Handler
from hub.web.pages import PageUser
from hub.web.routes import SHELL_PAGES

PageHandler = Callable[[web.Request, PageUser], Awaitable[web.StreamResponse]]
# Marks a refusal by role (not by resource), for clients and the role-matrix test.
REFUSAL_HEADER = "X-Teleassist-Refusal"


def login_redirect(request: web.Request) -> web.HTTPFound:
    """A redirect to the sign-in page that comes back to this page."""
    return web.HTTPFound("/login?next=" + quote(request.path_qs, safe="/"))


def forbidden_page(request: web.Request, user: PageUser) -> web.Response:
    """A plain 403 page for a role that may not see this page."""
    response = SHELL_PAGES.render(
        request, "message.html", {"key": "forbidden"}, user=user, status=403
    )
    response.headers[REFUSAL_HEADER] = "role"
    return response


def page_requires(*roles: Role) -> Callable[[PageHandler], Handler]:
    """Decorate a page handler ``(request, user)``; ``roles`` empty admits any signed-in user."""
    allowed = frozenset(roles)

    def decorate(handler: PageHandler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                current = await authenticate(request)
            except ApiError as err:
                if err.status == 401:
                    raise login_redirect(request) from None
                raise
            user = PageUser(
                current.id,
                current.username,
                current.role.value,
                current.language,
                current.username,
            )
            if allowed and current.role not in allowed:
                return forbidden_page(request, user)
            return await handler(request, user)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return wrapper

    return decorate
