"""The resident-day model: determinism, plausible routines, incident ground truth."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

import protocol
from firmware_sim import (
    HIGH_TEMP_C,
    LOW_BATTERY_PERCENT,
    LOW_TEMP_C,
    MAX_NORMAL_NIGHT_OUT_MIN,
    IncidentKind,
    IncidentSpec,
    Profile,
    Trace,
    plan_incidents,
    simulate_days,
    standard_home,
)

MADRID = ZoneInfo("Europe/Madrid")
WINTER = date(2026, 1, 12)
SUMMER = date(2026, 7, 13)


def _local(ts: datetime) -> datetime:
    return ts.astimezone(MADRID)


def _fingerprint(trace: Trace) -> list[tuple[object, ...]]:
    return [(r.ts, r.device_id, protocol.encode(r.body)) for r in trace.records]


def test_same_seed_gives_the_same_trace() -> None:
    home = standard_home("h001")
    incidents = [IncidentSpec(IncidentKind.FALL, day=1), IncidentSpec(IncidentKind.SMOKE, day=2)]
    first = simulate_days(home, "frail", WINTER, 3, seed=42, incidents=incidents)
    second = simulate_days(home, "frail", WINTER, 3, seed=42, incidents=incidents)
    assert _fingerprint(first) == _fingerprint(second)
    assert first.incidents == second.incidents
    assert [m for _, m in first.messages()] == [m for _, m in second.messages()]


def test_another_seed_gives_another_day() -> None:
    home = standard_home("h001")
    a = simulate_days(home, "active", WINTER, 1, seed=1)
    b = simulate_days(home, "active", WINTER, 1, seed=2)
    assert _fingerprint(a) != _fingerprint(b)


def test_an_incident_does_not_change_earlier_days() -> None:
    home = standard_home("h001")
    plain = simulate_days(home, "active", WINTER, 3, seed=5, view="sensor")
    with_fall = simulate_days(
        home,
        "active",
        WINTER,
        3,
        seed=5,
        view="sensor",
        incidents=[IncidentSpec(IncidentKind.FALL, day=2)],
    )
    cut = datetime.combine(WINTER + timedelta(days=2), time(0), tzinfo=MADRID)
    before = [r for r in plain.records if r.ts < cut and r.device_type != "thermometer"]
    before_fall = [r for r in with_fall.records if r.ts < cut and r.device_type != "thermometer"]
    assert _fingerprint_records(before) == _fingerprint_records(before_fall)


def _fingerprint_records(records: list[object]) -> list[object]:
    return [(r.ts, r.device_id, protocol.encode(r.body)) for r in records]  # type: ignore[attr-defined]


def test_records_are_time_ordered_and_valid_contract_messages() -> None:
    trace = simulate_days(standard_home("h002"), "cognitive_decline", WINTER, 2, seed=3)
    times = [r.ts for r in trace.records]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    now = trace.records[-1].ts
    for topic, message in trace.messages():
        parsed = protocol.parse_device_topic(topic)
        decoded = protocol.decode_for_channel(parsed.channel, protocol.encode(message), now=now)
        assert decoded == message


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("start", [WINTER, SUMMER])
def test_normal_days_keep_the_documented_promises(profile: Profile, start: date) -> None:
    home = standard_home("h010")
    trace = simulate_days(home, profile, start, 14, seed=11, view="sensor")
    counts = Counter(r.event_type for r in trace.records)
    # No alarm-grade event on a normal day.
    for alarm in ("panic", "fall", "smoke", "co", "flood", "temperature", "low_battery"):
        assert counts[alarm] == 0, alarm
    assert counts["check_in"] == 14
    assert trace.incidents == ()
    # Front door closed at night.
    for record in trace.events("door_open"):
        hour = _local(record.ts).hour
        assert 6 <= hour < 23, record
    # Night trips out of bed are short; every day starts with getting up.
    exits = trace.events("bed_exit", "bed_return")
    for exit_, back in itertools.pairwise(exits):
        if exit_.event_type == "bed_exit" and _local(exit_.ts).hour < 6:
            assert back.event_type == "bed_return"
            assert back.ts - exit_.ts <= timedelta(minutes=MAX_NORMAL_NIGHT_OUT_MIN)
    # Check-ins before the profile's deadline, after getting up.
    for record in trace.events("check_in"):
        assert _local(record.ts).time() < time(11, 30)
    temps = [r.body.value for r in trace.telemetry("temperature")]  # type: ignore[union-attr]
    assert min(temps) > LOW_TEMP_C
    assert max(temps) < HIGH_TEMP_C
    batteries = [r.body.value for r in trace.telemetry("battery")]  # type: ignore[union-attr]
    assert min(batteries) >= LOW_BATTERY_PERCENT


def test_routines_are_plausible() -> None:
    home = standard_home("h003")
    trace = simulate_days(home, "active", WINTER, 7, seed=9, view="sensor")
    by_room = Counter(r.room for r in trace.events("motion"))
    assert {"bedroom", "bathroom", "kitchen", "living"} <= set(by_room)
    # Kettle at breakfast, TV in the evening.
    kettle = [r for r in trace.telemetry("power") if r.device_id.endswith("kettle")]
    assert any(r.body.value > 1000 for r in kettle)  # type: ignore[union-attr]
    tv_on = [
        _local(r.ts).hour
        for r in trace.telemetry("power")
        if r.device_id.endswith("tv") and r.body.value > 10  # type: ignore[union-attr]
    ]
    assert any(h >= 21 for h in tv_on)
    # Asleep at 03:00 most nights: nothing moves outside bedroom/bathroom/hall.
    night_rooms = {r.room for r in trace.events("motion") if _local(r.ts).hour == 3}
    assert night_rooms <= {"bathroom", "hall", "kitchen", "bedroom"}
    # The active resident goes out; the frail one far less often.
    frail = simulate_days(home, "frail", WINTER, 7, seed=9, view="sensor")
    assert len(trace.events("door_open")) > len(frail.events("door_open"))


def test_every_incident_kind_is_recorded_as_ground_truth() -> None:
    home = standard_home("h004")
    kinds = list(IncidentKind)
    specs = [IncidentSpec(kind, day=i) for i, kind in enumerate(kinds)]
    trace = simulate_days(home, "frail", WINTER, len(kinds), seed=4, incidents=specs)
    assert sorted(i.kind for i in trace.incidents) == sorted(kinds)
    for incident in trace.incidents:
        assert incident.home_id == "h004"
        assert incident.resident_id == home.resident_id
        assert incident.start <= incident.end
        assert incident.rule
        assert incident.expect_alarm is (incident.kind is not IncidentKind.FALL_CANCELLED)
    by_kind = {i.kind: i for i in trace.incidents}

    def near(types: tuple[str, ...], incident_kind: IncidentKind, slack: float = 120) -> bool:
        start = by_kind[incident_kind].start
        return any(abs((r.ts - start).total_seconds()) <= slack for r in trace.events(*types))

    assert near(("fall",), IncidentKind.FALL, slack=60)
    assert near(("panic",), IncidentKind.PANIC)
    assert near(("smoke",), IncidentKind.SMOKE)
    assert near(("co",), IncidentKind.CO)
    assert near(("flood",), IncidentKind.FLOOD)
    assert near(("door_open",), IncidentKind.NIGHT_WANDERING)
    assert near(("bed_exit",), IncidentKind.NOT_BACK_TO_BED)
    assert near(("temperature",), IncidentKind.TEMPERATURE_HIGH, slack=1)
    assert near(("temperature",), IncidentKind.TEMPERATURE_LOW, slack=1)
    assert near(("low_battery",), IncidentKind.LOW_BATTERY, slack=1)
    # A cancelled fall reaches the hub only as fall_cancelled, never as fall.
    cancelled = by_kind[IncidentKind.FALL_CANCELLED]
    falls = [r for r in trace.events("fall") if abs(r.ts - cancelled.start) < timedelta(hours=1)]
    assert falls == []
    assert near(("fall_cancelled",), IncidentKind.FALL_CANCELLED, slack=30)
    # No movement between the planned waking time and the end of the inactivity.
    quiet = by_kind[IncidentKind.NO_ACTIVITY_AFTER_WAKE]
    assert not [r for r in trace.events("motion", "bed_exit") if quiet.start < r.ts < quiet.end]
    # Missed check-in: that day has no check-in at all.
    missed = by_kind[IncidentKind.MISSED_CHECK_IN]
    day = _local(missed.start).date()
    assert not [r for r in trace.events("check_in") if _local(r.ts).date() == day]
    # Offline sensor: silent during the outage, declared offline by supervision.
    offline = by_kind[IncidentKind.DEVICE_OFFLINE]
    silent = [
        r
        for r in trace.records
        if r.device_id == offline.device_id
        and offline.start <= r.ts < offline.end
        and not isinstance(r.body, protocol.Status)
    ]
    assert silent == []
    statuses = [
        r.body
        for r in trace.records
        if r.device_id == offline.device_id and isinstance(r.body, protocol.Status)
    ]
    assert [s.state for s in statuses] == ["offline", "online"]


def test_not_back_to_bed_and_wandering_leave_the_bed_at_night() -> None:
    home = standard_home("h005")
    specs = [
        IncidentSpec(IncidentKind.NIGHT_WANDERING, day=0, at=time(2, 30)),
        IncidentSpec(IncidentKind.NOT_BACK_TO_BED, day=1, at=time(3, 0)),
    ]
    trace = simulate_days(home, "cognitive_decline", WINTER, 2, seed=1, incidents=specs)
    wandering, not_back = trace.incidents
    assert _local(wandering.start).time().replace(second=0, microsecond=0) == time(2, 30)
    door = [r for r in trace.events("door_open") if _local(r.ts).hour < 6]
    assert door
    assert door[0].ts == wandering.start
    assert _local(not_back.start).time() == time(3, 0)
    returns = [r for r in trace.events("bed_return") if not_back.start <= r.ts < not_back.end]
    assert returns == []


def test_gateway_outage_is_stored_and_forwarded_in_the_hub_view() -> None:
    home = standard_home("h006")
    spec = IncidentSpec(
        IncidentKind.DEVICE_OFFLINE,
        day=0,
        at=time(10),
        duration=timedelta(hours=2),
        device_id="h006-gw",
    )
    trace = simulate_days(home, "active", WINTER, 1, seed=1, incidents=[spec])
    (outage,) = trace.incidents
    held = [r for r in trace.records if r.delivered_at is not None]
    assert held
    assert all(r.delivered_at == outage.end for r in held)
    gateway = [r.body for r in trace.records if r.device_id == "h006-gw"]
    assert any(isinstance(b, protocol.Status) and b.reason == "will" for b in gateway)


def test_bad_requests_are_refused_clearly() -> None:
    home = standard_home("h007")
    with pytest.raises(ValueError, match="past the last day"):
        simulate_days(
            home, "active", WINTER, 1, seed=1, incidents=[IncidentSpec(IncidentKind.FALL, day=1)]
        )
    with pytest.raises(ValueError, match="no device 'nope'"):
        simulate_days(
            home,
            "active",
            WINTER,
            1,
            seed=1,
            incidents=[IncidentSpec(IncidentKind.DEVICE_OFFLINE, device_id="nope")],
        )
    with pytest.raises(ValueError, match="unknown profile"):
        simulate_days(home, "sporty", WINTER, 1, seed=1)
    with pytest.raises(ValueError, match="at least 1"):
        simulate_days(home, "active", WINTER, 0, seed=1)
    with pytest.raises(ValueError, match="no battery"):
        simulate_days(
            home,
            "active",
            WINTER,
            1,
            seed=1,
            incidents=[IncidentSpec(IncidentKind.LOW_BATTERY, device_id="h007-plug-tv")],
        )


def test_plan_incidents_is_reproducible() -> None:
    first = plan_incidents(7, 60, rate_per_day=0.5)
    assert first == plan_incidents(7, 60, rate_per_day=0.5)
    assert 15 < len(first) < 45
    assert len({s.day for s in first}) == len(first)
    with pytest.raises(ValueError, match="between 0 and 1"):
        plan_incidents(7, 10, rate_per_day=2)


def test_a_month_of_a_resident_runs_quickly() -> None:
    # Correctness of a long run (no timing assertion: the machine is shared).
    specs = plan_incidents(3, 30, rate_per_day=0.3)
    trace = simulate_days(standard_home("h008"), "frail", WINTER, 30, seed=3, incidents=specs)
    assert len(trace.incidents) == len(specs)
    assert trace.records[-1].ts < datetime.combine(
        WINTER + timedelta(days=30), time(0), tzinfo=MADRID
    )
