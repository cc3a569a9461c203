"""Wires ingestion into the hub app: MQTT client + :class:`Ingester` in a cleanup context."""

from __future__ import annotations

import hmac
import socket
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

from aiohttp import web

from config import MqttSettings
from hub.appkeys import CLOCK, MQTT, SESSIONMAKER, SETTINGS, WRITE_GATE
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.keys import ACK_LISTENERS, CONNECT_LISTENERS, EVENT_SINKS
from hub.ingest.mqtt import LoopMqttClient
from hub.ingest.registry import DeviceRegistry
from hub.supervision.supervisor import Supervisor
from hub.timeseries.keys import TIMESERIES
from protocol import device_subscription, shared_subscription
from protocol.ratelimit import RateLimit

T = TypeVar("T")

INGESTER = web.AppKey("ingester", Ingester)
MQTT_CLIENT = web.AppKey("mqtt_client", LoopMqttClient)
SUPERVISOR = web.AppKey("supervisor", Supervisor)


async def _ingest_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    mqtt = app.get(MQTT)
    if mqtt is None or not settings.ingest_enabled:
        yield
        return
    ingester = Ingester(
        registry=DeviceRegistry(app[SESSIONMAKER]),
        sessionmaker=app[SESSIONMAKER],
        timeseries=app[TIMESERIES],
        sinks=list_view(app[EVENT_SINKS]),
        ack_listeners=list_view(app[ACK_LISTENERS]),
        connect_listeners=list_view(app[CONNECT_LISTENERS]),
        clock=app[CLOCK],
        config=IngestConfig(
            batch_size=settings.ingest_batch_size,
            flush_interval_s=settings.ingest_flush_interval_s,
            sink_queue_size=settings.ingest_queue_size,
            flood_events=RateLimit(
                settings.ingest_device_events_per_s, settings.ingest_device_events_burst
            ),
            flood_telemetry=RateLimit(
                settings.ingest_device_telemetry_per_s, settings.ingest_device_telemetry_burst
            ),
        ),
        gate=app[WRITE_GATE],
    )
    handle = ingester.handle
    client = LoopMqttClient(
        mqtt,
        client_id=settings.ingest_client_id or default_client_id(),
        clean_session=not settings.ingest_persistent_session,
        subscriptions=[(_device_filter(share_group(settings.ingest_share_group, mqtt)), 1)],
        on_message=lambda m: handle(m.topic, bytes(m.payload), m.qos, m.mid),
    )
    supervisor = Supervisor(
        ingester,
        app[SESSIONMAKER],
        clock=app[CLOCK],
        intervals=settings.supervision_intervals,
        check_every_s=settings.supervision_check_s,
        low_battery_percent=settings.low_battery_percent,
    )
    # A flooding device's technical alarm is a hub-made event, stored and handed on by
    # supervision like a silent device's.
    ingester.on_flooding = supervisor.flooding
    await ingester.start(client)
    await supervisor.start()
    await client.start()
    app[INGESTER] = ingester
    app[SUPERVISOR] = supervisor
    app[MQTT_CLIENT] = client
    try:
        yield
    finally:
        # Stop taking new messages, flush and acknowledge what we hold, then disconnect.
        client.pause_reading()
        await supervisor.stop()
        await ingester.stop()
        await client.close()


def list_view(items: list[T]) -> Sequence[T]:
    """The same list object, typed read-only (sinks appended later are still seen)."""
    return items


def default_client_id() -> str:
    """``_hub-<hostname>``: a device id never starts with ``_``, so no device can hold it."""
    return f"_hub-{socket.gethostname()}"


def share_group(group: str, mqtt: MqttSettings) -> str:
    """The shared-subscription group on the wire: ``group`` plus a digest of the hub's broker
    password when there is one. Mosquitto 2.0 grants any SUBSCRIBE (its ACL file checks only
    delivery), so a device that joined the hub's group would take a share of every home's
    messages and drop it; a group name derived from a secret cannot be joined. All workers
    share the password, hence the group. Empty ``group``: no shared subscription."""
    if not group or not mqtt.password:
        return group
    digest = hmac.new(mqtt.password.encode(), b"teleassist-share-group:" + group.encode(), "sha256")
    return f"{group}_{digest.hexdigest()[:32]}"


def _device_filter(share_group: str) -> str:
    # An empty group means a plain subscription: for a single hub on a broker without
    # shared subscriptions (the demo's embedded amqtt).
    if not share_group:
        return device_subscription()
    return shared_subscription(share_group, device_subscription())


def setup(app: web.Application) -> None:
    """Start ingestion with the app when a broker is configured."""
    app.cleanup_ctx.append(_ingest_ctx)
