"""The hub's aiohttp application: ``create_app(settings)``.

Extension point: every part of the hub that serves HTTP is a module listed in
:data:`ROUTE_MODULES` exposing ``setup(app: web.Application) -> None``. ``setup`` adds
routes, and may append its own ``app.cleanup_ctx`` (background work) — those run after
the database context below, so ``app[ENGINE]``/``app[SESSIONMAKER]`` are ready by then.
To add yours, append ONE line to the list.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from config import Config, MqttSettings
from hub.alarms.keys import FANOUT_RELAYS
from hub.appkeys import (
    ACCESS_LISTENERS,
    CLOCK,
    CONFIG,
    ENGINE,
    KEYSAFE,
    MQTT,
    RESIDENT_LISTENERS,
    SESSIONMAKER,
    SETTINGS,
    WRITE_GATE,
)
from hub.clock import Clock, utc_now
from hub.cluster.keys import PARTITION_PARTICIPANTS
from hub.db import check_schema, make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from hub.db.writegate import WriteGate, gate_every_write
from hub.http import error_middleware, https_middleware
from hub.ingest.keys import ACK_LISTENERS, CONNECT_LISTENERS, EVENT_SINKS, INGEST_COMPANIONS
from hub.settings import HubSettings, with_secrets
from hub.timeseries.keys import TIMESERIES

_LOGGER = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = [
    "hub.health",
    "hub.metrics",
    "hub.auth.app",
    "hub.timeseries.app",
    "hub.ingest.app",
    "hub.supervision.app",
    "hub.registry.app",
    "hub.api.app",
    "hub.web.app",
    "hub.outbox.app",
    "hub.signals.app",
    "hub.family.app",
    "hub.service.app",
    "hub.console.app",
    "hub.alarms.app",
    "hub.cluster.app",
    "hub.carephones.app",
    "hub.visor.app",
]

__all__ = [
    "ACK_LISTENERS",
    "CLOCK",
    "CONFIG",
    "CONNECT_LISTENERS",
    "ENGINE",
    "EVENT_SINKS",
    "KEYSAFE",
    "MQTT",
    "ROUTE_MODULES",
    "SESSIONMAKER",
    "SETTINGS",
    "TIMESERIES",
    "create_app",
]


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    url = settings.resolved_database_url()
    # Before anything else touches it: a schema from a newer release stops the hub here.
    at_head = await check_schema(url, will_migrate=settings.migrate_on_start)
    if settings.migrate_on_start and not at_head:
        # A restart on a current schema skips Alembic's second check and its upgrade run
        # (each loads every migration script and opens its own engine).
        await upgrade_to_head(url)
    engine = make_engine(url)
    app[ENGINE] = engine
    app[SESSIONMAKER] = make_sessionmaker(engine)
    app[WRITE_GATE] = gate = WriteGate(exclusive=engine.dialect.name == "sqlite")
    # Writers that name no class (the family app, the API, housekeeping) wait as routine
    # ones: none of them holds SQLite's lock in front of a panic (docs/adr/0173).
    gate_every_write(engine, gate)
    _LOGGER.info("relational store ready (%s)", engine.url.get_backend_name())
    try:
        yield
    finally:
        await engine.dispose()


def create_app(
    settings: HubSettings,
    *,
    config: Config | None = None,
    clock: Clock = utc_now,
    mqtt: MqttSettings | None = None,
    route_modules: Sequence[str] | None = None,
) -> web.Application:
    """Build the hub application; the database opens when the app starts.

    ``config``: the parsed configuration (``config.load_config``, called by the shell)
    whose sections the hub's contexts read; ``None`` means the embedded defaults (tests).
    ``mqtt``: the broker to ingest from (``None``: no ingestion, e.g. API tests).
    ``route_modules`` replaces :data:`ROUTE_MODULES` (tests that want a smaller hub).
    """
    settings = with_secrets(settings)
    app = web.Application(
        middlewares=[https_middleware(settings.public_url), error_middleware],
        client_max_size=4 * 1024 * 1024,
    )
    app[SETTINGS] = settings
    app[CONFIG] = Config() if config is None else config
    app[CLOCK] = clock
    app[KEYSAFE] = KeySafeCipher(settings.keysafe_key, settings.keysafe_previous_keys)
    app[EVENT_SINKS] = []
    app[PARTITION_PARTICIPANTS] = []
    app[ACK_LISTENERS] = []
    app[CONNECT_LISTENERS] = []
    app[INGEST_COMPANIONS] = []
    app[RESIDENT_LISTENERS] = []
    app[ACCESS_LISTENERS] = []
    app[FANOUT_RELAYS] = []
    if mqtt is not None:
        app[MQTT] = mqtt
    app.cleanup_ctx.append(_database_ctx)
    for name in ROUTE_MODULES if route_modules is None else route_modules:
        importlib.import_module(name).setup(app)
    return app
