"""PartitionedMqtt (docs/adr/0145): one connection per owned partition, acks to the right one."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
import pytest

from config import MqttSettings
from hub.ingest.partitions import PartitionedMqtt, partition_client_id, partition_queue


class FakeClient:
    """Stands in for LoopMqttClient: records what the transport asks of it."""

    def __init__(self, settings: MqttSettings, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.acks: list[tuple[int, int]] = []
        self.reading = True
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append((mid, qos))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def deliver(self, topic: str, mid: int, qos: int = 1) -> None:
        msg = paho.MQTTMessage(mid=mid, topic=topic.encode())
        msg.payload = b"{}"
        msg.qos = qos
        self.kwargs["on_message"](msg)


def _transport() -> tuple[PartitionedMqtt, list[tuple[str, int, int]], list[FakeClient]]:
    handled: list[tuple[str, int, int]] = []
    made: list[FakeClient] = []

    def make(settings: MqttSettings, **kwargs: Any) -> FakeClient:
        made.append(FakeClient(settings, **kwargs))
        return made[-1]

    parts = PartitionedMqtt(
        MqttSettings(),
        lambda topic, payload, qos, mid: handled.append((topic, qos, mid)),
        partitions=8,
        make_client=make,  # type: ignore[arg-type]
    )
    return parts, handled, made


def test_names_of_a_partition() -> None:
    assert partition_client_id(3) == "_hub-p03"
    assert partition_queue(3) == "mqtt-subscription-_hub-p03qos1"


async def test_each_partition_is_a_durable_session_and_acks_go_back_to_it() -> None:
    parts, handled, made = _transport()
    await parts.assign(1)
    await parts.assign(2)
    await parts.assign(2)  # already owned: nothing new
    assert len(made) == 2
    one, two = made
    assert one.kwargs["client_id"] == "_hub-p01"
    assert one.kwargs["clean_session"] is False
    assert one.kwargs["subscriptions"] == [("_hub/p/01", 1)]
    assert parts.owned == {1, 2}
    assert parts.owns_home(9)
    assert parts.owns_home(2)
    assert not parts.owns_home(3)

    # The same packet id on two connections: the ingester sees two ids, each acked on its own.
    one.deliver("ta/v1/d/a/event", mid=7)
    two.deliver("ta/v1/d/b/event", mid=7)
    two.deliver("ta/v1/d/b/telemetry", mid=0, qos=0)
    (_, _, mid_one), (_, _, mid_two), (_, qos0, mid0) = handled
    assert mid_one != mid_two
    assert (qos0, mid0) == (0, 0)
    parts.ack(mid_two, 1)
    parts.ack(mid_one, 1)
    assert one.acks == [(7, 1)]
    assert two.acks == [(7, 1)]


async def test_a_revoked_partitions_acks_are_dropped_and_a_new_owner_starts_afresh() -> None:
    parts, handled, made = _transport()
    await parts.assign(4)
    made[0].deliver("ta/v1/d/a/event", mid=5)
    old_mid = handled[-1][2]
    await parts.revoke(4)
    await parts.revoke(4)  # not owned any more: nothing happens
    assert made[0].closed
    assert parts.owned == frozenset()
    await parts.assign(4)  # taken back: a new connection, a new slot
    parts.ack(old_mid, 1)  # the old connection's message: redelivered by the broker instead
    assert made[0].acks == []
    assert made[1].acks == []
    parts.ack(12345 * 65536 + 1, 1)  # an id of no connection at all
    assert made[1].acks == []


async def test_back_pressure_reaches_every_partition_and_new_ones() -> None:
    parts, _, made = _transport()
    await parts.assign(0)
    parts.pause_reading()
    await parts.assign(1)
    assert [c.reading for c in made] == [False, False]
    parts.resume_reading()
    assert [c.reading for c in made] == [True, True]
    await parts.close()
    assert all(c.closed for c in made)
    assert parts.owned == frozenset()


async def test_every_partition_session_shares_one_connect_gate() -> None:
    parts, _, made = _transport()
    await parts.assign(1)
    await parts.assign(2)
    gates = {id(client.kwargs["connect_gate"]) for client in made}
    assert gates == {id(parts.connect_gate)}  # one gate bounds the worker's attempts (ADR 0169)


def test_a_connect_gate_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="partition_connects"):
        PartitionedMqtt(MqttSettings(), lambda *a: None, partitions=8, connects=0)
