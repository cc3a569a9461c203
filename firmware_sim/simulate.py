"""``simulate_days``: a seeded resident's days, with incidents, as a trace (pure)."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import protocol
from device_agent.local_rules import FallCancelWindow
from firmware_sim import sensors
from firmware_sim.home import BATTERY_TYPES, DeviceSpec, DeviceType, HomeSpec
from firmware_sim.incidents import (
    DEFAULT_DURATION,
    IncidentKind,
    IncidentSpec,
    ground_truth,
)
from firmware_sim.profiles import ProfileParams, profile_params
from firmware_sim.routine import (
    DAY,
    OUTSIDE,
    Act,
    Segment,
    Timeline,
    override,
    plan_day,
    plan_night,
)
from firmware_sim.trace import Body, Trace, TraceRecord

View = Literal["hub", "sensor"]
FIRMWARE = "teleassist-sim 0.1.0"


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How the simulated gateway behaves in the hub's view of a trace."""

    heartbeat_s: int = 120
    keepalive_s: int = 60
    fall_cancel_s: float = 30.0
    # The gateway declares a sensor offline after about two hours of silence.
    sensor_supervision_s: int = 2 * 3600 + 300
    firmware: str = FIRMWARE


@dataclass
class _Build:
    """Mutable state of one simulation run (private)."""

    home: HomeSpec
    params: ProfileParams
    key: str
    segments: list[Segment]
    wakes: list[float]
    planned_wakes: list[float]
    check_ins: dict[int, float | None]
    emits: list[sensors.Emit] = field(default_factory=list)
    faults: sensors.Faults = field(default_factory=sensors.Faults)
    offline: list[tuple[str, float, float]] = field(default_factory=list)
    # Ground truth still to be finished once readings exist: (kind, device, start, end).
    pending_truth: list[tuple[IncidentSpec, str, float, float]] = field(default_factory=list)
    truth: list[tuple[IncidentSpec, float, float, str | None, str | None, bool | None]] = field(
        default_factory=list
    )


def simulate_days(
    home: HomeSpec,
    profile: str | ProfileParams,
    start_date: date,
    days: int,
    seed: int | str,
    incidents: Sequence[IncidentSpec] = (),
    *,
    view: View = "hub",
    options: SimOptions | None = None,
) -> Trace:
    """Simulate ``days`` days of ``home``'s resident living ``profile`` from local
    midnight of ``start_date``; see the package docstring for the two views."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if view not in ("hub", "sensor"):
        raise ValueError(f"view must be 'hub' or 'sensor', not {view!r}")
    for spec in incidents:
        if spec.day >= days:
            raise ValueError(f"incident {spec.kind} on day {spec.day} is past the last day")
        if spec.device_id is not None:
            try:
                home.device(spec.device_id)
            except KeyError as err:
                raise ValueError(str(err.args[0])) from None
    opts = options or SimOptions()
    params = profile_params(profile)
    key = f"{seed}:{home.home_id}"
    total = days * DAY
    build = _plan(home, params, key, days, incidents)
    for index, spec in enumerate(sorted(incidents, key=lambda s: (s.day, s.kind.value))):
        _inject(build, spec, random.Random(f"{key}:incident:{index}:{spec.kind}:{spec.day}"))
    timeline = Timeline([_trim(s, total) for s in build.segments if s.end > 0 and s.start < total])
    clock = _LocalTime(start_date, home.timezone)
    # One generator per sensor family, so that an incident late in the run does not
    # shift the random draws of anything before it.
    emits = build.emits
    sensors.motion_and_presence(home, timeline, random.Random(f"{key}:motion"), emits)
    sensors.appliances(home, timeline, 0.0, total, emits)
    excursions = sensors.thermometers(
        home, clock.day_of_year, build.faults, random.Random(f"{key}:temp"), 0.0, total, emits
    )
    lows = sensors.batteries(home, build.faults, random.Random(f"{key}:battery"), 0.0, total, emits)
    tablet = home.find(DeviceType.TABLET)
    if tablet is not None:
        for check_in in build.check_ins.values():
            if check_in is not None:
                emits.append((check_in, tablet, protocol.CheckIn(room=tablet.room)))
    for spec, device_id, start, end in build.pending_truth:
        temperature = spec.kind in (IncidentKind.TEMPERATURE_HIGH, IncidentKind.TEMPERATURE_LOW)
        periods = excursions if temperature else lows
        found = [p for p in periods.get(device_id, []) if start <= p[0] <= end]
        room = home.device(device_id).room
        if found:
            build.truth.append((spec, found[0][0], found[0][1], device_id, room, None))
        else:
            # The fault was too short to cross the threshold: nothing to detect.
            build.truth.append((spec, start, end, device_id, room, False))
    records = _records(home, build, clock, total)
    if view == "hub":
        records = _hub_view(home, records, build, clock, total, opts, key)
    truth = tuple(
        sorted(
            (
                ground_truth(
                    spec.kind,
                    home_id=home.home_id,
                    resident_id=home.resident_id,
                    start=clock.utc(start),
                    end=clock.utc(end),
                    device_id=device_id,
                    room=room,
                    expect_alarm=expect,
                )
                for spec, start, end, device_id, room, expect in build.truth
            ),
            key=lambda i: i.start,
        )
    )
    return Trace(
        home=home,
        profile=params.name,
        seed=seed,
        start_date=start_date,
        days=days,
        view=view,
        records=tuple(records),
        incidents=truth,
    )


class _LocalTime:
    """Minutes on the local time line → UTC datetimes (routines follow the wall clock)."""

    def __init__(self, start_date: date, timezone: str) -> None:
        self.start_date = start_date
        self.tz = ZoneInfo(timezone)
        self._midnights: dict[int, datetime] = {}

    def utc(self, minute: float) -> datetime:
        day = int(minute // DAY)
        midnight = self._midnights.get(day)
        if midnight is None:
            local_day = self.start_date + timedelta(days=day)
            midnight = datetime.combine(local_day, time(0), tzinfo=self.tz)
            self._midnights[day] = midnight
        return (midnight + timedelta(minutes=minute - day * DAY)).astimezone(UTC)

    def day_of_year(self, minute: float) -> tuple[int, float]:
        day = int(minute // DAY)
        doy = (self.start_date + timedelta(days=day)).timetuple().tm_yday
        return doy, (minute - day * DAY) / 60.0


def _trim(seg: Segment, total: float) -> Segment:
    if seg.start >= 0 and seg.end <= total:
        return seg
    return Segment(max(seg.start, 0.0), min(seg.end, total), seg.room, seg.act, seg.tags)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _plan(
    home: HomeSpec,
    p: ProfileParams,
    key: str,
    days: int,
    incidents: Iterable[IncidentSpec],
) -> _Build:
    rngs = [random.Random(f"{key}:day:{d}") for d in range(days + 1)]
    wakes = [_clamp(r.gauss(p.wake_mean, p.wake_sd), p.wake_min, p.wake_max) for r in rngs]
    beds = [_clamp(r.gauss(p.bed_mean, p.bed_sd), p.bed_min, p.bed_max) for r in rngs]
    planned = list(wakes)
    for spec in incidents:
        if spec.kind is IncidentKind.NO_ACTIVITY_AFTER_WAKE:
            duration = spec.duration or DEFAULT_DURATION[spec.kind]
            wakes[spec.day] = planned[spec.day] + duration.total_seconds() / 60.0
    segments = plan_night(p, random.Random(f"{key}:night:-1"), -60.0, wakes[0])
    check_ins: dict[int, float | None] = {}
    for d in range(days):
        day_segments, plan = plan_day(p, rngs[d], d, wakes[d], beds[d])
        segments.extend(day_segments)
        segments.extend(plan_night(p, rngs[d], plan.bed, (d + 1) * DAY + wakes[d + 1]))
        check_ins[d] = plan.check_in
    return _Build(
        home=home,
        params=p,
        key=key,
        segments=segments,
        wakes=[d * DAY + w for d, w in enumerate(wakes)],
        planned_wakes=[d * DAY + w for d, w in enumerate(planned)],
        check_ins=check_ins,
    )


def _minute(spec: IncidentSpec, rng: random.Random, low: float, high: float) -> float:
    base = spec.day * DAY
    if spec.at is not None:
        return base + spec.at.hour * 60 + spec.at.minute + spec.at.second / 60.0
    return base + rng.uniform(low, high)


def _device(home: HomeSpec, spec: IncidentSpec, kind: DeviceType, room: str | None) -> DeviceSpec:
    if spec.device_id is not None:
        return home.device(spec.device_id)
    dev = home.find(kind, room) or home.find(kind)
    if dev is None:
        raise ValueError(f"home {home.home_id} has no {kind} device for a {spec.kind} incident")
    return dev


def _awake_at_home(build: _Build, t: float) -> Segment:
    # Move an incident that would land while the resident is out or asleep to just
    # after they come back or get up, so falls and presses happen at home, awake.
    timeline = Timeline(build.segments)
    for _ in range(20):
        seg = timeline.at(t)
        if seg is not None and seg.act in (Act.ACTIVE, Act.SEDENTARY):
            return Segment(t, seg.end, seg.room, seg.act)
        t = (seg.end if seg is not None else t) + 5.0
    raise ValueError("could not place the incident while the resident is at home and awake")


def _inject(build: _Build, spec: IncidentSpec, rng: random.Random) -> None:
    home, p, kind = build.home, build.params, spec.kind
    minutes = (spec.duration or DEFAULT_DURATION[kind]).total_seconds() / 60.0
    d = spec.day
    wake = build.wakes[d]
    if kind in (IncidentKind.FALL, IncidentKind.FALL_CANCELLED, IncidentKind.PANIC):
        at = _awake_at_home(build, _minute(spec, rng, wake - d * DAY + 45, p.bed_min - 45))
        t, room = at.start, at.room
        if kind is IncidentKind.PANIC:
            pendant = _device(home, spec, DeviceType.PENDANT, None)
            build.emits.append((t, pendant, protocol.Panic(room=room, source="pendant")))
            build.truth.append((spec, t, t + minutes, pendant.device_id, room, None))
            return
        detector = home.find(DeviceType.FALL_DETECTOR, room) or _device(
            home, spec, DeviceType.PENDANT, None
        )
        build.emits.append((t, detector, protocol.Fall(room=room, confidence=0.9)))
        if kind is IncidentKind.FALL_CANCELLED:
            pressed = t + rng.uniform(4.0, 20.0) / 60.0
            build.emits.append((pressed, detector, protocol.FallCancelled(room=room)))
            build.truth.append((spec, t, pressed, detector.device_id, room, None))
            return
        build.segments = override(
            build.segments, t, t + minutes, [Segment(t, t + minutes, room, Act.FLOOR)]
        )
        build.truth.append((spec, t, t + minutes, detector.device_id, room, None))
    elif kind is IncidentKind.NO_ACTIVITY_AFTER_WAKE:
        start, end = build.planned_wakes[d], build.wakes[d]
        build.truth.append((spec, start, end, None, "bedroom", None))
    elif kind is IncidentKind.NIGHT_WANDERING:
        t = _minute(spec, rng, 90.0, 270.0)
        away_end = t + max(minutes, 6.0) - 1.5
        build.segments = override(
            build.segments,
            t,
            away_end + 1.5,
            [
                Segment(t, t + 1.0, "hall", Act.ACTIVE),
                Segment(t + 1.0, away_end, OUTSIDE, Act.AWAY),
                Segment(away_end, away_end + 1.5, "hall", Act.ACTIVE),
            ],
        )
        door = home.find(DeviceType.CONTACT, "hall")
        build.truth.append(
            (spec, t + 0.7, away_end + 1.5, door.device_id if door else None, "hall", None)
        )
    elif kind is IncidentKind.NOT_BACK_TO_BED:
        t = _minute(spec, rng, 120.0, 240.0)
        t = min(t, wake - 90.0)
        bathroom = rng.uniform(3.0, 6.0)
        build.segments = override(
            build.segments,
            t,
            wake,
            [
                Segment(t, t + 0.5, "hall", Act.ACTIVE),
                Segment(t + 0.5, t + 0.5 + bathroom, "bathroom", Act.ACTIVE),
                Segment(t + 0.5 + bathroom, wake, "living", Act.SEDENTARY),
            ],
        )
        bed = home.find(DeviceType.BED)
        build.truth.append((spec, t, wake, bed.device_id if bed else None, "living", None))
    elif kind is IncidentKind.MISSED_CHECK_IN:
        build.check_ins[d] = None
        deadline = d * DAY + p.check_in_deadline
        tablet = home.find(DeviceType.TABLET)
        build.truth.append(
            (spec, deadline, (d + 1) * DAY, tablet.device_id if tablet else None, None, None)
        )
    elif kind in (IncidentKind.SMOKE, IncidentKind.CO, IncidentKind.FLOOD):
        t = _minute(spec, rng, 12 * 60.0, 21.5 * 60)
        start_body: Body
        end_body: Body
        if kind is IncidentKind.SMOKE:
            dev = _device(home, spec, DeviceType.SMOKE, "kitchen")
            start_body, end_body = (
                protocol.Smoke(room=dev.room),
                protocol.Smoke(room=dev.room, cleared=True),
            )
        elif kind is IncidentKind.CO:
            dev = _device(home, spec, DeviceType.CO, "kitchen")
            ppm = float(round(rng.uniform(60.0, 300.0)))
            start_body = protocol.CarbonMonoxide(room=dev.room, ppm=ppm)
            end_body = protocol.CarbonMonoxide(room=dev.room, cleared=True, ppm=5.0)
        else:
            dev = _device(home, spec, DeviceType.WATER_LEAK, "bathroom")
            start_body, end_body = (
                protocol.Flood(room=dev.room),
                protocol.Flood(room=dev.room, cleared=True),
            )
        build.emits.append((t, dev, start_body))
        build.emits.append((t + minutes, dev, end_body))
        build.truth.append((spec, t, t + minutes, dev.device_id, dev.room, None))
    elif kind in (IncidentKind.TEMPERATURE_HIGH, IncidentKind.TEMPERATURE_LOW):
        dev = _device(home, spec, DeviceType.THERMOMETER, "living")
        high = kind is IncidentKind.TEMPERATURE_HIGH
        t = _minute(spec, rng, 10 * 60.0, 14 * 60.0) if high else _minute(spec, rng, 0.0, 240.0)
        target = 34.0 if high else 10.0
        build.faults.temperature.setdefault(dev.device_id, []).append(
            sensors.Fault(t, t + minutes, target)
        )
        build.pending_truth.append((spec, dev.device_id, t, t + minutes))
    elif kind is IncidentKind.DEVICE_OFFLINE:
        dev = _device(home, spec, DeviceType.MOTION, "hall")
        t = _minute(spec, rng, 9 * 60.0, 18 * 60.0)
        build.offline.append((dev.device_id, t, t + minutes))
        build.truth.append((spec, t, t + minutes, dev.device_id, dev.room, None))
    elif kind is IncidentKind.LOW_BATTERY:
        dev = _device(home, spec, DeviceType.PENDANT, None)
        if dev.device_type not in BATTERY_TYPES:
            raise ValueError(f"device {dev.device_id} has no battery")
        t = _minute(spec, rng, 8 * 60.0, 20 * 60.0)
        build.faults.battery.setdefault(dev.device_id, []).append(
            sensors.Fault(t, t + minutes, rng.uniform(8.0, 13.0))
        )
        build.pending_truth.append((spec, dev.device_id, t, t + minutes))


def _records(home: HomeSpec, build: _Build, clock: _LocalTime, total: float) -> list[TraceRecord]:
    offline = build.offline
    gateway = home.find(DeviceType.GATEWAY)
    gateway_id = gateway.device_id if gateway else None
    emits = sorted(
        (e for e in build.emits if 0.0 <= e[0] < total), key=lambda e: (e[0], e[1].device_id)
    )
    out: list[TraceRecord] = []
    for minute, dev, body in emits:
        if any(
            dev.device_id == device_id and start <= minute < end
            for device_id, start, end in offline
            if device_id != gateway_id
        ):
            continue
        room = body.room if body.room is not None else dev.room
        out.append(TraceRecord(clock.utc(minute), dev.device_id, dev.device_type, room, body))
    return out


def _fall_id(key: str, record: TraceRecord) -> str:
    return hashlib.blake2b(
        f"{key}/fall/{record.ts.isoformat()}".encode(), digest_size=16
    ).hexdigest()


def _hub_view(
    home: HomeSpec,
    records: list[TraceRecord],
    build: _Build,
    clock: _LocalTime,
    total: float,
    opts: SimOptions,
    key: str,
) -> list[TraceRecord]:
    """What the hub receives from an agent with ``opts``: local fall rule applied,
    gateway heartbeats and Last Will, sensor supervision, late delivery after an outage."""
    out: list[TraceRecord] = []
    window = FallCancelWindow(timedelta(seconds=opts.fall_cancel_s))
    devices = {d.device_id: d for d in home.devices}

    def confirm(now: datetime) -> None:
        for fall in window.due(now):
            dev = devices[fall.device_id]
            out.append(
                TraceRecord(
                    fall.deadline(window.window),
                    dev.device_id,
                    dev.device_type,
                    fall.room,
                    protocol.Fall(room=fall.room, confidence=fall.confidence),
                )
            )

    for record in records:
        confirm(record.ts)
        body = record.body
        if isinstance(body, protocol.Fall):
            window.detected(
                _fall_id(key, record), record.ts, record.device_id, record.room, body.confidence
            )
            continue
        if isinstance(body, protocol.FallCancelled):
            for fall in window.cancel(record.ts):
                out.append(
                    TraceRecord(
                        record.ts,
                        record.device_id,
                        record.device_type,
                        record.room,
                        protocol.FallCancelled(room=fall.room, fall_id=fall.fall_id),
                    )
                )
            continue
        out.append(record)
    confirm(datetime.max.replace(tzinfo=UTC))
    out.extend(_supervision(home, out, clock, total, opts))
    gateway = home.find(DeviceType.GATEWAY)
    if gateway is not None:
        out = _gateway(gateway, out, build, clock, total, opts)
    out.sort(key=lambda r: r.ts)
    return [r for r in out if r.ts < clock.utc(total)]


def _supervision(
    home: HomeSpec, records: list[TraceRecord], clock: _LocalTime, total: float, opts: SimOptions
) -> list[TraceRecord]:
    supervised = {
        d.device_id: d
        for d in home.devices
        if d.device_type in BATTERY_TYPES or d.device_type is DeviceType.PLUG
    }
    seen: dict[str, list[datetime]] = {device_id: [] for device_id in supervised}
    for record in records:
        if record.device_id in seen:
            seen[record.device_id].append(record.ts)
    limit = timedelta(seconds=opts.sensor_supervision_s)
    out: list[TraceRecord] = []
    for device_id, times in seen.items():
        dev = supervised[device_id]
        times = sorted([clock.utc(0.0), *times, clock.utc(total)])
        for before, after in itertools.pairwise(times):
            if after - before > limit:
                out.append(
                    TraceRecord(
                        before + limit,
                        device_id,
                        dev.device_type,
                        dev.room,
                        protocol.Status(state="offline", reason="supervision"),
                    )
                )
                if after < clock.utc(total):
                    out.append(
                        TraceRecord(
                            after,
                            device_id,
                            dev.device_type,
                            dev.room,
                            protocol.Status(state="online", reason="connected"),
                        )
                    )
    return out


def _gateway(
    gateway: DeviceSpec,
    records: list[TraceRecord],
    build: _Build,
    clock: _LocalTime,
    total: float,
    opts: SimOptions,
) -> list[TraceRecord]:
    outages = [(s, e) for device_id, s, e in build.offline if device_id == gateway.device_id]
    out: list[TraceRecord] = []
    for record in records:
        late = next((e for s, e in outages if clock.utc(s) <= record.ts < clock.utc(e)), None)
        if late is not None:
            # Store and forward: kept with its own timestamp, delivered on reconnect.
            record = TraceRecord(
                record.ts,
                record.device_id,
                record.device_type,
                record.room,
                record.body,
                delivered_at=clock.utc(late),
            )
        out.append(record)
    step = opts.heartbeat_s / 60.0
    t = 0.0
    while t < total:
        if not any(s <= t < e for s, e in outages):
            reason: Literal["connected", "heartbeat"] = "connected" if t == 0.0 else "heartbeat"
            out.append(_gateway_status(gateway, clock.utc(t), "online", reason, opts))
        t += step
    for start, end in outages:
        will = start + 1.5 * opts.keepalive_s / 60.0
        out.append(_gateway_status(gateway, clock.utc(will), "offline", "will", opts))
        if end < total:
            out.append(_gateway_status(gateway, clock.utc(end), "online", "connected", opts))
    return out


def _gateway_status(
    gateway: DeviceSpec,
    ts: datetime,
    state: Literal["online", "offline"],
    reason: Literal["connected", "heartbeat", "will"],
    opts: SimOptions,
) -> TraceRecord:
    return TraceRecord(
        ts,
        gateway.device_id,
        gateway.device_type,
        gateway.room,
        protocol.Status(state=state, reason=reason, firmware=opts.firmware),
    )
