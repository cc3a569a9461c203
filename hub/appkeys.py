"""Typed keys of the hub's ``web.Application`` state shared by every context (import these,
never use strings). A key that belongs to one context is declared beside its owner (for example
``hub.ingest.keys``, ``hub.timeseries.keys``), so this module imports no feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Config, MqttSettings
from hub.clock import Clock
from hub.db.crypto import KeySafeCipher
from hub.db.writegate import WriteGate
from hub.settings import HubSettings

SETTINGS = web.AppKey("settings", HubSettings)
# The parsed configuration handed to ``create_app``: each context reads its own section
# from it (``app[CONFIG].section(...)``); nothing under ``hub/`` calls ``load_config()``.
CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
KEYSAFE = web.AppKey("keysafe", KeySafeCipher)
# Alarms' writes before routine ones on a single-writer database (docs/adr/0115).
WRITE_GATE = web.AppKey("write_gate", WriteGate)
# Broker settings; absent means "no ingestion" (tests of the API alone).
MQTT = web.AppKey("mqtt", MqttSettings)
# Told (after the commit) when what the hub knows of a resident changed: care plan,
# contacts, language, service state. ``await resident_changed(app, rid)`` calls them.
ResidentListener = Callable[[int], Awaitable[None]]
RESIDENT_LISTENERS = web.AppKey("resident_listeners", list[ResidentListener])


# Told (after the commit) that a user's access ended: ``(user_id, sign_in)`` where
# ``sign_in`` is one sign-in's token family (a logout) or None (every sign-in: disabled,
# password reset, role changed). Live sockets close on it. ``access_ended(app, ...)``.
AccessListener = Callable[[int, str | None], None]
ACCESS_LISTENERS = web.AppKey("access_listeners", list[AccessListener])


def access_ended(app: web.Application, user_id: int, sign_in: str | None = None) -> None:
    """Tell every listener that ``user_id``'s access (one sign-in, or all) ended."""
    for listener in app.get(ACCESS_LISTENERS, []):
        listener(user_id, sign_in)


async def resident_changed(app: web.Application, resident_id: int) -> None:
    """Tell every listener that resident ``resident_id`` changed (errors are theirs)."""
    for listener in app.get(RESIDENT_LISTENERS, []):
        await listener(resident_id)
