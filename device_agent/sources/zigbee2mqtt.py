"""A zigbee2mqtt bridge: its MQTT JSON becomes contract readings.

zigbee2mqtt publishes each device's whole state on ``<base>/<friendly_name>`` every
time anything changes (a battery report repeats ``contact``, ``occupancy``…), so the
mapper keeps the last value of each attribute and emits events on changes only.
Availability arrives on ``<base>/<friendly_name>/availability`` (``{"state":
"online"}`` or the legacy plain ``online``). Devices not listed in ``[zigbee2mqtt.devices]``
are ignored (logged once), never guessed.

Attributes understood: ``action`` (buttons; ``drop`` from a vibration sensor is a fall),
``occupancy``/``presence`` (motion or bed), ``contact``, ``water_leak``, ``smoke``,
``carbon_monoxide``, ``tamper``, ``temperature``, ``humidity``, ``battery``,
``battery_low``, ``vibration``, ``fall``/``fall_detected`` and ``power``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt

import protocol
from device_agent.settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from device_agent.sources.base import Reading, ReadingSink

_LOGGER = logging.getLogger(__name__)

_PRESSES = frozenset({"single", "double", "triple", "hold", "long", "press", "on", "toggle"})


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
            return self._availability(device, data)
        if not isinstance(data, dict):
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: state is not a JSON object", name)
            return []
        try:
            return self._state_readings(name, device, data)
        except (TypeError, ValueError) as err:
            self.rejected += 1
            _LOGGER.warning("zigbee2mqtt %s: unusable state (%s)", name, err)
            return []

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

    def _availability(self, device: Zigbee2MqttDevice, data: Any) -> list[Reading]:
        state = data.get("state") if isinstance(data, dict) else data
        if state not in ("online", "offline"):
            self.rejected += 1
            return []
        if state == "online":
            body = protocol.Status(state="online", reason="connected")
        else:
            body = protocol.Status(state="offline", reason="supervision")
        return [Reading(device.device_id, body, device.type, device.room)]

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
        room, kind = device.room, device.type
        bodies: list[protocol.Event | protocol.Telemetry] = []
        action = data.get("action") or data.get("click")
        if isinstance(action, str) and action:
            # An action is an instant, not a state: every message with one counts.
            fall_action = ("fall", "drop") if kind == "fall_detector" else ("drop",)
            if kind in ("vibration", "fall_detector") and action in fall_action:
                bodies.append(protocol.Fall(room=room, confidence=0.6))
            elif kind == "vibration" and action in ("vibration", "tilt"):
                bodies.append(protocol.Motion(room=room))
            elif action in _PRESSES and kind in ("button", "pendant", "fall_detector"):
                if device.role == "check_in":
                    bodies.append(protocol.CheckIn(room=room, source="button"))
                elif kind == "fall_detector":
                    bodies.append(protocol.FallCancelled(room=room))
                else:
                    bodies.append(
                        protocol.Panic(room=room, source="pendant")
                        if kind == "pendant"
                        else protocol.Panic(room=room, source="wall_button")
                    )
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
        if data.get("vibration") is True and kind == "vibration" and not action:
            bodies.append(protocol.Motion(room=room))
        for key, cls in (("water_leak", protocol.Flood), ("smoke", protocol.Smoke)):
            if self._changed(name, data, key):
                bodies.append(cls(room=room, cleared=not bool(data[key])))
        if self._changed(name, data, "carbon_monoxide"):
            bodies.append(
                protocol.CarbonMonoxide(room=room, cleared=not bool(data["carbon_monoxide"]))
            )
        if self._changed(name, data, "tamper") and data["tamper"] is True:
            bodies.append(protocol.Tamper(room=room))
        if "temperature" in data:
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
        return [Reading(device.device_id, body, device.type, room) for body in bodies]

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
        if self._changed(name, data, "battery") and data["battery"] is not None:
            percent = max(0, min(100, round(float(data["battery"]))))
            out.append(
                protocol.Telemetry(kind="battery", value=float(percent), unit="%", room=room)
            )
            state = self._state[name]
            low = percent < self.settings.low_battery_percent
            if low and not state.get("_low"):
                out.append(protocol.LowBattery(percent=percent, room=room))
            state["_low"] = low
        elif self._changed(name, data, "battery_low") and data["battery_low"] is True:
            state = self._state[name]
            if not state.get("_low"):
                state["_low"] = True
                out.append(protocol.LowBattery(percent=int(data.get("battery") or 10), room=room))
        return out


class Zigbee2MqttSource:
    """Subscribes to zigbee2mqtt's broker and feeds mapped readings to the agent.

    Reconnects on its own (fixed 5 s pause): the bridge usually runs on the gateway.
    """

    def __init__(self, settings: Zigbee2MqttSettings, retry_s: float = 5.0) -> None:
        self.settings = settings
        self.mapper = Zigbee2MqttMapper(settings)
        self.retry_s = retry_s

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
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        for reading in self.mapper.map(str(message.topic), payload):
                            await sink(reading)
            except aiomqtt.MqttError as err:
                _LOGGER.warning("zigbee2mqtt broker: %s; retrying in %.0f s", err, self.retry_s)
                await asyncio.sleep(self.retry_s)
