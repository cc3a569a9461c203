"""Sensor models: turn the resident's timeline into what each device reports.

Everything here is pure: values come from the seeded ``random.Random`` handed in, and
times are minutes on the simulation's local time line.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import protocol
from firmware_sim.home import BATTERY_TYPES, DeviceSpec, DeviceType, HomeSpec
from firmware_sim.routine import Act, Segment, Timeline

# Reporting intervals (minutes) of the modelled devices.
THERMOMETER_EVERY = 10.0
BATTERY_EVERY = 20.0  # also the check-in the hub supervises (30 min for pendants)
PLUG_EVERY = 30.0
PIR_BLIND = 1.0  # a PIR ignores movement for a minute after it fired
LOW_TEMP_C = 16.0  # thresholds configured in the thermometers
HIGH_TEMP_C = 28.0
LOW_BATTERY_PERCENT = 15

Emit = tuple[float, DeviceSpec, "protocol.Event | protocol.Telemetry"]


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected deviation of a device's readings between ``start`` and ``end``."""

    start: float
    end: float
    value: float


@dataclass
class Faults:
    """Per-device injected faults that change telemetry (temperature, battery)."""

    temperature: dict[str, list[Fault]] = field(default_factory=dict)
    battery: dict[str, list[Fault]] = field(default_factory=dict)


def motion_and_presence(
    home: HomeSpec, timeline: Timeline, rng: random.Random, out: list[Emit]
) -> None:
    """PIR motion, bed exit/return and front door events from the timeline."""
    pirs = {d.room: d for d in home.of_type(DeviceType.MOTION)}
    bed = home.find(DeviceType.BED)
    door = home.find(DeviceType.CONTACT, "hall")
    last_fired: dict[str, float] = {}
    previous: Segment | None = None
    for seg in timeline.segments:
        if bed is not None and previous is not None:
            was_in_bed = previous.act is Act.SLEEP
            if was_in_bed and seg.act is not Act.SLEEP:
                out.append((seg.start, bed, protocol.BedExit(room=bed.room)))
            elif not was_in_bed and seg.act is Act.SLEEP:
                out.append((seg.start, bed, protocol.BedReturn(room=bed.room)))
        if seg.act is Act.AWAY and door is not None:
            out.append((seg.start - 0.3, door, protocol.DoorOpen(room=door.room)))
            out.append((seg.start, door, protocol.DoorClose(room=door.room)))
            out.append((seg.end, door, protocol.DoorOpen(room=door.room)))
            out.append((seg.end + 0.3, door, protocol.DoorClose(room=door.room)))
        pir = pirs.get(seg.room)
        if pir is not None and seg.act in (Act.ACTIVE, Act.SEDENTARY):
            low, high = (1.5, 4.0) if seg.act is Act.ACTIVE else (8.0, 25.0)
            t = seg.start + rng.uniform(0.0, 0.2)
            while t < seg.end:
                if t - last_fired.get(pir.device_id, -1e9) >= PIR_BLIND:
                    out.append((t, pir, protocol.Motion(room=pir.room)))
                    last_fired[pir.device_id] = t
                t += rng.uniform(low, high)
        previous = seg


def appliances(
    home: HomeSpec, timeline: Timeline, first: float, last: float, out: list[Emit]
) -> None:
    """Smart-plug power: on/off changes plus a report every :data:`PLUG_EVERY` minutes."""
    for plug in home.of_type(DeviceType.PLUG):
        intervals: list[tuple[float, float, float]] = []
        for seg in timeline.segments:
            if plug.appliance == "kettle" and "kettle" in seg.tags:
                intervals.append((seg.start + 1.0, seg.start + 4.0, 2000.0))
            elif plug.appliance == "tv" and "tv" in seg.tags:
                if intervals and abs(intervals[-1][1] - seg.start) < 0.01:
                    intervals[-1] = (intervals[-1][0], seg.end, 85.0)
                else:
                    intervals.append((seg.start + 0.5, seg.end, 85.0))
        idle = 0.5 if plug.appliance == "tv" else 0.0

        def watts(
            t: float, spans: list[tuple[float, float, float]] = intervals, idle: float = idle
        ) -> float:
            for start, end, value in spans:
                if start <= t < end:
                    return value
            return idle

        for start, end, value in intervals:
            out.append((start, plug, _power(value, plug)))
            out.append((end, plug, _power(idle, plug)))
        t = first + (hash_phase(plug.device_id) % PLUG_EVERY)
        while t < last:
            out.append((t, plug, _power(watts(t), plug)))
            t += PLUG_EVERY


def _power(value: float, plug: DeviceSpec) -> protocol.Telemetry:
    return protocol.Telemetry(kind="power", value=value, unit="W", room=plug.room)


def hash_phase(device_id: str) -> int:
    """A stable per-device offset so periodic reports do not all line up."""
    return sum(device_id.encode()) * 7


def outdoor_celsius(day_of_year: int, hour: float) -> float:
    """A Mediterranean climate: cold January, hot July, warmest mid-afternoon."""
    seasonal = 16.0 - 7.5 * math.cos(2 * math.pi * (day_of_year - 20) / 365.0)
    return seasonal + 4.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)


def indoor_celsius(day_of_year: int, hour: float, room: str | None) -> float:
    """Room temperature with heating (21 °C by day, 19 °C at night) in the cold season."""
    outside = outdoor_celsius(day_of_year, hour)
    daily = 16.0 - 7.5 * math.cos(2 * math.pi * (day_of_year - 20) / 365.0)
    offset = {"bedroom": -0.8, "living": 0.3}.get(room or "", 0.0)
    if daily < 15.0:
        setpoint = 21.0 if 7 <= hour < 23 else 19.0
        return setpoint + 0.08 * (outside - setpoint) + offset
    return 23.0 + 0.35 * (outside - 23.0) + offset


def thermometers(
    home: HomeSpec,
    day_of_year: Callable[[float], tuple[int, float]],
    faults: Faults,
    rng: random.Random,
    first: float,
    last: float,
    out: list[Emit],
) -> dict[str, list[tuple[float, float]]]:
    """Temperature readings and threshold events; returns each device's excursions
    (start, end) beyond the thresholds, the ground truth of temperature incidents."""
    excursions: dict[str, list[tuple[float, float]]] = {}
    tau = 45.0
    for dev in home.of_type(DeviceType.THERMOMETER):
        dev_faults = faults.temperature.get(dev.device_id, [])
        state = "normal"
        began = 0.0
        t = first + (hash_phase(dev.device_id) % THERMOMETER_EVERY)
        while t < last:
            doy, hour = day_of_year(t)
            value = indoor_celsius(doy, hour, dev.room) + rng.gauss(0.0, 0.15)
            for fault in dev_faults:
                if fault.start <= t < fault.end:
                    weight = math.exp(-(t - fault.start) / tau)
                    value = fault.value + (value - fault.value) * weight
                elif fault.end <= t < fault.end + 6 * tau:
                    at_end = fault.value + (value - fault.value) * math.exp(
                        -(fault.end - fault.start) / tau
                    )
                    value = value + (at_end - value) * math.exp(-(t - fault.end) / tau)
            value = round(value, 1)
            out.append(
                (
                    t,
                    dev,
                    protocol.Telemetry(kind="temperature", value=value, unit="Cel", room=dev.room),
                )
            )
            now_state = "low" if value < LOW_TEMP_C else "high" if value > HIGH_TEMP_C else "normal"
            if now_state != state:
                out.append((t, dev, protocol.Temperature(celsius=value, room=dev.room)))
                if state == "normal":
                    began = t
                else:
                    excursions.setdefault(dev.device_id, []).append((began, t))
                    if now_state != "normal":
                        began = t
                state = now_state
            t += THERMOMETER_EVERY
        if state != "normal":
            excursions.setdefault(dev.device_id, []).append((began, last))
    return excursions


def batteries(
    home: HomeSpec, faults: Faults, rng: random.Random, first: float, last: float, out: list[Emit]
) -> dict[str, list[tuple[float, float]]]:
    """Battery level every 20 minutes (the sensor's check-in), slowly draining; low-battery events.
    Returns each device's low periods (start, end), the ground truth of battery incidents."""
    lows: dict[str, list[tuple[float, float]]] = {}
    for dev in home.devices:
        if dev.device_type not in BATTERY_TYPES:
            continue
        level0 = rng.uniform(60.0, 100.0)
        drain = rng.uniform(0.0005, 0.003)  # percent per hour: a battery lasts years
        dev_faults = faults.battery.get(dev.device_id, [])
        low = False
        t = first + (hash_phase(dev.device_id) % BATTERY_EVERY)
        while t < last:
            level = level0 - drain * (t / 60.0)
            for fault in dev_faults:
                if fault.start <= t < fault.end:
                    level = fault.value
                elif t >= fault.end:
                    level = 100.0 - drain * ((t - fault.end) / 60.0)
            percent = max(0, min(100, round(level)))
            out.append(
                (
                    t,
                    dev,
                    protocol.Telemetry(
                        kind="battery", value=float(percent), unit="%", room=dev.room
                    ),
                )
            )
            if percent < LOW_BATTERY_PERCENT and not low:
                out.append((t, dev, protocol.LowBattery(percent=percent, room=dev.room)))
                lows.setdefault(dev.device_id, []).append((t, last))
            elif percent >= LOW_BATTERY_PERCENT and low:
                began, _ = lows[dev.device_id][-1]
                lows[dev.device_id][-1] = (began, t)
            low = percent < LOW_BATTERY_PERCENT
            t += BATTERY_EVERY
    return lows
