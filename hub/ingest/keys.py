"""App keys of the ingestion context: who is told about ingested events, acks and connects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.ingest.commands import DeviceCommands
from hub.ingest.events import AckListener, ConnectListener, EventSink
from hub.ingest.ingester import Ingester

# A part of the hub that works beside the ingester (supervision): started with the running
# ingester before the broker connection opens (so it misses no message), it returns how to
# stop it, which runs once reading has paused and before the ingester flushes.
Companion = Callable[[Ingester], Awaitable[Callable[[], Awaitable[None]]]]

# Where ingested events go: append your sink in your module's setup() (see docs/ingest.md).
EVENT_SINKS = web.AppKey("event_sinks", list[EventSink])
ACK_LISTENERS = web.AppKey("ack_listeners", list[AckListener])
# Told when a device (re)connects (its Status online/connected), e.g. to send it settings.
CONNECT_LISTENERS = web.AppKey("connect_listeners", list[ConnectListener])
# Companions of the ingester: append yours in your module's setup() (hub.supervision.app).
INGEST_COMPANIONS = web.AppKey("ingest_companions", list[Companion])
# The worker's one command sender to devices (hub.ingest.commands), set by hub.ingest.app.
DEVICE_COMMANDS = web.AppKey("device_commands", DeviceCommands)
