"""The visor's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``) adds ``/visor``,
``POST /visor/view`` (handlers in :mod:`hub.visor.routes`) and their static files.
"""

from __future__ import annotations

from aiohttp import web

from hub.visor.routes import HERE, start_page, view_page


def setup(app: web.Application) -> None:
    """Add ``/visor`` pages and their static files."""
    app.router.add_static("/static/visor", HERE / "static", name="visor-static")
    app.router.add_get("/visor", start_page)
    app.router.add_post("/visor/view", view_page)
