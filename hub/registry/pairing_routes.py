"""Tablet pairing over HTTP (docs/tablet.md).

- ``POST /api/residents/{rid}/tablet-setup-codes`` (staff who install or look after the
  service) → ``201 {"code", "resident_id", "expires_at"}``.
- ``POST /api/tablet/pair`` (public: the tablet has nothing else yet) with ``{"code"}`` →
  ``200 {"device_id", "resident_id", "hub_url", "api_token", "api_token_expires_at",
  "api_token_renew_at", "mqtt": {...}}``; ``400``
  malformed, ``404`` unknown, ``410`` used or expired, ``429`` too many refused tries from
  this address (with ``Retry-After``).

Handlers only: :mod:`hub.registry.app` adds them to the hub.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from config import MqttSettings
from hub.appkeys import CLOCK, MQTT, SESSIONMAKER, SETTINGS
from hub.auth import Role, current_user, requires
from hub.auth.web import public
from hub.http import ApiError, client_address, is_int32_id, read_checked, too_many_attempts
from hub.registry import pairing
from hub.registry.bodies import PAIR_CODES, PairBody
from hub.registry.keys import TABLET_PAIRED, TABLET_TOKEN_ISSUER
from hub.registry.routes import announce_device
from hub.registry.service import ProvisioningError
from hub.registry.sync import broker_knows
from hub.settings import HubSettings
from hub.throttle import release, take

_LOGGER = logging.getLogger(__name__)

# Those who provision devices (hub.registry.routes.PROVISIONERS), and the operator who
# sets a resident's tablet up over the phone with the family.
CODE_ISSUERS = (Role.ADMIN, Role.INSTALLER, Role.COORDINATOR, Role.OPERATOR)
# How long the answer may wait for the broker to learn the new account.
BROKER_SYNC_WAIT_S = 5.0


def _resident_id(request: web.Request) -> int:
    raw = request.match_info["rid"]
    if not is_int32_id(raw):
        raise ApiError(404, "resident_unknown", "no such resident")
    return int(raw)


@requires(*CODE_ISSUERS)
async def create_setup_code(request: web.Request) -> web.Response:
    """Issue a one-time setup code for the resident's tablet."""
    resident_id = _resident_id(request)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONMAKER]() as session:
        try:
            issued = await pairing.issue_setup_code(
                session,
                resident_id=resident_id,
                actor=current_user(request).username,
                now=request.app[CLOCK](),
                ttl=timedelta(seconds=settings.tablet_code_ttl_s),
                secret=settings.jwt_secret,
            )
        except pairing.PairingError as err:
            raise ApiError(err.status, err.code, err.message) from None
        await session.commit()
    body = {
        "code": issued.code,
        "resident_id": issued.resident_id,
        "expires_at": issued.expires_at.isoformat(),
    }
    return web.json_response(body, status=201)


def device_broker(settings: HubSettings, hub_mqtt: MqttSettings | None) -> dict[str, Any]:
    """Where a device reaches the broker (without its username and password)."""
    if settings.device_mqtt_host:
        tls = settings.device_mqtt_tls
        port = settings.device_mqtt_port or (8883 if tls else 1883)
        return {"host": settings.device_mqtt_host, "port": port, "tls": tls}
    mqtt = hub_mqtt or MqttSettings()
    return {"host": mqtt.host, "port": mqtt.port, "tls": mqtt.tls}


def _address(request: web.Request) -> str:
    # The client as the hub sees it (X-Forwarded-For only from [hub] trusted_proxies);
    # behind an untrusted proxy every tablet shares its address (safe, if strict).
    return client_address(request, request.app[SETTINGS].trusted_proxies)


@public("a tablet proves itself with a setup code; tries limited")
async def pair(request: web.Request) -> web.Response:
    """A tablet exchanges its setup code for its identity and credentials."""
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    address = _address(request)
    limit = pairing.pairing_limit(
        settings.tablet_pair_max_failures, timedelta(seconds=settings.tablet_pair_window_s)
    )
    async with request.app[SESSIONMAKER]() as session:
        # Counted before the code is checked, atomically: parallel guesses cannot slip past.
        slot = await take(session, limit, address, now)
        await session.commit()
        if not slot.allowed:
            raise too_many_attempts(slot.retry_after_s)
        try:
            data = await read_checked(request, PairBody, PAIR_CODES)
            code = pairing.check_code_format(data.get("code"))
            paired = await pairing.redeem_setup_code(
                session,
                code,
                secret=settings.jwt_secret,
                now=now,
                address=address,
                token_ttl=timedelta(seconds=settings.tablet_token_ttl_s),
                issue_token=request.app[TABLET_TOKEN_ISSUER],
            )
        except (ApiError, pairing.PairingError) as err:
            await session.rollback()
            # Every refused try counts against the limit, malformed ones too.
            await pairing.record_refusal(session, address, now, err.code)
            await session.commit()
            if isinstance(err, ApiError):
                raise
            raise ApiError(err.status, err.code, err.message) from None
        except ProvisioningError as err:
            await session.rollback()
            raise ApiError(409, err.code, err.message) from None
        for hook in request.app.get(TABLET_PAIRED, []):
            await hook(session, paired.device, pairing.actor_of(address), now)
        await release(session, limit, address)  # a good code does not count
        await session.commit()
    announce_device(request.app, paired.device)
    await broker_knows(request.app, BROKER_SYNC_WAIT_S)
    _LOGGER.info("tablet %s paired for resident %s", paired.device.id, paired.resident_id)
    creds = paired.credentials
    body = {
        "device_id": creds.device_id,
        "resident_id": paired.resident_id,
        "hub_url": (settings.public_url or str(request.url.origin())).rstrip("/"),
        "api_token": paired.api_token.token,
        "api_token_expires_at": paired.api_token.expires_at.isoformat(),
        "api_token_renew_at": paired.api_token.renew_at.isoformat(),
        "mqtt": device_broker(settings, request.app.get(MQTT))
        | {"username": creds.username, "password": creds.secret},
    }
    return web.json_response(body)
