"""Read API: homes, residents, devices with status and last values, series, ingest counters.

Described by the OpenAPI document at ``GET /api/openapi.json`` (``hub/api/openapi.py``),
which ``tests/hub/api/test_openapi.py`` checks against the running hub with schemathesis.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import func, select

from hub.api.openapi import app_document
from hub.api.views import (
    StoredEventPage,
    StoredEventView,
    device_view,
    home_summary,
    resident_view,
    sample_view,
)
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth import Role, requires
from hub.auth.web import public
from hub.db.models import Device, Home, Resident, StoredEvent
from hub.http import ApiError
from hub.ingest.app import INGESTER
from hub.timeseries.keys import TIMESERIES
from hub.timeseries.port import HOUR, MINUTE, LastValue
from protocol import is_token

# Not the social worker: homes, residents, devices and their telemetry (the daily routine)
# are nothing the visor shows, and a resident list before a reason is what it forbids
# (docs/adr/0105).
READERS = (
    Role.OPERATOR,
    Role.SUPERVISOR,
    Role.ADMIN,
    Role.COORDINATOR,
    Role.INSTALLER,
)
BUCKETS: dict[str, timedelta | None] = {"raw": None, "1m": MINUTE, "1h": HOUR, "1d": 24 * HOUR}
MAX_LIMIT = 1000
MAX_POINTS = 10_000


def _int_param(
    request: web.Request, name: str, default: int | None, lo: int, hi: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "invalid_request", f"{name!r} must be between {lo} and {hi}")
    return value


def _time_param(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        # RFC 3339 allows a lower-case "t"/"z"; Python's parser wants upper case.
        value = datetime.fromisoformat(raw.upper())
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name!r} must be an RFC 3339 time") from None
    if value.tzinfo is None:
        raise ApiError(400, "invalid_request", f"{name!r} needs a UTC offset (e.g. Z)")
    return value


def _path_id(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an integer") from None
    if not 0 < value < 2**31:
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
    return value


async def _last_by_device(request: web.Request, ids: list[str]) -> dict[str, list[LastValue]]:
    found: dict[str, list[LastValue]] = defaultdict(list)
    if ids:
        for value in await request.app[TIMESERIES].last_values(ids):
            found[value.device_id].append(value)
    return found


@requires(*READERS)
async def list_homes(request: web.Request) -> web.Response:
    """``GET /api/homes?limit=&offset=``."""
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT) or 100
    offset = _int_param(request, "offset", 0, 0, 2**31 - 1) or 0
    async with request.app[SESSIONMAKER]() as session:
        total = await session.scalar(select(func.count()).select_from(Home)) or 0
        homes = (
            await session.scalars(select(Home).order_by(Home.id).limit(limit).offset(offset))
        ).all()
        ids = [h.id for h in homes]
        residents: dict[int, list[Resident]] = defaultdict(list)
        counts: dict[int, int] = {}
        if ids:
            for r in await session.scalars(
                select(Resident).where(Resident.home_id.in_(ids)).order_by(Resident.id)
            ):
                residents[r.home_id].append(r)
            for home_id, count in await session.execute(
                select(Device.home_id, func.count())
                .where(Device.home_id.in_(ids))
                .group_by(Device.home_id)
            ):
                counts[home_id] = count
    items = [home_summary(h, residents[h.id], counts.get(h.id, 0)) for h in homes]
    return web.json_response({"items": items, "total": total})


@requires(*READERS)
async def get_home(request: web.Request) -> web.Response:
    """``GET /api/homes/{home_id}``: the home, its residents and devices."""
    home_id = _path_id(request, "home_id")
    async with request.app[SESSIONMAKER]() as session:
        home = await session.get(Home, home_id)
        if home is None:
            raise ApiError(404, "not_found", f"home {home_id} does not exist")
        residents = list(
            await session.scalars(
                select(Resident).where(Resident.home_id == home_id).order_by(Resident.id)
            )
        )
        devices = list(
            await session.scalars(
                select(Device).where(Device.home_id == home_id).order_by(Device.id)
            )
        )
    last = await _last_by_device(request, [d.id for d in devices])
    body: dict[str, Any] = home_summary(home, residents, len(devices))
    body["access_notes"] = home.access_notes
    body["has_key_safe"] = home.key_safe_code_enc is not None
    body["residents"] = [resident_view(r) for r in residents]
    body["devices"] = [device_view(d, last[d.id]) for d in devices]
    return web.json_response(body)


@requires(*READERS)
async def list_residents(request: web.Request) -> web.Response:
    """``GET /api/residents?home_id=&limit=&offset=``."""
    home_id = _int_param(request, "home_id", None, 1, 2**31 - 1)
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT) or 100
    offset = _int_param(request, "offset", 0, 0, 2**31 - 1) or 0
    stmt = select(Resident).order_by(Resident.id)
    if home_id is not None:
        stmt = stmt.where(Resident.home_id == home_id)
    async with request.app[SESSIONMAKER]() as session:
        rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    return web.json_response({"items": [resident_view(r) for r in rows]})


@requires(*READERS)
async def list_devices(request: web.Request) -> web.Response:
    """``GET /api/devices?home_id=&state=&limit=&offset=``: with status and last values."""
    home_id = _int_param(request, "home_id", None, 1, 2**31 - 1)
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT) or 100
    offset = _int_param(request, "offset", 0, 0, 2**31 - 1) or 0
    state = request.query.get("state")
    stmt = select(Device).order_by(Device.id)
    if home_id is not None:
        stmt = stmt.where(Device.home_id == home_id)
    if state is not None:
        if state not in ("unknown", "online", "offline", "revoked"):
            raise ApiError(400, "invalid_request", "state must be unknown|online|offline|revoked")
        stmt = stmt.where(Device.state == state)
    async with request.app[SESSIONMAKER]() as session:
        devices = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    last = await _last_by_device(request, [d.id for d in devices])
    return web.json_response({"items": [device_view(d, last[d.id]) for d in devices]})


async def _device(request: web.Request) -> Device:
    device_id = request.match_info["device_id"]
    async with request.app[SESSIONMAKER]() as session:
        device = await session.get(Device, device_id)
    if device is None:
        raise ApiError(404, "not_found", f"device {device_id!r} does not exist")
    return device


@requires(*READERS)
async def get_device(request: web.Request) -> web.Response:
    """``GET /api/devices/{device_id}``."""
    device = await _device(request)
    last = await _last_by_device(request, [device.id])
    return web.json_response(device_view(device, last[device.id]))


@requires(*READERS)
async def device_series(request: web.Request) -> web.Response:
    """``GET /api/devices/{device_id}/series?kind=&start=&end=&bucket=raw|1m|1h|1d``."""
    device = await _device(request)
    kind = request.query.get("kind", "")
    if not kind:
        raise ApiError(400, "invalid_request", "'kind' is required (e.g. temperature)")
    if not is_token(kind):
        raise ApiError(400, "invalid_request", "'kind' is a telemetry kind such as temperature")
    bucket_name = request.query.get("bucket", "raw")
    if bucket_name not in BUCKETS:
        raise ApiError(400, "invalid_request", "bucket must be raw, 1m, 1h or 1d")
    end = _time_param(request, "end", request.app[CLOCK]())
    try:
        default_start = end - timedelta(hours=24)
    except OverflowError:
        default_start = datetime.min.replace(tzinfo=UTC)
    start = _time_param(request, "start", default_start)
    limit = _int_param(request, "limit", MAX_POINTS, 1, MAX_POINTS) or MAX_POINTS
    samples = (
        await request.app[TIMESERIES].query(
            device.id, kind, start, end, BUCKETS[bucket_name], limit
        )
        if start < end
        else []
    )
    return web.json_response(
        {
            "device_id": device.id,
            "kind": kind,
            "bucket": bucket_name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "points": [sample_view(s) for s in samples],
        }
    )


@requires(Role.ADMIN, Role.SUPERVISOR)
async def ingest_stats(request: web.Request) -> web.Response:
    """``GET /api/ingest/stats``: this worker's ingestion counters."""
    ingester = request.app.get(INGESTER)
    if ingester is None:
        return web.json_response({"enabled": False})
    return web.json_response({"enabled": True, **ingester.snapshot()})


@requires(*READERS)
async def device_events(request: web.Request) -> web.Response:
    """``GET /api/devices/{device_id}/events?type=&before=&limit=``: the device's stored
    events, newest first (what the hub received and kept, duplicates already dropped)."""
    device = await _device(request)
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
    before = _int_param(request, "before", None, 1, 2**62)
    kind = request.query.get("type")
    if kind is not None and not is_token(kind):
        raise ApiError(400, "invalid_request", "'type' is an event type such as panic")
    query = select(StoredEvent).where(StoredEvent.device_id == device.id)
    if kind is not None:
        query = query.where(StoredEvent.type == kind)
    if before is not None:
        query = query.where(StoredEvent.id < before)
    assert limit is not None
    async with request.app[SESSIONMAKER]() as session:
        rows = list(await session.scalars(query.order_by(StoredEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    page = StoredEventPage(
        items=[
            StoredEventView(
                id=r.id, message_id=r.message_id, device_id=r.device_id, type=r.type, ts=r.ts,
                received_at=r.received_at, seq=r.seq, body=r.body,
            )
            for r in rows[:limit]
        ],
        next_before=rows[limit - 1].id if more else None,
    )  # fmt: skip
    return web.json_response(msgspec.to_builtins(page))


@public("the API description holds no data")
async def openapi_json(request: web.Request) -> web.Response:
    """``GET /api/openapi.json`` (public)."""
    return web.json_response(app_document(request.app))
