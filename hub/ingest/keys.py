"""App keys of the ingestion context: who is told about ingested events, acks and connects."""

from __future__ import annotations

from aiohttp import web

from hub.ingest.events import AckListener, ConnectListener, EventSink

# Where ingested events go: append your sink in your module's setup() (see docs/ingest.md).
EVENT_SINKS = web.AppKey("event_sinks", list[EventSink])
ACK_LISTENERS = web.AppKey("ack_listeners", list[AckListener])
# Told when a device (re)connects (its Status online/connected), e.g. to send it settings.
CONNECT_LISTENERS = web.AppKey("connect_listeners", list[ConnectListener])
