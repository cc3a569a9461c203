"""Ingestion: MQTT → checks → time series, events table, and the alert engine's sinks.

To receive events, implement :class:`EventSink` and add it in your module's ``setup``::

    from hub.ingest.keys import EVENT_SINKS
    app[EVENT_SINKS].append(MyAlarmEngineSink(...))

See docs/ingest.md.
"""

from hub.ingest.events import AckListener, EventSink, IngestedAck, IngestedEvent
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.registry import DeviceInfo, DeviceRegistry

__all__ = [
    "AckListener",
    "DeviceInfo",
    "DeviceRegistry",
    "EventSink",
    "IngestConfig",
    "IngestedAck",
    "IngestedEvent",
    "Ingester",
]
