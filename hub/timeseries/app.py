"""Opens the configured time-series store for the app (``app[TIMESERIES]``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from config import ConfigError
from hub.appkeys import CLOCK, SETTINGS
from hub.clock import Clock, utc_now
from hub.settings import HubSettings
from hub.tasks import cancel_and_wait
from hub.timeseries.influxdb import InfluxDbTimeSeries
from hub.timeseries.keys import TIMESERIES
from hub.timeseries.port import TimeSeriesStore
from hub.timeseries.sqlite import SqliteTimeSeries
from hub.timeseries.victoriametrics import VictoriaMetricsTimeSeries

_LOGGER = logging.getLogger(__name__)


def make_timeseries_store(settings: HubSettings, clock: Clock = utc_now) -> TimeSeriesStore:
    """The adapter named by ``settings.timeseries_backend``; remote ones answer "last values"
    for the window ending at ``clock()`` (the hub's clock)."""
    if settings.timeseries_backend == "sqlite":
        path = settings.timeseries_url or str(settings.data_path / "timeseries.sqlite")
        return SqliteTimeSeries(
            path.removeprefix("sqlite:///"),
            raw_retention=timedelta(days=settings.timeseries_raw_retention_days),
            rollup_retention=timedelta(days=settings.timeseries_rollup_retention_days),
        )
    if not settings.timeseries_url:
        raise ConfigError(f"[hub] timeseries_url is required for {settings.timeseries_backend}")
    if settings.timeseries_backend == "victoriametrics":
        return VictoriaMetricsTimeSeries(settings.timeseries_url, clock=clock)
    _LOGGER.warning(
        "time series: the influxdb adapter is experimental (never run against an InfluxDB"
        " server in this project's tests); victoriametrics is the tested production store"
    )
    return InfluxDbTimeSeries(
        settings.timeseries_url,
        token=settings.timeseries_token,
        org=settings.timeseries_org,
        bucket=settings.timeseries_bucket,
        clock=clock,
    )


MAINTENANCE_INTERVAL_S = 3600.0


async def _maintain_forever(store: SqliteTimeSeries, clock: Clock) -> None:
    while True:
        try:
            rolled, deleted = await store.maintain(clock())
            if rolled or deleted:
                _LOGGER.info(
                    "time series: %d hours rolled up, %d raw rows removed", rolled, deleted
                )
        except Exception:
            _LOGGER.exception("time-series maintenance failed; retrying in an hour")
        await asyncio.sleep(MAINTENANCE_INTERVAL_S)


async def _timeseries_ctx(app: web.Application) -> AsyncIterator[None]:
    store = make_timeseries_store(app[SETTINGS], app[CLOCK])
    await store.start()
    app[TIMESERIES] = store
    task = None
    if isinstance(store, SqliteTimeSeries):
        task = asyncio.create_task(_maintain_forever(store, app[CLOCK]), name="ts-maintenance")
    try:
        yield
    finally:
        await cancel_and_wait([task])
        await store.close()


def setup(app: web.Application) -> None:
    """Open the store when the app starts, close it last."""
    app.cleanup_ctx.append(_timeseries_ctx)
