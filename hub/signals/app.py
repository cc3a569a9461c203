"""The weekly signals job's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``)
starts the weekly schedule (:class:`~hub.signals.job.WeeklyJob`) with the app when
``[hub] weekly_signals_enabled``; it stops with it. Its app key, ``WEEKLY_JOB``, is beside the
job in :mod:`hub.signals.job`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.signals.job import WEEKLY_JOB, WeeklyJob, WeeklyJobSettings
from hub.tasks import cancel_and_wait


async def _job_ctx(app: web.Application) -> AsyncIterator[None]:
    job = WeeklyJob(app[SESSIONMAKER], WeeklyJobSettings.from_hub(app[SETTINGS]), app[CLOCK])
    app[WEEKLY_JOB] = job
    task = asyncio.create_task(job.run(), name="weekly-signals")
    try:
        yield
    finally:
        # Bounded: a pass stuck on a dead database must not hold up the hub's shutdown.
        await cancel_and_wait([task], rounds=10)


def setup(app: web.Application) -> None:
    """Start the weekly schedule with the app when ``[hub] weekly_signals_enabled``."""
    if app[SETTINGS].weekly_signals_enabled:
        WeeklyJobSettings.from_hub(app[SETTINGS])  # a bad setting stops the start at once
        app.cleanup_ctx.append(_job_ctx)
