"""Typed keys of the hub's ``web.Application`` state (import these, never use strings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.clock import Clock
from hub.db.crypto import KeySafeCipher
from hub.ingest.events import AckListener, ConnectListener, EventSink
from hub.settings import HubSettings
from hub.timeseries.port import TimeSeriesStore
from teleassist.config import MqttSettings

SETTINGS = web.AppKey("settings", HubSettings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
KEYSAFE = web.AppKey("keysafe", KeySafeCipher)
# Broker settings; absent means "no ingestion" (tests of the API alone).
MQTT = web.AppKey("mqtt", MqttSettings)
TIMESERIES = web.AppKey("timeseries", TimeSeriesStore)
# Where ingested events go: append your sink in your module's setup() (see docs/ingest.md).
EVENT_SINKS = web.AppKey("event_sinks", list[EventSink])
ACK_LISTENERS = web.AppKey("ack_listeners", list[AckListener])
# Told when a device (re)connects (its Status online/connected), e.g. to send it settings.
CONNECT_LISTENERS = web.AppKey("connect_listeners", list[ConnectListener])
# Told (after the commit) when what the hub knows of a resident changed: care plan,
# contacts, language, service state. ``await resident_changed(app, rid)`` calls them.
ResidentListener = Callable[[int], Awaitable[None]]
RESIDENT_LISTENERS = web.AppKey("resident_listeners", list[ResidentListener])


async def resident_changed(app: web.Application, resident_id: int) -> None:
    """Tell every listener that resident ``resident_id`` changed (errors are theirs)."""
    for listener in app.get(RESIDENT_LISTENERS, []):
        await listener(resident_id)
