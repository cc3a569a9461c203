"""The outbox context's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``) adds
the admin routes (:mod:`hub.outbox.routes`) and starts the wSocial delivery worker with the app
when ``[wsocial] enabled = true``; it stops with it. Its app keys are in :mod:`hub.outbox.keys`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from hub.appkeys import CLOCK, CONFIG, SESSIONMAKER
from hub.outbox.keys import OUTBOX_WORKER, WSOCIAL_SETTINGS
from hub.outbox.routes import counts, list_records, replay
from hub.outbox.store import SqlOutboxStore
from hub.tasks import cancel_and_wait
from integrations.wsocial.delivery import (
    DeliveryWorker,
    FhirClient,
    FhirEndpointSettings,
    TokenProvider,
)

_LOGGER = logging.getLogger(__name__)


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[WSOCIAL_SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tokens = TokenProvider(session, settings)
        worker = DeliveryWorker(
            SqlOutboxStore(app[SESSIONMAKER]),
            FhirClient(session, settings, tokens),
            settings,
            clock=app[CLOCK],
        )
        app[OUTBOX_WORKER] = worker
        task = asyncio.create_task(worker.run(), name="wsocial-outbox")
        _LOGGER.info("wSocial delivery to %s started", settings.base_url)
        try:
            yield
        finally:
            await cancel_and_wait([task])


def setup(app: web.Application) -> None:
    """Add the admin routes; start the worker if ``[wsocial] enabled``."""
    app.router.add_get("/api/wsocial/outbox", list_records)
    app.router.add_get("/api/wsocial/outbox/counts", counts)
    app.router.add_post("/api/wsocial/outbox/{record_id}/replay", replay)
    if WSOCIAL_SETTINGS not in app:
        app[WSOCIAL_SETTINGS] = app[CONFIG].section("wsocial", FhirEndpointSettings)
    if app[WSOCIAL_SETTINGS].enabled:
        app.cleanup_ctx.append(_worker_ctx)
