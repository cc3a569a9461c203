"""The sign-in context's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``) adds
the sign-in endpoints under ``/api/auth/`` and ``GET /api/me`` (handlers in
:mod:`hub.auth.routes`). The access decorators every route declares are in :mod:`hub.auth.web`.
"""

from __future__ import annotations

from aiohttp import web

from hub.auth.routes import login, logout, me, refresh


def setup(app: web.Application) -> None:
    """Add the sign-in routes."""
    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/refresh", refresh)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/me", me)
