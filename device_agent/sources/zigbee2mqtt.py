"""A zigbee2mqtt bridge: its MQTT JSON becomes contract readings.

zigbee2mqtt publishes each device's whole state on ``<base>/<friendly_name>`` every
time anything changes (a battery report repeats ``contact``, ``occupancy``…), so the
mapper keeps the last value of each attribute and emits events on changes only.
Availability arrives on ``<base>/<friendly_name>/availability`` (``{"state":
"online"}`` or the legacy plain ``online``). Devices not listed in ``[zigbee2mqtt.devices]``
are ignored (logged once), never guessed.

Attributes understood: ``action`` (see below), ``occupancy``/``presence`` (motion or bed),
``contact``, ``water_leak``, ``smoke``, ``carbon_monoxide``, ``gas``, ``tamper``, ``trouble``,
``battery_defect``, ``ac_status``, ``test``, ``temperature`` (only from a device installed as a
thermometer: door and leak sensors report their chip's temperature under the same name),
``humidity``, ``battery``, ``battery_low``, ``vibration``, ``fall``/``fall_detected``, ``power``
and, for a plug, ``power_outage_count`` and its availability (a plug that drops off the network
has most likely lost mains power).

A pill dispenser (``type = "dispenser"``; docs/adr/0174) confirms doses. No zigbee2mqtt
converter for a pill box is known to us, so the names are those of Tuya's standard status set
for smart pill boxes (category ``znyh``), which a converter for a Tuya TS0601 box exposes
as they are: ``take_pill_state`` turning to ``taken`` (or staying ``taken`` while
``pill_remain`` goes down: a second dose) is ``medication_taken``; ``not_taken`` is only
remembered — in that set it is also the state between two doses, so the hub's own grace
timer, which knows the care plan, decides that a dose was missed. The first state seen after
the agent starts is only remembered too: a stale ``taken`` re-published with a battery report
must never confirm today's dose (a dose missed is told, never hidden). Actions ``taken``,
``dose_taken``, ``pill_taken`` are ``medication_taken`` and ``missed``, ``dose_missed``,
``not_taken`` are ``medication_missed`` (an event, not a state: the device says the dose was
missed). ``pill_remain`` is reported as ``pills`` telemetry; ``tamper`` and the battery as
on any device. The dose is the device's ``dose`` setting, or empty (the hub takes the doses
due nearest). Any other ``take_pill_state`` value is logged and skipped.

Actions: an emergency action (``emergency`` from Tuya TS0215A_sos/TS0601_sos and Heiman key
fobs, ``sos``, ``panic``…) is a panic whatever the device and its role; a press (``single`` …
``quadruple``, ``many``, ``hold``…) means what the device's role says; a vibration sensor's
``vibration``/``tilt``/``drop`` are movement, movement in bed or a fall. An action the bridge
does not know is reported as a ``device_fault`` (``unknown_action``) so the operator checks the
device: a press is never silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

import aiomqtt

import protocol
from device_agent.settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from device_agent.sources.base import Reading, ReadingSink

_LOGGER = logging.getLogger(__name__)

# Words (``_``-separated parts of an action) that mean "help" on any device.
_EMERGENCY_WORDS = frozenset({"emergency", "sos", "panic", "alarm", "help"})
# Words of a press: how many times or how long (``1_single``, ``button_2_double``…).
_PRESS_WORDS = frozenset(
    {
        "single",
        "double",
        "triple",
        "quadruple",
        "many",
        "hold",
        "long",
        "press",
        "click",
        "on",
        "off",
        "toggle",
    }
)
# Whole actions that are presses too (an IKEA on/off switch held down).
_PRESS_ACTIONS = frozenset({"brightness_move_up", "brightness_move_down"})
# The end of a press already counted (``hold`` then ``release``): nothing new.
_RELEASE_WORDS = frozenset({"release", "released", "stop"})
_MOVEMENT_ACTIONS = frozenset({"vibration", "tilt"})
# A pill dispenser's actions: a dose taken, a dose the device says was missed.
_DOSE_TAKEN_ACTIONS = frozenset({"taken", "dose_taken", "pill_taken"})
_DOSE_MISSED_ACTIONS = frozenset({"missed", "dose_missed", "not_taken"})
_PILL_STATES = frozenset({"taken", "not_taken"})


def _words(action: str) -> set[str]:
    return set(action.lower().replace("-", "_").split("_"))


class Zigbee2MqttMapper:
    """Pure mapping of zigbee2mqtt messages (topic, payload) to readings."""

    def __init__(self, settings: Zigbee2MqttSettings) -> None:
        self.settings = settings
        self.base = settings.base_topic.rstrip("/")
        self._state: dict[str, dict[str, Any]] = {}
        self._unknown: set[str] = set()
        self.rejected = 0

    def map(self, topic: str, payload: bytes) -> list[Reading]:
        """Readings for one message (often none: a repeated state changes nothing)."""
        if not topic.startswith(self.base + "/"):
            return []
        name = topic[len(self.base) + 1 :]
        if name.startswith("bridge/"):
            return []
        availability = name.endswith("/availability")
        if availability:
            name = name[: -len("/availability")]
        device = self.settings.devices.get(name)
        if device is None:
            if name not in self._unknown:
                self._unknown.add(name)
                _LOGGER.info("zigbee2mqtt device %r is not configured: ignored", name)
            return []
        data = self._decode(name, payload)
        if data is None:
            return []
        if availability:
            return self._availability(name, device, data)
        if not isinstance(data, dict):
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: state is not a JSON object", name)
            return []
        return self._state_readings(name, device, data)

    def _decode(self, name: str, payload: bytes) -> Any:
        try:
            return json.loads(payload)
        except ValueError:
            text = payload.decode("utf-8", "replace").strip()
            if text in ("online", "offline"):
                return text  # legacy availability payload
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: payload is not JSON", name)
            return None

    def _availability(self, name: str, device: Zigbee2MqttDevice, data: Any) -> list[Reading]:
        state = data.get("state") if isinstance(data, dict) else data
        if state not in ("online", "offline"):
            self.rejected += 1
            return []
        if state == "online":
            body = protocol.Status(state="online", reason="connected")
        else:
            body = protocol.Status(state="offline", reason="supervision")
        bodies: list[protocol.Status | protocol.Event] = [body]
        if device.type == "plug":
            # A mains plug that drops off the network has most likely lost its power.
            known = self._state.setdefault(name, {})
            was = known.get("_availability")
            known["_availability"] = state
            if state == "offline" and was != "offline":
                bodies.append(protocol.PowerLost(room=device.room))
            elif state == "online" and was == "offline":
                bodies.append(protocol.PowerRestored(room=device.room))
                # Its outage counter will go up for this same outage: told once.
                known["_outage_told"] = True
        return [Reading(device.device_id, b, device.type, device.room) for b in bodies]

    def _changed(self, name: str, data: dict[str, Any], key: str) -> bool:
        previous = self._state.setdefault(name, {})
        if key not in data:
            return False
        changed = key not in previous or previous[key] != data[key]
        previous[key] = data[key]
        return changed

    def _state_readings(
        self, name: str, device: Zigbee2MqttDevice, data: dict[str, Any]
    ) -> list[Reading]:
        bodies: list[protocol.Event | protocol.Telemetry] = []
        action = data.get("action") or data.get("click")
        if isinstance(action, str) and action:
            # An action is an instant, not a state: every message with one counts.
            bodies.extend(self._action(device, action))
        try:
            bodies.extend(self._attributes(name, device, data, bool(action)))
        except (TypeError, ValueError) as err:
            # A garbled attribute (a battery of "full") costs that message's attributes,
            # never the press that came with it.
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: unusable state (%s)", name, err)
        return [Reading(device.device_id, body, device.type, device.room) for body in bodies]

    def _attributes(
        self, name: str, device: Zigbee2MqttDevice, data: dict[str, Any], action: bool
    ) -> list[protocol.Event | protocol.Telemetry]:
        room, kind = device.room, device.type
        bodies: list[protocol.Event | protocol.Telemetry] = []
        for key in ("fall", "fall_detected"):
            if self._changed(name, data, key) and data[key] is True:
                bodies.append(protocol.Fall(room=room, confidence=0.8))
        for key in ("occupancy", "presence"):
            if key not in data:
                continue
            present = bool(data[key])
            if kind == "bed":
                if self._changed(name, data, key):
                    bodies.append(
                        protocol.BedReturn(room=room) if present else protocol.BedExit(room=room)
                    )
            elif present:
                # A PIR re-reports occupancy=true on each detection: every one is motion.
                self._changed(name, data, key)
                bodies.append(protocol.Motion(room=room))
            else:
                self._changed(name, data, key)
        if self._changed(name, data, "contact"):
            closed = bool(data["contact"])
            door = name if len(name) <= 40 else name[:40]
            bodies.append(
                protocol.DoorClose(room=room, door=door)
                if closed
                else protocol.DoorOpen(room=room, door=door)
            )
        if data.get("vibration") is True and kind in ("vibration", "bed") and not action:
            # A vibration sensor under the mattress feels the resident move in bed.
            bodies.append(protocol.Motion(room=room))
        bodies.extend(self._hazards(name, room, data))
        if self._changed(name, data, "tamper") and data["tamper"] is True:
            bodies.append(protocol.Tamper(room=room))
        if self._changed(name, data, "trouble") and data["trouble"] is True:
            bodies.append(protocol.DeviceFault(room=room, fault="trouble"))
        if self._changed(name, data, "battery_defect") and data["battery_defect"] is True:
            bodies.append(protocol.DeviceFault(room=room, fault="battery_defect"))
        mains_failed = self._state.setdefault(name, {}).get("ac_status") is True
        if self._changed(name, data, "ac_status") and isinstance(data["ac_status"], bool):
            # IAS zone bit 7: set while the device's mains supply has failed.
            if data["ac_status"]:
                bodies.append(protocol.PowerLost(room=room))
            elif mains_failed:
                bodies.append(protocol.PowerRestored(room=room))
        if kind == "plug":
            bodies.extend(self._outages(name, room, data))
        if kind == "dispenser":
            bodies.extend(self._dispenser(name, device, data))
        if "temperature" in data and kind == "temperature":
            bodies.extend(self._temperature(name, room, float(data["temperature"])))
        if "humidity" in data:
            bodies.append(
                protocol.Telemetry(
                    kind="humidity", value=float(data["humidity"]), unit="%", room=room
                )
            )
        if "power" in data:
            bodies.append(
                protocol.Telemetry(kind="power", value=float(data["power"]), unit="W", room=room)
            )
        bodies.extend(self._battery(name, room, data))
        return bodies

    def _action(self, device: Zigbee2MqttDevice, action: str) -> list[Any]:
        """What one action means for this device (never nothing for an unknown action)."""
        room, kind = device.room, device.type
        words = _words(action)
        source: Literal["pendant", "wall_button"] = (
            "pendant" if kind in ("pendant", "fall_detector") else "wall_button"
        )
        if words & _EMERGENCY_WORDS:
            # A dedicated SOS key means help whatever the device's role says.
            return [protocol.Panic(room=room, source=source)]
        if kind == "dispenser" and action.lower() in _DOSE_TAKEN_ACTIONS:
            return [protocol.MedicationTaken(room=room, schedule=device.dose)]
        if kind == "dispenser" and action.lower() in _DOSE_MISSED_ACTIONS:
            return [protocol.MedicationMissed(room=room, schedule=device.dose)]
        if kind in ("vibration", "bed") and action in _MOVEMENT_ACTIONS:
            # On a walking frame it is movement; under a mattress, movement in bed.
            return [protocol.Motion(room=room)]
        if action == "drop" and kind == "bed":
            return []  # the sensor knocked under the mattress, not a fall
        fall = action == "drop" or (action == "fall" and kind == "fall_detector")
        if fall and kind in ("vibration", "fall_detector"):
            return [protocol.Fall(room=room, confidence=0.6)]
        if words & _RELEASE_WORDS:
            return []
        pressed = bool(words & _PRESS_WORDS) or action in _PRESS_ACTIONS
        if pressed and kind in ("button", "pendant", "fall_detector"):
            if device.role == "check_in":
                return [protocol.CheckIn(room=room, source="button")]
            if kind == "fall_detector":
                return [protocol.FallCancelled(room=room)]
            return [protocol.Panic(room=room, source=source)]
        _LOGGER.warning("zigbee2mqtt %s: unknown action %r", device.device_id, action)
        return [protocol.DeviceFault(room=room, fault="unknown_action", detail=action[:40])]

    def _hazards(self, name: str, room: str | None, data: dict[str, Any]) -> list[Any]:
        if data.get("test") is True:
            # The detector's self-test sets its alarm bit: not a fire. The state is not
            # recorded either, so the end of the test is not a "cleared" either.
            _LOGGER.info("zigbee2mqtt %s: self-test, alarm bits ignored", name)
            return []
        out: list[Any] = []
        hazards: tuple[tuple[str, type[protocol.Flood | protocol.Smoke | protocol.Gas]], ...] = (
            ("water_leak", protocol.Flood),
            ("smoke", protocol.Smoke),
            ("gas", protocol.Gas),
        )
        for key, cls in hazards:
            if self._changed(name, data, key):
                out.append(cls(room=room, cleared=not bool(data[key])))
        if self._changed(name, data, "carbon_monoxide"):
            out.append(
                protocol.CarbonMonoxide(room=room, cleared=not bool(data["carbon_monoxide"]))
            )
        return out

    def _outages(self, name: str, room: str | None, data: dict[str, Any]) -> list[Any]:
        """A plug counts its mains outages: a higher count is an outage that happened.

        A short outage ends before zigbee2mqtt marks the plug unavailable: only the
        counter tells it.
        """
        state = self._state.setdefault(name, {})
        previous = state.get("power_outage_count")
        if not self._changed(name, data, "power_outage_count") or previous is None:
            return []
        if int(data["power_outage_count"]) <= int(previous) or state.pop("_outage_told", False):
            return []
        return [protocol.PowerLost(room=room), protocol.PowerRestored(room=room)]

    def _dispenser(self, name: str, device: Zigbee2MqttDevice, data: dict[str, Any]) -> list[Any]:
        """A pill box's dose taken (``take_pill_state``) and pills left (``pill_remain``)."""
        out: list[Any] = []
        state = self._state.setdefault(name, {})
        pills_before = state.get("pill_remain")
        if "pill_remain" in data:
            remain = data["pill_remain"]
            if isinstance(remain, bool) or not isinstance(remain, int | float):
                raise ValueError(f"pill_remain {remain!r} is not a number")
            if self._changed(name, data, "pill_remain"):
                out.append(protocol.Telemetry(kind="pills", value=float(remain), room=device.room))
        if "take_pill_state" not in data:
            return out
        pill_state = data["take_pill_state"]
        if pill_state not in _PILL_STATES:
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: unknown take_pill_state %r", name, pill_state)
            return out
        seen_before = "take_pill_state" in state
        changed = self._changed(name, data, "take_pill_state")
        fewer = (
            pills_before is not None
            and "pill_remain" in data
            and float(data["pill_remain"]) < float(pills_before)
        )
        if pill_state == "taken" and seen_before and (changed or fewer):
            out.append(protocol.MedicationTaken(room=device.room, schedule=device.dose))
        return out

    def _temperature(self, name: str, room: str | None, celsius: float) -> list[Any]:
        out: list[Any] = [
            protocol.Telemetry(kind="temperature", value=celsius, unit="Cel", room=room)
        ]
        low, high = self.settings.low_temp_c, self.settings.high_temp_c
        band = "low" if celsius < low else "high" if celsius > high else "normal"
        state = self._state.setdefault(name, {})
        previous = state.get("_band", "normal")
        state["_band"] = band
        if band != previous:
            out.append(protocol.Temperature(celsius=celsius, room=room))
        return out

    def _battery(self, name: str, room: str | None, data: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        state = self._state.setdefault(name, {})
        if self._changed(name, data, "battery") and data["battery"] is not None:
            reported = max(0, min(100, round(float(data["battery"]))))
            state["_percent"] = reported
            out.append(
                protocol.Telemetry(kind="battery", value=float(reported), unit="%", room=room)
            )
        if not ({"battery", "battery_low", "battery_state"} & data.keys()):
            return out
        threshold = self.settings.low_battery_percent
        percent: int | None = state.get("_percent")
        level_low = percent is not None and percent < threshold
        # The device's own flag (Tuya sends battery_state "low") counts even when its
        # percentage, often stale or rounded, still says plenty.
        flag_low = data.get("battery_low") is True or data.get("battery_state") == "low"
        low = level_low or flag_low
        if low and not state.get("_low"):
            out.append(protocol.LowBattery(percent=percent if level_low else None, room=room))
        state["_low"] = low
        return out


class Zigbee2MqttSource:
    """Subscribes to zigbee2mqtt's broker and feeds mapped readings to the agent.

    Reconnects on its own (fixed 5 s pause): the bridge usually runs on the gateway.
    """

    def __init__(self, settings: Zigbee2MqttSettings, retry_s: float = 5.0) -> None:
        self.settings = settings
        self.mapper = Zigbee2MqttMapper(settings)
        self.retry_s = retry_s
        # Set while subscribed to zigbee2mqtt's topics (health checks, tests).
        self.subscribed = asyncio.Event()

    async def run(self, sink: ReadingSink) -> None:
        """Forward readings until cancelled."""
        while True:
            try:
                async with aiomqtt.Client(
                    self.settings.host,
                    self.settings.port,
                    username=self.settings.username,
                    password=self.settings.password,
                ) as client:
                    await client.subscribe(f"{self.mapper.base}/#", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        for reading in self.mapper.map(str(message.topic), payload):
                            await sink(reading)
            except aiomqtt.MqttError as err:
                self.subscribed.clear()
                _LOGGER.warning("zigbee2mqtt broker: %s; retrying in %.0f s", err, self.retry_s)
                await asyncio.sleep(self.retry_s)
