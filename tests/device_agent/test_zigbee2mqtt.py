"""zigbee2mqtt payload fixtures → contract readings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

import protocol
from device_agent.settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from device_agent.sources.zigbee2mqtt import Zigbee2MqttMapper

FIXTURES = Path(__file__).parent / "fixtures" / "zigbee2mqtt"
_NOW = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.stem)
def test_fixture_maps_to_the_contract(fixture: Path) -> None:
    data = json.loads(fixture.read_text())
    device = msgspec.convert(data["device"], Zigbee2MqttDevice)
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={data["friendly_name"]: device}))
    for message in data["messages"]:
        topic = f"zigbee2mqtt/{data['friendly_name']}{message.get('topic_suffix', '')}"
        payload = (
            message["raw"].encode() if "raw" in message else json.dumps(message["payload"]).encode()
        )
        readings = mapper.map(topic, payload)
        got = [protocol.to_builtins(r.body) for r in readings]
        assert got == message["expect"], (fixture.name, message)
        for reading in readings:
            assert reading.device_id == device.device_id
            # Every body is a valid contract message once enveloped.
            env = protocol.envelope(reading.body, id="x1", ts=_NOW, seq=1)
            encoded = protocol.encode(env)
            channel = (
                protocol.Channel.TELEMETRY
                if isinstance(reading.body, protocol.Telemetry)
                else protocol.Channel.STATUS
                if isinstance(reading.body, protocol.Status)
                else protocol.Channel.EVENT
            )
            protocol.decode_for_channel(channel, encoded, now=_NOW)


def test_unknown_devices_bridge_topics_and_garbage_are_ignored() -> None:
    device = Zigbee2MqttDevice(device_id="h1-pendant", type="pendant")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"Pendant": device}))
    assert mapper.map("zigbee2mqtt/bridge/state", b'{"state":"online"}') == []
    assert mapper.map("zigbee2mqtt/Someone else", b'{"action":"single"}') == []
    assert mapper.map("other/Pendant", b'{"action":"single"}') == []
    assert mapper.map("zigbee2mqtt/Pendant", b"{not json") == []
    assert mapper.map("zigbee2mqtt/Pendant", b"[1, 2]") == []
    assert mapper.map("zigbee2mqtt/Pendant", b'{"temperature": "warm"}') == []
    assert mapper.rejected == 3
    # Still works after the garbage.
    (reading,) = mapper.map("zigbee2mqtt/Pendant", b'{"action":"single"}')
    assert isinstance(reading.body, protocol.Panic)
