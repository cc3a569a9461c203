"""The agent's configuration sections (``[agent]``, ``[zigbee2mqtt]``, ``[lines]``).

The broker is the shared ``[mqtt]`` section; its ``username`` defaults to the
gateway id. See ``deploy/agent.toml`` for a commented example.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol.i18n import Language

AGENT_VERSION = "teleassist-agent 0.1.0"


class AgentSettings(msgspec.Struct, kw_only=True, frozen=True):
    """``[agent]``: who this gateway is and how it behaves."""

    gateway_id: str = "demo-gw"
    queue_path: str = "/var/lib/teleassist/agent-queue.sqlite3"
    queue_max_messages: Annotated[int, Meta(ge=1)] = 100_000
    heartbeat_s: Annotated[int, Meta(ge=10, le=86_400)] = 120
    supervision_s: Annotated[int, Meta(ge=30, le=86_400)] = 7500
    fall_cancel_s: Annotated[int, Meta(ge=5, le=120)] = 30
    telemetry_qos: Literal[0, 1] = 0
    language: Language = "ca"
    sounder: Literal["log", "espeak"] = "log"
    # "zigbee2mqtt", "lines", "none", or "package.module:factory" (a plug-in that takes
    # the Config and returns a SensorSource; the simulator is "firmware_sim.source:from_config").
    source: str = "none"
    backoff_base_s: Annotated[float, Meta(gt=0)] = 1.0
    backoff_cap_s: Annotated[float, Meta(gt=0)] = 60.0
    publish_timeout_s: Annotated[float, Meta(gt=0)] = 10.0
    firmware: str = AGENT_VERSION


class Zigbee2MqttDevice(msgspec.Struct, kw_only=True, frozen=True):
    """One zigbee2mqtt device: its friendly name maps to a Teleassist device."""

    device_id: str
    type: Literal[
        "button",
        "pendant",
        "motion",
        "bed",
        "contact",
        "water_leak",
        "smoke",
        "co",
        "gas",
        "temperature",
        "vibration",
        "fall_detector",
        "plug",
        "dispenser",
    ]
    room: str | None = None
    # What a button press means: call for help, or "I'm OK" (which also cancels a fall).
    role: Literal["panic", "check_in"] = "panic"
    # A pill dispenser's dose as the care plan names it ("insulin 08:00") or its time
    # ("08:00"); empty: the hub takes the doses due nearest its report (docs/adr/0174).
    dose: Annotated[str, Meta(max_length=40)] = ""


class Zigbee2MqttSettings(msgspec.Struct, kw_only=True, frozen=True):
    """``[zigbee2mqtt]``: the bridge's broker (often the gateway's own) and devices."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    base_topic: str = "zigbee2mqtt"
    low_temp_c: float = 16.0
    high_temp_c: float = 28.0
    low_battery_percent: int = 15
    devices: dict[str, Zigbee2MqttDevice] = msgspec.field(default_factory=dict)


class LineSettings(msgspec.Struct, kw_only=True, frozen=True):
    """``[lines]``: the serial/GPIO line protocol (a serial port, a FIFO or a file)."""

    path: str = "/dev/ttyUSB0"
    rooms: dict[str, str] = msgspec.field(default_factory=dict)
