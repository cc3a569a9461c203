"""zigbee2mqtt fixtures through the real loop: a zigbee2mqtt publisher on a real broker →
the bridge (:class:`Zigbee2MqttSource`) → the agent → the hub-facing ``ta/v1/d/...`` topics.

Each fixture (one device class) is replayed as zigbee2mqtt publishes it; what reaches the
hub's topics must be exactly the fixture's expected bodies, except what the agent holds on
purpose (a fall waits out its cancel window; a cancel press alone is not news).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import pytest

import protocol
from device_agent.clock import ManualClock
from device_agent.settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from device_agent.sources.zigbee2mqtt import Zigbee2MqttSource
from teleassist.localbroker import MosquittoBroker
from tests.device_agent.test_agent import T0, collector, eventually, make_agent, running

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "zigbee2mqtt").glob("*.json"))
_HELD = frozenset({"fall", "fall_cancelled"})


def _key(body: object) -> str:
    return json.dumps(body, sort_keys=True)


def _received(messages: list[tuple[str, bytes, bool]], device_id: str) -> list[object]:
    out = []
    for topic, payload, _retain in messages:
        parsed = protocol.parse_device_topic(topic)
        if parsed.device_id != device_id:
            continue
        # The agent stamps readings with its (manual) clock's T0.
        envelope = protocol.decode_for_channel(parsed.channel, payload, now=T0)
        out.append(protocol.to_builtins(envelope.body))
    return out


@pytest.mark.broker
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
async def test_fixture_through_bridge_and_agent_to_the_hub_topics(
    tmp_path: Path, mosquitto: MosquittoBroker, fixture: Path
) -> None:
    data: dict[str, Any] = json.loads(fixture.read_text())
    prefix = f"z{uuid.uuid4().hex[:8]}"
    base = f"z2m-{prefix}"
    device = msgspec.convert(data["device"], Zigbee2MqttDevice)
    device = msgspec.structs.replace(device, device_id=f"{prefix}-{device.device_id}")
    sentinel = Zigbee2MqttDevice(device_id=f"{prefix}-sentinel", type="pendant")
    settings = Zigbee2MqttSettings(
        port=mosquitto.port,
        base_topic=base,
        devices={data["friendly_name"]: device, "sentinel": sentinel},
    )
    source = Zigbee2MqttSource(settings, retry_s=0.1)
    agent = make_agent(
        tmp_path, mosquitto.port, ManualClock(T0), gateway=f"{prefix}-gw", telemetry_qos=1
    )
    agent.sources.append(source)
    expected = [
        body for m in data["messages"] for body in m["expect"] if body.get("type") not in _HELD
    ]
    falls = sum(1 for m in data["messages"] for b in m["expect"] if b.get("type") == "fall")

    with collector(mosquitto.port, "ta/v1/d/#") as hub_side:
        async with running(agent):
            await eventually(source.subscribed.is_set)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=base) as z2m:
                for message in data["messages"]:
                    topic = f"{base}/{data['friendly_name']}{message.get('topic_suffix', '')}"
                    payload = message.get("raw") or json.dumps(message["payload"])
                    await z2m.publish(topic, payload.encode(), qos=1)
                # The bridge handles its messages in order: once the sentinel's press
                # reaches the hub's topic, every earlier reading was queued.
                await z2m.publish(f"{base}/sentinel", b'{"action": "single"}', qos=1)
            await eventually(lambda: bool(_received(hub_side.messages, sentinel.device_id)))
            await agent.wait_drained()
            await eventually(
                lambda: len(_received(hub_side.messages, device.device_id)) >= len(expected)
            )
            got = _received(hub_side.messages, device.device_id)
            assert Counter(map(_key, got)) == Counter(map(_key, expected)), fixture.name
            assert agent.counters.queued == len(expected) + 1
            assert len(agent.falls.pending) == falls
