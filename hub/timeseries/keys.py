"""App key of the time-series context: the store the hub writes readings to and reads from."""

from __future__ import annotations

from aiohttp import web

from hub.timeseries.port import TimeSeriesStore

TIMESERIES = web.AppKey("timeseries", TimeSeriesStore)
