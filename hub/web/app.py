"""The web shell's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``) serves
``hub/web/static`` under ``/static/web/`` and the sign-in page ``/login`` (handler in
:mod:`hub.web.routes`).
"""

from __future__ import annotations

from aiohttp import web

from hub.web.pages import STATIC_DIR, STATIC_PREFIX
from hub.web.routes import signin_page


def setup(app: web.Application) -> None:
    """Serve ``hub/web/static`` under ``/static/web/`` and the page ``/login``."""
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="web-static")
    app.router.add_get("/login", signin_page, name="web-login")
