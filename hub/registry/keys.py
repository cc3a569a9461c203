"""App keys of the registry context that other contexts fill: what a pairing runs before
its commit (the service context's hook) and who issues a paired tablet's API token (the
family context). Set up by :func:`hub.registry.app.setup`; the broker's sync has its key
beside it (:data:`hub.registry.sync.BROKER_SYNC`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Device
from hub.registry.pairing import TabletTokenIssuer

# Called in the pairing's own transaction once the tablet is registered (the service
# lifecycle puts it on the resident's open installation work order).
TabletPaired = Callable[[AsyncSession, Device, str, datetime], Awaitable[None]]
TABLET_PAIRED = web.AppKey("tablet_paired", list[TabletPaired])
# Who gives a paired tablet its API token: set by the family context at setup
# (hub.family.tablets); a hub with pairing and without it does not start.
TABLET_TOKEN_ISSUER = web.AppKey("tablet_token_issuer", TabletTokenIssuer)


def on_tablet_paired(app: web.Application, hook: TabletPaired) -> None:
    """Add ``hook(session, device, actor, now)`` to what a pairing runs before its commit."""
    if TABLET_PAIRED not in app:
        app[TABLET_PAIRED] = []
    app[TABLET_PAIRED].append(hook)
