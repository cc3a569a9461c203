"""Wires ingestion into the hub app: MQTT client + :class:`Ingester` in a cleanup context.

Companions (:data:`hub.ingest.keys.INGEST_COMPANIONS`, e.g. supervision) are started with the
ingester before the broker connection opens and stopped once reading has paused.
"""

from __future__ import annotations

import hmac
import socket
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

from aiohttp import web

from config import MqttSettings
from hub.appkeys import CLOCK, MQTT, SESSIONMAKER, SETTINGS, WRITE_GATE
from hub.cluster.keys import PARTITION_PARTICIPANTS
from hub.ingest.commands import DeviceCommands
from hub.ingest.delivery import DeliveryTracker
from hub.ingest.ingester import IngestConfig, Ingester
from hub.ingest.keys import (
    ACK_LISTENERS,
    CONNECT_LISTENERS,
    DEVICE_COMMANDS,
    EVENT_SINKS,
    INGEST_COMPANIONS,
)
from hub.ingest.mqtt import LoopMqttClient
from hub.ingest.partitions import PartitionedMqtt
from hub.ingest.registry import DeviceRegistry
from hub.ingest.standby import PartitionGate
from hub.timeseries.keys import TIMESERIES
from protocol import device_subscription, shared_subscription
from protocol.ratelimit import RateLimit

T = TypeVar("T")

INGESTER = web.AppKey("ingester", Ingester)
MQTT_CLIENT = web.AppKey("mqtt_client", LoopMqttClient)
# On a partitioned cluster (``ingest_transport = "rabbitmq"``): the partitions this worker
# consumes; an ownership loop calls its ``assign`` / ``revoke``.
PARTITIONS = web.AppKey("partitions", PartitionedMqtt)


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
    if settings.ingest_transport not in ("mqtt", "rabbitmq"):
        raise ValueError(
            f"hub.ingest_transport must be mqtt or rabbitmq, not {settings.ingest_transport!r}"
        )
    partitioned = settings.ingest_transport == "rabbitmq"
    if partitioned and settings.partitions < 1:
        raise ValueError("hub.ingest_transport = rabbitmq needs hub.partitions > 0 (ADR 0145)")
    group = share_group(settings.ingest_share_group, mqtt)
    gate: PartitionGate | None = None
    parts: PartitionedMqtt | None = None
    if partitioned:
        # The broker routes each home to its partition's queue (ADR 0145); the ownership loop
        # (ADR 0147) makes this worker consume the partitions it holds a lease on.
        parts = PartitionedMqtt(
            mqtt, handle, partitions=settings.partitions, connects=settings.partition_connects
        )
        app[PARTITION_PARTICIPANTS].append(parts)
        app[PARTITIONS] = parts
    elif settings.partitions > 0:
        # One owner per home over plain MQTT (ADR 0147): every worker hears every home
        # (no shared group) and the gate lets through the homes this worker owns.
        gate = PartitionGate(settings.partitions, retention_s=settings.standby_s)
        gate.replay = ingester.replay
        ingester.partition_gate = gate
        app[PARTITION_PARTICIPANTS].append(gate)
        group = ""
    client = LoopMqttClient(
        mqtt,
        client_id=settings.ingest_client_id or default_client_id(),
        clean_session=not settings.ingest_persistent_session,
        # Partitioned: this connection only publishes commands; events come per partition.
        subscriptions=[] if partitioned else [(_device_filter(group), 1)],
        on_message=lambda m: handle(m.topic, bytes(m.payload), m.qos, m.mid),
    )
    await ingester.start(client if parts is None else parts)
    stops = [await companion(ingester) for companion in app[INGEST_COMPANIONS]]
    await client.start()
    app[INGESTER] = ingester
    app[MQTT_CLIENT] = client
    try:
        yield
    finally:
        # Stop taking new messages, stop the companions (they write what they hold), flush
        # and acknowledge what we hold, then disconnect.
        client.pause_reading()
        if parts is not None:
            parts.pause_reading()
        for stop in reversed(stops):
            await stop()
        await ingester.stop()
        if parts is not None:
            await parts.close()
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
    """Start ingestion with the app when a broker is configured; commands to devices leave
    through its connection (:data:`DEVICE_COMMANDS`)."""
    app[DEVICE_COMMANDS] = DeviceCommands(lambda: app.get(MQTT_CLIENT), app[CLOCK])
    # What tablets say of the messages and reminders sent to them (ADR 0163).
    app[ACK_LISTENERS].append(DeliveryTracker(lambda: app.get(SESSIONMAKER)))
    app.cleanup_ctx.append(_ingest_ctx)
