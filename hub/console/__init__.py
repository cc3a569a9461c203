"""The operator console: alarm queue, resident card, handling, technical alarms,
wellbeing calls, supervisor figures, and user administration (served by the hub)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add every console route (the hub lists ``hub.console`` in its ROUTE_MODULES)."""
    from hub.console import (
        adherence,
        calls,
        health,
        maintenance,
        messages,
        pages,
        protocols,
        residents,
        supervision,
        users,
        voice,
    )

    adherence.setup(app)
    calls.setup(app)
    health.setup(app)
    maintenance.setup(app)
    messages.setup(app)
    pages.setup(app)
    protocols.setup(app)
    residents.setup(app)
    supervision.setup(app)
    users.setup(app)
    voice.setup(app)
