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
    assert mapper.map("zigbee2mqtt/Pendant", b'{"battery": "full"}') == []
    assert mapper.rejected == 3
    # Still works after the garbage.
    (reading,) = mapper.map("zigbee2mqtt/Pendant", b'{"action":"single"}')
    assert isinstance(reading.body, protocol.Panic)


def test_a_press_survives_a_garbled_attribute_in_the_same_message() -> None:
    device = Zigbee2MqttDevice(device_id="h1-sos", type="button")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"SOS": device}))
    (reading,) = mapper.map("zigbee2mqtt/SOS", b'{"action": "emergency", "battery": "full"}')
    assert isinstance(reading.body, protocol.Panic)
    assert mapper.rejected == 1


@pytest.mark.parametrize(
    "action", ["emergency", "sos", "panic", "SOS", "emergency_1", "1_sos", "alarm", "help"]
)
@pytest.mark.parametrize("kind", ["button", "pendant", "fall_detector", "motion", "smoke"])
def test_every_emergency_action_is_a_panic_on_any_device(action: str, kind: str) -> None:
    device = msgspec.convert({"device_id": "h1-dev", "type": kind}, Zigbee2MqttDevice)
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"Dev": device}))
    (reading,) = mapper.map("zigbee2mqtt/Dev", json.dumps({"action": action}).encode())
    assert isinstance(reading.body, protocol.Panic)


@pytest.mark.parametrize("action", ["single", "1_quadruple", "button_2_double", "long", "off"])
def test_presses_follow_the_button_role(action: str) -> None:
    panic = Zigbee2MqttDevice(device_id="h1-b1", type="button")
    ok = Zigbee2MqttDevice(device_id="h1-b2", type="button", role="check_in")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"Help": panic, "OK": ok}))
    payload = json.dumps({"action": action}).encode()
    assert isinstance(mapper.map("zigbee2mqtt/Help", payload)[0].body, protocol.Panic)
    assert isinstance(mapper.map("zigbee2mqtt/OK", payload)[0].body, protocol.CheckIn)


def test_a_press_on_a_sensor_that_has_no_button_is_a_fault_not_nothing() -> None:
    device = Zigbee2MqttDevice(device_id="h1-pir", type="motion")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"PIR": device}))
    (reading,) = mapper.map("zigbee2mqtt/PIR", b'{"action": "single"}')
    assert reading.body == protocol.DeviceFault(fault="unknown_action", detail="single")


def test_an_unknown_action_is_cut_to_the_contract_length() -> None:
    device = Zigbee2MqttDevice(device_id="h1-b", type="button")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"B": device}))
    action = "x" * 100
    (reading,) = mapper.map("zigbee2mqtt/B", json.dumps({"action": action}).encode())
    assert reading.body == protocol.DeviceFault(fault="unknown_action", detail="x" * 40)


def test_only_a_thermometer_gives_room_temperature() -> None:
    thermo = Zigbee2MqttDevice(device_id="h1-t", type="temperature", room="living")
    leak = Zigbee2MqttDevice(device_id="h1-l", type="water_leak", room="living")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"T": thermo, "L": leak}))
    assert mapper.map("zigbee2mqtt/L", b'{"temperature": 35}') == []
    bodies = [r.body for r in mapper.map("zigbee2mqtt/T", b'{"temperature": 35}')]
    assert bodies == [
        protocol.Telemetry(kind="temperature", value=35.0, unit="Cel", room="living"),
        protocol.Temperature(celsius=35.0, room="living"),
    ]


def test_low_battery_is_told_once_and_again_after_a_new_battery() -> None:
    device = Zigbee2MqttDevice(device_id="h1-s", type="smoke")
    mapper = Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"S": device}))

    def lows(payload: dict[str, object]) -> list[protocol.LowBattery]:
        readings = mapper.map("zigbee2mqtt/S", json.dumps(payload).encode())
        return [r.body for r in readings if isinstance(r.body, protocol.LowBattery)]

    assert lows({"battery": 100, "battery_low": True}) == [protocol.LowBattery(percent=None)]
    assert lows({"battery": 100, "battery_low": True}) == []
    assert lows({"battery": 100, "battery_low": False}) == []
    assert lows({"battery": 9, "battery_low": False}) == [protocol.LowBattery(percent=9)]
    assert lows({"battery_state": "high", "battery": 100}) == []
    assert lows({"battery_state": "low"}) == [protocol.LowBattery(percent=None)]


def _pill_box(dose: str = "") -> Zigbee2MqttMapper:
    device = Zigbee2MqttDevice(device_id="h1-dispenser", type="dispenser", dose=dose)
    return Zigbee2MqttMapper(Zigbee2MqttSettings(devices={"Pill box": device}))


def _bodies(mapper: Zigbee2MqttMapper, payload: dict[str, object]) -> list[object]:
    return [r.body for r in mapper.map("zigbee2mqtt/Pill box", json.dumps(payload).encode())]


def test_a_pill_box_names_the_dose_it_is_installed_for() -> None:
    mapper = _pill_box(dose="08:00")
    assert _bodies(mapper, {"take_pill_state": "not_taken"}) == []
    assert _bodies(mapper, {"take_pill_state": "taken"}) == [
        protocol.MedicationTaken(schedule="08:00")
    ]
    assert _bodies(mapper, {"action": "taken"}) == [protocol.MedicationTaken(schedule="08:00")]
    assert _bodies(mapper, {"action": "missed"}) == [protocol.MedicationMissed(schedule="08:00")]


def test_a_stale_taken_never_confirms_a_dose() -> None:
    # After the agent starts, the box's state re-published with a battery report (or
    # retained on the broker) says "taken": that was an earlier dose.
    mapper = _pill_box()
    assert _bodies(mapper, {"take_pill_state": "taken", "battery": 80}) == [
        protocol.Telemetry(kind="battery", value=80.0, unit="%")
    ]
    assert _bodies(mapper, {"take_pill_state": "taken", "battery": 80}) == []
    # "not_taken" is the state between doses too: never a missed dose by itself.
    assert _bodies(mapper, {"take_pill_state": "not_taken"}) == []
    assert _bodies(mapper, {"take_pill_state": "taken"}) == [protocol.MedicationTaken(schedule="")]


def test_a_malformed_pill_box_report_is_skipped_and_the_source_goes_on() -> None:
    mapper = _pill_box()
    assert _bodies(mapper, {"take_pill_state": 3}) == []
    assert _bodies(mapper, {"take_pill_state": None}) == []
    assert _bodies(mapper, {"pill_remain": True}) == []
    assert _bodies(mapper, {"pill_remain": [1]}) == []
    assert mapper.map("zigbee2mqtt/Pill box", b"\xff\xfe") == []
    assert mapper.rejected == 5
    # An action a pill box has no meaning for is shown to the operator, never dropped.
    (fault,) = _bodies(mapper, {"action": "refill"})
    assert fault == protocol.DeviceFault(fault="unknown_action", detail="refill")
    assert _bodies(mapper, {"take_pill_state": "not_taken"}) == []
    assert _bodies(mapper, {"take_pill_state": "taken"}) == [protocol.MedicationTaken(schedule="")]
