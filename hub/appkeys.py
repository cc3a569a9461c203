"""Typed keys of the hub's ``web.Application`` state (import these, never use strings)."""

from __future__ import annotations

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
