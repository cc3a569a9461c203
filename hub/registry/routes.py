"""Provisioning API: create homes and devices, issue and revoke device credentials.

Handlers only: :mod:`hub.registry.app` adds them to the hub.
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web

from hub.appkeys import KEYSAFE, MQTT, SESSIONMAKER
from hub.auth import Role, current_user, requires
from hub.db.models import Device
from hub.http import ApiError, read_body
from hub.ingest.app import INGESTER
from hub.ingest.registry import DeviceInfo
from hub.registry import service
from hub.registry.bodies import (
    Credentials,
    DeviceCreate,
    DeviceRevoke,
    DeviceRevoked,
    HomeCreate,
    HomeCreated,
)
from hub.registry.sync import BROKER_SYNC, broker_knows, request_broker_sync

_LOGGER = logging.getLogger(__name__)

PROVISIONERS = (Role.ADMIN, Role.INSTALLER, Role.COORDINATOR)
_STATUS = {"not_found": 404, "conflict": 409}


def _error(err: service.ProvisioningError) -> ApiError:
    return ApiError(_STATUS.get(err.code, 400), err.code, err.message)


def _changed(request: web.Request) -> None:
    request_broker_sync(request.app)


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
    """``POST /api/homes`` (:class:`~hub.registry.bodies.HomeCreate`) → ``HomeCreated``."""
    body = await read_body(request, HomeCreate)
    async with request.app[SESSIONMAKER]() as session:
        try:
            home = await service.create_home(
                session,
                address=body.address,
                abss_area=body.abss_area,
                key_safe_code=body.key_safe_code,
                access_notes=body.access_notes,
                lat=body.lat,
                lon=body.lon,
                cipher=request.app[KEYSAFE],
                actor=current_user(request).username,
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    created = HomeCreated(id=home.id, address=home.address, abss_area=home.abss_area)
    return web.json_response(msgspec.to_builtins(created), status=201)


@requires(*PROVISIONERS)
async def create_device(request: web.Request) -> web.Response:
    """``POST /api/devices`` (:class:`~hub.registry.bodies.DeviceCreate`) → credentials."""
    # A device id against the contract's rule keeps its own code, as before.
    body = await read_body(request, DeviceCreate, {"$.id": "invalid_device_id"})
    async with request.app[SESSIONMAKER]() as session:
        try:
            device, creds = await service.provision_device(
                session,
                device_id=body.id,
                home_id=body.home_id,
                device_type=body.type,
                room=body.room,
                gateway_id=body.gateway_id,
                resident_id=body.resident_id,
                actor=current_user(request).username,
            )
        except service.ProvisioningError as err:
            raise _error(err) from None
        await session.commit()
    announce_device(request.app, device)
    # Answer once the broker knows the device (a few seconds at most), so that it can connect
    # and be heard at once: on RabbitMQ its topics are bound to its home's partition (ADR 0145).
    await broker_knows(request.app)
    return web.json_response(_credentials(creds), status=201)


def _credentials(creds: service.DeviceCredentials) -> dict[str, str]:
    answer = Credentials(device_id=creds.device_id, username=creds.username, secret=creds.secret)
    built: dict[str, str] = msgspec.to_builtins(answer)
    return built


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
    body = await read_body(request, DeviceRevoke) if request.can_read_body else DeviceRevoke()
    device_id = request.match_info["device_id"]
    async with request.app[SESSIONMAKER]() as session:
        try:
            device = await service.revoke_device(
                session,
                device_id,
                actor=current_user(request).username,
                reason=body.reason,
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
    return web.json_response(msgspec.to_builtins(DeviceRevoked(device_id=device_id)))
