"""Wiring of the service lifecycle into the hub: API routes, pages and the background
sweep that confirms installations from what the hub hears and applies retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.appkeys import CLOCK, CONFIG, SESSIONMAKER, resident_changed
from hub.registry.pairing_routes import on_tablet_paired
from hub.service import api, consent, pages, resident_rules
from hub.service.installation import confirm_installations, link_paired_tablet
from hub.service.models import ServiceRow
from hub.service.queries import apply_retention

_LOGGER = logging.getLogger(__name__)


class ServiceSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Section ``[service]`` of the configuration."""

    # How often the hub looks for first messages of devices being installed.
    confirm_interval_s: float = 5.0
    # How often closed referrals are checked against the retention rules.
    retention_interval_s: float = 3600.0


SERVICE_SETTINGS = web.AppKey("service_settings", ServiceSettings)
SWEEP_TASK = web.AppKey("service_sweep", asyncio.Task[None])


async def sweep_once(app: web.Application) -> list[str]:
    """Confirm installations once (one transaction); references that became active."""
    async with app[SESSIONMAKER]() as session, session.begin():
        return await confirm_installations(session, app[CLOCK]())


async def _tell_activated(app: web.Application, references: list[str]) -> None:
    # The alarm rules switch the daily check-in on for a service that became active.
    async with app[SESSIONMAKER]() as session:
        residents = await session.scalars(
            select(ServiceRow.resident_id).where(ServiceRow.reference.in_(references))
        )
        ids = [r for r in residents if r is not None]
    for resident_id in ids:
        await resident_changed(app, resident_id)


async def _sweep(app: web.Application) -> None:
    settings = app[SERVICE_SETTINGS]
    loop = asyncio.get_running_loop()
    next_retention = loop.time()
    while True:
        try:
            activated = await sweep_once(app)
            if activated:
                await _tell_activated(app, activated)
            if loop.time() >= next_retention:
                async with app[SESSIONMAKER]() as session, session.begin():
                    await apply_retention(session, app[CLOCK]())
                next_retention = loop.time() + settings.retention_interval_s
        except Exception:  # keep sweeping: one bad row must not stop installations
            _LOGGER.exception("service sweep failed")
        await asyncio.sleep(settings.confirm_interval_s)


async def _sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SWEEP_TASK] = asyncio.create_task(_sweep(app), name="service-sweep")
    try:
        yield
    finally:
        task = app[SWEEP_TASK]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    """Add the service API, pages and background sweep."""
    if SERVICE_SETTINGS not in app:
        app[SERVICE_SETTINGS] = app[CONFIG].section("service", ServiceSettings)
    api.add_routes(app)
    consent.add_routes(app)
    pages.add_routes(app)
    resident_rules.add_routes(app)
    on_tablet_paired(app, link_paired_tablet)
    app.cleanup_ctx.append(_sweep_ctx)
