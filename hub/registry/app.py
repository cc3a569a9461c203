"""The registry context's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``).

``setup(app)`` adds the provisioning API (:mod:`hub.registry.routes`), tablet pairing
(:mod:`hub.registry.pairing_routes`) and the RabbitMQ cluster's auth questions
(:func:`hub.registry.rabbit.broker_auth`), and starts the broker's security with the app:
Mosquitto's password file and ACL when ``hub.mosquitto_passwd_file`` is set, a RabbitMQ
cluster's bindings when ``hub.ingest_transport`` is ``rabbitmq``, kept in step at start, every
``broker_sync_interval_s`` and on demand (:class:`~hub.registry.sync.BrokerSync`). Its app
keys are in :mod:`hub.registry.keys` (pairing's hooks) and :mod:`hub.registry.sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.appkeys import MQTT, SESSIONMAKER, SETTINGS
from hub.registry.keys import TABLET_PAIRED, TABLET_TOKEN_ISSUER
from hub.registry.pairing_routes import create_setup_code, pair
from hub.registry.rabbit import (
    AUTH_TOKEN,
    AUTHORITY,
    HIDE_AUTH_TOKEN,
    DeviceAuthority,
    RabbitAdmin,
    RabbitSecurity,
    broker_auth,
    urls,
)
from hub.registry.routes import create_device, create_home, issue_credentials, revoke
from hub.registry.sync import BROKER_SYNC, BrokerSync, make_broker_security
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)


async def _rabbit_ctx(app: web.Application) -> AsyncIterator[None]:
    """On a RabbitMQ cluster: answer the broker's auth questions, keep devices bound to their
    homes' partitions and close revoked devices' connections (docs/adr/0145, 0146)."""
    settings = app[SETTINGS]
    mqtt = app.get(MQTT)
    hub_name = (mqtt.username if mqtt is not None else None) or ""
    if settings.broker_auth_token:
        app[AUTH_TOKEN] = settings.broker_auth_token
        app[AUTHORITY] = DeviceAuthority(app[SESSIONMAKER], hub_name)
    api = urls(settings.rabbitmq_api_urls)
    if not api:
        _LOGGER.warning("hub.rabbitmq_api_urls is not set: devices are not bound to partitions")
        yield
        return
    security = RabbitSecurity(
        RabbitAdmin(api, settings.rabbitmq_api_user, settings.rabbitmq_api_password),
        settings.partitions,
        hub_name,
    )
    sync = BrokerSync(security, settings.broker_sync_interval_s)
    app[BROKER_SYNC] = sync
    task = asyncio.create_task(sync.run(app), name="broker-sync")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await security.close()


async def _broker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.ingest_transport == "rabbitmq":
        async for _ in _rabbit_ctx(app):
            yield
        return
    if not settings.mosquitto_passwd_file:
        yield
        return
    if not settings.mosquitto_hub_passwd_file:
        _LOGGER.warning(
            "hub.mosquitto_hub_passwd_file is not set: the hub's broker account shares the"
            " devices' password file, so unless the broker binds client ids to usernames a"
            " device can take another device's or the hub's client id (docs/adr/0013)"
        )
    security = await asyncio.to_thread(make_broker_security, settings, app.get(MQTT))
    sync = BrokerSync(security, settings.broker_sync_interval_s)
    app[BROKER_SYNC] = sync
    task = asyncio.create_task(sync.run(app), name="broker-sync")
    try:
        yield
    finally:
        await cancel_and_wait([task])


async def _token_issuer_set(app: web.Application) -> None:
    if TABLET_TOKEN_ISSUER not in app:
        raise RuntimeError("tablet pairing needs the family context (it issues tablet tokens)")


def setup(app: web.Application) -> None:
    """Add the provisioning, pairing and broker-auth routes; manage the broker's files when
    ``hub.mosquitto_passwd_file`` is set, or a RabbitMQ cluster's bindings and auth answers
    when ``hub.ingest_transport`` is ``rabbitmq``."""
    app.cleanup_ctx.append(_broker_ctx)
    app.router.add_post("/broker-auth/{token}/{kind}", broker_auth)
    logging.getLogger("aiohttp.access").addFilter(HIDE_AUTH_TOKEN)
    # Provisioning (hub.registry.routes).
    app.router.add_post("/api/homes", create_home)
    app.router.add_post("/api/devices", create_device)
    app.router.add_post("/api/devices/{device_id}/credentials", issue_credentials)
    app.router.add_post("/api/devices/{device_id}/revoke", revoke)
    # Tablet pairing (hub.registry.pairing_routes); the family context issues the token.
    app.router.add_post("/api/residents/{rid}/tablet-setup-codes", create_setup_code)
    app.router.add_post("/api/tablet/pair", pair)
    if TABLET_PAIRED not in app:
        app[TABLET_PAIRED] = []
    app.on_startup.append(_token_issuer_set)
