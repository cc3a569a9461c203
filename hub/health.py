"""``GET /healthz``: the process is up and the relational store answers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from hub.appkeys import SESSIONMAKER


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok"}`` when the database answers, 503 otherwise."""
    try:
        async with request.app[SESSIONMAKER]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as err:  # any database failure means "not healthy"
        return web.json_response({"status": "error", "database": type(err).__name__}, status=503)
    return web.json_response({"status": "ok"})


def setup(app: web.Application) -> None:
    """Add ``/healthz``."""
    app.router.add_get("/healthz", healthz)
