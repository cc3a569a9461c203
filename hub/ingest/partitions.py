"""Per-home partitions on a RabbitMQ cluster, consumed over MQTT (docs/adr/0145).

Every home belongs to one of ``P`` partitions (``hub.cluster.partitions.partition_of``, ADR
0147). On RabbitMQ the hub binds each device's topics (``amq.topic``, key
``ta.v1.d.<device>.*``) to its home's partition queue, which is the durable MQTT session queue
of the client id ``_hub-p<NN>`` (a quorum queue, replicated on every node:
``mqtt.durable_queue_type = quorum``). A worker that owns partition ``p`` connects as
``_hub-p<NN>`` with a persistent session and receives that queue's messages in order; RabbitMQ
keeps client ids unique across the cluster, so a second connection with the same id ends the
first (at most one consumer per partition). Letting go of a partition is a disconnect: the broker
puts what was not acknowledged back in the queue for the next owner.

:class:`PartitionedMqtt` is the ingester's transport (``ack``, ``pause_reading``,
``resume_reading``) over one MQTT connection per owned partition, and the ``assign`` /
``revoke`` pair that the ownership loop calls after winning / before giving up a lease. Packet
ids are per connection, so the id the ingester sees carries the connection's slot: an
acknowledgement for a connection that is gone (a revoked partition) is dropped — the message is
redelivered to the next owner and stored once (the events' unique key), applied once (the
engine's ledger).

The sessions share one gate: at most ``connects`` of them are between their TCP connect and
their CONNACK at a time, and each reconnects with its own jittered back-off (ADR 0169), so the
sessions a lost broker node held do not all come back in one burst while the cluster's client-id
registry elects a leader.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

import paho.mqtt.client as paho

from config import MqttSettings
from hub.cluster.partitions import partition_of
from hub.ingest.mqtt import LoopMqttClient

_LOGGER = logging.getLogger(__name__)

_SLOT = 1 << 16  # paho packet ids are 1..65535
Handler = Callable[[str, bytes, int, int], None]


def partition_client_id(partition: int) -> str:
    """The MQTT client id whose durable session is partition ``partition``'s queue."""
    return f"_hub-p{partition:02d}"


def partition_queue(partition: int) -> str:
    """The name RabbitMQ's MQTT plugin gives that session's QoS 1 queue."""
    return f"mqtt-subscription-{partition_client_id(partition)}qos1"


def partition_topic(partition: int) -> str:
    """The topic the partition's client subscribes to so that its queue exists (nothing is
    published there: devices' messages reach the queue through the hub's bindings)."""
    return f"_hub/p/{partition:02d}"


class PartitionedMqtt:
    """One MQTT connection per owned partition; the ingester's transport."""

    def __init__(
        self,
        settings: MqttSettings,
        handle: Handler,
        *,
        partitions: int,
        connects: int = 4,
        make_client: Callable[..., LoopMqttClient] = LoopMqttClient,
    ) -> None:
        if connects < 1:
            raise ValueError(f"hub.partition_connects must be at least 1, not {connects}")
        self.settings = settings
        self.partitions = partitions
        self._handle = handle
        self._make_client = make_client
        self._slots = itertools.count(1)
        self._clients: dict[int, tuple[int, LoopMqttClient]] = {}
        self._by_slot: dict[int, LoopMqttClient] = {}
        self._reading = True
        # Shared by every partition session of this worker (bounded connection attempts).
        self.connect_gate = asyncio.Semaphore(connects)

    @property
    def owned(self) -> frozenset[int]:
        """The partitions this worker consumes now."""
        return frozenset(self._clients)

    def owns_home(self, home_id: int) -> bool:
        """Whether this worker consumes ``home_id``'s partition now (supervision asks)."""
        return partition_of(home_id, self.partitions) in self._clients

    def client(self, partition: int) -> LoopMqttClient | None:
        """The connection of an owned partition (tests wait on its ``subscribed``)."""
        entry = self._clients.get(partition)
        return None if entry is None else entry[1]

    async def assign(self, partition: int) -> None:
        """Start consuming ``partition`` (idempotent)."""
        if partition in self._clients:
            return
        slot = next(self._slots)
        base = slot * _SLOT
        handle = self._handle

        def on_message(msg: paho.MQTTMessage) -> None:
            handle(msg.topic, bytes(msg.payload), msg.qos, base + msg.mid if msg.qos else 0)

        client = self._make_client(
            self.settings,
            client_id=partition_client_id(partition),
            clean_session=False,
            subscriptions=[(partition_topic(partition), 1)],
            on_message=on_message,
            connect_gate=self.connect_gate,
        )
        if not self._reading:
            client.pause_reading()
        self._clients[partition] = (slot, client)
        self._by_slot[slot] = client
        await client.start()
        _LOGGER.info("consuming partition %d", partition)

    async def revoke(self, partition: int) -> None:
        """Stop consuming ``partition``: disconnect; the broker requeues what is unacked."""
        entry = self._clients.pop(partition, None)
        if entry is None:
            return
        slot, client = entry
        self._by_slot.pop(slot, None)
        await client.close()
        _LOGGER.info("released partition %d", partition)

    async def close(self) -> None:
        """Release every partition."""
        for partition in list(self._clients):
            await self.revoke(partition)

    # ------------------------------------------------------------ ingester Transport

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge on the connection the message came from (dropped if it is gone)."""
        slot, packet = divmod(mid, _SLOT)
        client = self._by_slot.get(slot)
        if client is not None:
            client.ack(packet, qos)

    def pause_reading(self) -> None:
        """Stop reading every partition's socket (back-pressure)."""
        self._reading = False
        for _, client in self._clients.values():
            client.pause_reading()

    def resume_reading(self) -> None:
        """Read every partition again."""
        self._reading = True
        for _, client in self._clients.values():
            client.resume_reading()
