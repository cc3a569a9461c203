"""The read API's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``) adds the read
API (homes, residents, devices, series, ingest counters; handlers in :mod:`hub.api.routes`) and
the OpenAPI document at ``GET /api/openapi.json``.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.routes import (
    device_events,
    device_series,
    get_device,
    get_home,
    ingest_stats,
    list_devices,
    list_homes,
    list_residents,
    openapi_json,
)


def setup(app: web.Application) -> None:
    """Add the read API."""
    r = app.router
    r.add_get("/api/openapi.json", openapi_json)
    r.add_get("/api/homes", list_homes)
    r.add_get("/api/homes/{home_id}", get_home)
    r.add_get("/api/residents", list_residents)
    r.add_get("/api/devices", list_devices)
    r.add_get("/api/devices/{device_id}", get_device)
    r.add_get("/api/devices/{device_id}/series", device_series)
    r.add_get("/api/devices/{device_id}/events", device_events)
    r.add_get("/api/ingest/stats", ingest_stats)
