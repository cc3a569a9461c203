"""Provisioning API: create homes and devices, issue and revoke device credentials."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.appkeys import KEYSAFE, MQTT, SESSIONMAKER
from hub.auth import Role, current_user, requires
from hub.db.models import Device
from hub.http import ApiError, read_json_object
from hub.ingest.app import INGESTER
from hub.ingest.registry import DeviceInfo
from hub.registry import service
from hub.registry.app import BROKER_SYNC

_LOGGER = logging.getLogger(__name__)

PROVISIONERS = (Role.ADMIN, Role.INSTALLER, Role.COORDINATOR)
_STATUS = {"not_found": 404, "conflict": 409}


def _error(err: service.ProvisioningError) -> ApiError:
    return ApiError(_STATUS.get(err.code, 400), err.code, err.message)


def _opt(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ApiError(400, "invalid_request", f"{name!r} has the wrong type")
    return value


def _changed(request: web.Request) -> None:
    request_broker_sync(request.app)


def request_broker_sync(app: web.Application) -> int | None:
    """Re-render the broker's password file and ACL soon (after a provisioning change);
    the request's number (``None`` when the hub does not manage the broker's files)."""
    sync = app.get(BROKER_SYNC)
    return None if sync is None else sync.request()


def announce_device(app: web.Application, device: Device) -> None:
    """Tell the ingester about a new or changed device at once.

    It may have refused this id for a few seconds (unknown device): that is forgotten.
    """
    ingester = app.get(INGESTER)
    if ingester is not None:
        ingester.registry.put(
            DeviceInfo(
                device.id,
                device.home_id,
                device.resident_id,
                device.type,
                revoked=device.state == "revoked",
            )
        )


@requires(Role.ADMIN, Role.COORDINATOR)
async def create_home(request: web.Request) -> web.Response:
    """``POST /api/homes``: address, abss_area, key_safe_code, access_notes, lat, lon."""
    data = await read_json_object(request)
    address = _opt(data, "address", str)
    if not address:
        raise ApiError(400, "invalid_request", "'address' is required")
    async with request.app[SESSIONMAKER]() as session:
        try:
            home = await service.create_home(
                session,
                address=address,
                abss_area=_opt(data, "abss_area", str) or "",
                key_safe_code=_opt(data, "key_safe_code", str),
                access_notes=_opt(data, "access_notes", str) or "",
                lat=_opt(data, "lat", (int, float)),
                lon=_opt(data, "lon", (int, float)),
                cipher=request.app[KEYSAFE],
                actor=current_user(request).username,
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    return web.json_response(
        {"id": home.id, "address": home.address, "abss_area": home.abss_area}, status=201
    )


@requires(*PROVISIONERS)
async def create_device(request: web.Request) -> web.Response:
    """``POST /api/devices``: id, home_id, type, room, gateway_id, resident_id → credentials."""
    data = await read_json_object(request)
    device_id, home_id = _opt(data, "id", str), _opt(data, "home_id", int)
    device_type = _opt(data, "type", str)
    if not device_id or home_id is None or not device_type:
        raise ApiError(400, "invalid_request", "'id', 'home_id' and 'type' are required")
    async with request.app[SESSIONMAKER]() as session:
        try:
            device, creds = await service.provision_device(
                session,
                device_id=device_id,
                home_id=home_id,
                device_type=device_type,
                room=_opt(data, "room", str),
                gateway_id=_opt(data, "gateway_id", str),
                resident_id=_opt(data, "resident_id", int),
                actor=current_user(request).username,
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    announce_device(request.app, device)
    _changed(request)
    return web.json_response(_credentials(creds), status=201)


def _credentials(creds: service.DeviceCredentials) -> dict[str, str]:
    return {"device_id": creds.device_id, "username": creds.username, "secret": creds.secret}


@requires(*PROVISIONERS)
async def issue_credentials(request: web.Request) -> web.Response:
    """``POST /api/devices/{id}/credentials``: a new secret (the old one stops working)."""
    async with request.app[SESSIONMAKER]() as session:
        try:
            creds = await service.issue_credentials(
                session, request.match_info["device_id"], actor=current_user(request).username
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    _changed(request)
    return web.json_response(_credentials(creds), status=201)


@requires(Role.ADMIN, Role.COORDINATOR)
async def revoke(request: web.Request) -> web.Response:
    """``POST /api/devices/{id}/revoke``: lock the device out of the broker and the hub."""
    data = await read_json_object(request) if request.can_read_body else {}
    device_id = request.match_info["device_id"]
    async with request.app[SESSIONMAKER]() as session:
        try:
            device = await service.revoke_device(
                session,
                device_id,
                actor=current_user(request).username,
                reason=_opt(data, "reason", str) or "",
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    announce_device(request.app, device)
    sync = request.app.get(BROKER_SYNC)
    broker = request.app.get(MQTT)
    if sync is not None:
        await sync.wait(sync.request())
        if broker is not None:
            await sync.security.kick(device_id, broker)
    return web.json_response({"device_id": device_id, "state": "revoked"})


def setup(app: web.Application) -> None:
    """Add the provisioning routes."""
    app.router.add_post("/api/homes", create_home)
    app.router.add_post("/api/devices", create_device)
    app.router.add_post("/api/devices/{device_id}/credentials", issue_credentials)
    app.router.add_post("/api/devices/{device_id}/revoke", revoke)
