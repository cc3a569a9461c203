"""Event-driven rules: what each device event means for the resident."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from alerts.careplan import CarePlan
from alerts.i18n import Explanation
from alerts.model import HomeEvent, MissedDose, RuleKind
from alerts.rules.common import Findings, at_local, hhmm, local, register_activity
from alerts.state import DeviceHealth, ResidentState, RoomTemperature
from protocol import (
    BedExit,
    BedReturn,
    CarbonMonoxide,
    CheckIn,
    DeviceFault,
    DoorClose,
    DoorOpen,
    EventBody,
    Fall,
    FallCancelled,
    Flood,
    Gas,
    LowBattery,
    MedicationMissed,
    MedicationTaken,
    Motion,
    Panic,
    PowerLost,
    PromptAnswer,
    Smoke,
    Status,
    Tamper,
    Telemetry,
    Temperature,
    UnitEvent,
)

# Doors whose opening at night means the resident may be leaving the home.
EXIT_DOORS = frozenset({"front", "main", "entrance", "back", "garden"})

Handler = Callable[[CarePlan, ResidentState, HomeEvent, datetime, Findings], ResidentState]


def apply(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    """Apply one event at ``at`` (its time, not before the state's cursor)."""
    body = event.body
    if isinstance(body, Status):
        return _status(plan, state, event, at, out)
    if isinstance(body, Telemetry):
        if body.kind == "temperature":
            return _room_temperature(plan, state, body.room or event.device_id, body.value, at)
        return state
    handler = _HANDLERS.get(type(body))
    return handler(plan, state, event, at, out) if handler else state


def _room(body: EventBody | Telemetry | Status, event: HomeEvent) -> str:
    room = getattr(body, "room", None)
    return room if isinstance(room, str) and room else event.device_id


def _detect(rule: RuleKind, key: str, activity: bool = False, **fixed: str) -> Handler:
    """A rule that raises at once: ``key`` names its explanation."""

    def handler(
        plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
    ) -> ResidentState:
        params: dict[str, object] = {"time": hhmm(plan, at), "room": _room(event.body, event)}
        params["device"] = event.device_id
        params.update(fixed)
        body = event.body
        if isinstance(body, Panic):
            params["source"] = body.source
        if isinstance(body, LowBattery) and body.percent is not None:
            params["percent"] = body.percent
        if isinstance(body, DeviceFault):
            params["detail"] = body.detail or "?"
        explanation = Explanation.of(key, **_only(key, params))
        out.detect(
            state, rule, at, explanation, event_ids=(event.message_id,), device_id=event.device_id
        )
        return register_activity(plan, state, at) if activity else state

    return handler


# Only the parameters a template uses are kept, so stored explanations stay small.
_PARAMS = {
    "panic": ("source", "time"),
    "fall": ("room", "time"),
    "smoke": ("room", "time"),
    "co": ("room", "time"),
    "gas": ("room", "time"),
    "flood": ("room", "time"),
    "low_battery": ("device", "percent"),
    "low_battery_flag": ("device",),
    "device_fault_trouble": ("device", "time"),
    "device_fault_battery_defect": ("device", "time"),
    "device_fault_unknown_action": ("device", "detail", "time"),
    "device_fault_flooding": ("device", "time"),
    "tamper": ("device", "time"),
    "power_lost": ("device", "time"),
    "medication_missed": ("schedule", "time"),
}


def _only(key: str, params: dict[str, object]) -> dict[str, object]:
    return {k: params[k] for k in _PARAMS[key]}


def _hazard(rule: RuleKind, key: str) -> Handler:
    raise_now = _detect(rule, key)

    def handler(
        plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
    ) -> ResidentState:
        body = event.body
        if isinstance(body, Smoke | CarbonMonoxide | Gas | Flood) and body.cleared:
            return state  # the operator verifies; a cleared sensor closes nothing by itself
        return raise_now(plan, state, event, at, out)

    return handler


def _activity(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    return register_activity(plan, state, at)


def _fall_cancelled(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    explanation = Explanation.of("fall_cancelled", time=hhmm(plan, at))
    out.detect(
        state,
        RuleKind.FALL,
        at,
        explanation,
        event_ids=(event.message_id,),
        device_id=event.device_id,
        cancels=True,
    )
    return register_activity(plan, state, at)


def _check_in(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    state = register_activity(plan, state, at)
    return replace(state, last_check_in_at=at)


def _in_night(plan: CarePlan, at: datetime) -> bool:
    return plan.night.window.contains(local(plan, at).time().replace(tzinfo=None))


def _door_open(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    door = body.door if isinstance(body, DoorOpen) else "front"
    if plan.night.door_alarm and door in EXIT_DOORS and _in_night(plan, at):
        explanation = Explanation.of("night_door", door=door, time=hhmm(plan, at))
        out.detect(
            state,
            RuleKind.NIGHT_DOOR,
            at,
            explanation,
            event_ids=(event.message_id,),
            device_id=event.device_id,
        )
    return register_activity(plan, state, at)


def _bed_exit(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    state = replace(register_activity(plan, state, at), in_bed_since=None)
    if _in_night(plan, at) and state.bed_out_since is None:
        return replace(state, bed_out_since=at, bed_alarmed=False)
    return state


def _bed_return(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    state = register_activity(plan, state, at)
    return replace(state, bed_out_since=None, bed_alarmed=False, in_bed_since=at)


def _temperature_event(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, Temperature)
    return _room_temperature(plan, state, _room(body, event), body.celsius, at)


def _room_temperature(
    plan: CarePlan, state: ResidentState, room_name: str, celsius: float, at: datetime
) -> ResidentState:
    settings = plan.temperature
    room = state.room(room_name) or RoomTemperature(room_name, celsius)
    out_of_range = celsius < settings.low or celsius > settings.high
    if not out_of_range:
        return state.with_room(RoomTemperature(room_name, celsius))
    since = room.out_since or at
    return state.with_room(replace(room, celsius=celsius, out_since=since))


def _medication_taken(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, MedicationTaken)
    # The tablet names the dose; a pill dispenser may name only its time, or nothing
    # (CarePlan.medication.confirmed_by says which doses it confirms then).
    names = {name for name, _ in plan.medication.confirmed_by(body.schedule, local(plan, at))}
    taken = tuple((n, t) for n, t in state.medication_taken if n not in names)
    state = replace(state, medication_taken=(*taken, *((n, at) for n in sorted(names))))
    return register_activity(plan, state, at)


def _medication_missed(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    """A pill dispenser says a dose was not taken: like a dose whose grace ended, it goes
    where the plan says (the centre, the family, both) — unless the resident already
    confirmed it (on the tablet or the box). A dose the plan does not know goes to the centre.
    """
    body = event.body
    assert isinstance(body, MedicationMissed)
    settings = plan.medication
    due_at = {s.name: s.due for s in settings.schedules}
    doses = settings.confirmed_by(body.schedule, local(plan, at))
    missed: list[tuple[str, datetime]] = []
    unknown = not doses
    for name, day in doses:
        if name not in due_at:
            unknown = True
            continue
        due = at_local(plan, day, due_at[name])
        taken = state.taken_at(name)
        if taken is None or taken < due - settings.early:
            missed.append((name, due))
    if not missed and not unknown:
        return state
    names = ", ".join(sorted({n for n, _ in missed})) or body.schedule or "?"
    explanation = Explanation.of("medication_missed", schedule=names, time=hhmm(plan, at))
    if unknown or settings.missed_to != "family":
        out.detect(
            state,
            RuleKind.MEDICATION,
            at,
            explanation,
            event_ids=(event.message_id,),
            device_id=event.device_id,
        )
    if settings.missed_to != "centre":
        out.missed_doses.extend(
            MissedDose(state.home_id, state.resident_id, name, due, at, explanation)
            for name, due in missed
        )
    return state


def _prompt_answer(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, PromptAnswer)
    if body.answer == "help":
        # Whether or not we still wait for this prompt, a call for help is never ignored.
        explanation = Explanation.of("prompt_help", time=hhmm(plan, at))
        out.detect(
            state,
            RuleKind.PROMPT_HELP,
            at,
            explanation,
            event_ids=(event.message_id,),
            device_id=event.device_id,
        )
    return register_activity(plan, state, at)


def _low_battery(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    if not plan.technical.low_battery:
        return state
    body = event.body
    # A device that only flags "low" has no trustworthy level to show.
    key = "low_battery_flag" if isinstance(body, LowBattery) and body.percent is None else None
    return _detect(RuleKind.LOW_BATTERY, key or "low_battery")(plan, state, event, at, out)


def _device_fault(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, DeviceFault)
    return _detect(RuleKind.DEVICE_FAULT, f"device_fault_{body.fault}")(plan, state, event, at, out)


def _status(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, Status)
    device = state.device(event.device_id)
    if body.state == "offline":
        if device.offline_since is None:
            supervised = body.reason == "supervision"
            return state.with_device(
                DeviceHealth(event.device_id, offline_since=at, supervised=supervised)
            )
        return state
    if device.offline_since is None:
        return state
    return state.with_device(DeviceHealth(event.device_id))


# What a certified unit's event raises ("test" raises nothing: the unit is alive).
UNIT_RULES: dict[str, RuleKind] = {
    "panic": RuleKind.PANIC,
    "medical": RuleKind.MEDICAL,
    "fall": RuleKind.FALL,
    "fail_to_report": RuleKind.MISSED_CHECK_IN,
    "fire": RuleKind.FIRE,
    "heat": RuleKind.FIRE,
    "smoke": RuleKind.SMOKE,
    "co": RuleKind.CO,
    "gas": RuleKind.GAS,
    "water_leak": RuleKind.FLOOD,
    "temperature_high": RuleKind.TEMPERATURE,
    "temperature_low": RuleKind.TEMPERATURE,
    "power_lost": RuleKind.POWER_LOST,
    "low_battery": RuleKind.LOW_BATTERY,
    "rf_low_battery": RuleKind.LOW_BATTERY,
    "tamper": RuleKind.TAMPER,
    "rf_supervision": RuleKind.DEVICE_OFFLINE,
    "unknown": RuleKind.UNIT_EVENT,
}
_PROTOCOL_NAMES = {"dc09": "DC-09", "scaip": "SCAIP"}
_SOMEONE_THERE = frozenset({"panic", "medical"})


def _unit_event(
    plan: CarePlan, state: ResidentState, event: HomeEvent, at: datetime, out: Findings
) -> ResidentState:
    body = event.body
    assert isinstance(body, UnitEvent)
    rule = UNIT_RULES.get(body.kind)
    if rule is None or (rule is RuleKind.LOW_BATTERY and not plan.technical.low_battery):
        return state
    params: dict[str, object] = {
        "protocol": _PROTOCOL_NAMES.get(body.protocol, body.protocol),
        "code": body.code,
        "zone": body.zone or "-",
        "time": hhmm(plan, at),
        # The unit's own words, for the operator's detail (the unknown template shows them).
        "raw": body.raw[:80],
    }
    key = "unit_restored" if body.restore else f"unit_{body.kind}"
    out.detect(
        state,
        rule,
        at,
        Explanation.of(key, **params),
        event_ids=(event.message_id,),
        device_id=event.device_id,
        restores=body.restore,
    )
    if body.kind in _SOMEONE_THERE and not body.restore:
        return register_activity(plan, state, at)
    return state


# The event types that always say the resident is up and about: their rules restart the
# inactivity timers (register_activity). The family's "last seen active at home" counts the
# same ones (hub/family/today.py), so a dose confirmed on the tablet at 08:05 is activity on
# both. A carephone's unit event is left out: only some of its kinds are someone at home.
ACTIVITY_EVENT_TYPES = frozenset(
    {
        "panic",
        "fall_cancelled",
        "check_in",
        "door_open",
        "door_close",
        "motion",
        "bed_exit",
        "bed_return",
        "medication_taken",
        "prompt_answer",
    }
)

_HANDLERS: dict[type[EventBody], Handler] = {
    Panic: _detect(RuleKind.PANIC, "panic", activity=True),
    Fall: _detect(RuleKind.FALL, "fall"),
    FallCancelled: _fall_cancelled,
    Smoke: _hazard(RuleKind.SMOKE, "smoke"),
    CarbonMonoxide: _hazard(RuleKind.CO, "co"),
    Gas: _hazard(RuleKind.GAS, "gas"),
    Flood: _hazard(RuleKind.FLOOD, "flood"),
    CheckIn: _check_in,
    DoorOpen: _door_open,
    DoorClose: _activity,
    Motion: _activity,
    BedExit: _bed_exit,
    BedReturn: _bed_return,
    Temperature: _temperature_event,
    LowBattery: _low_battery,
    Tamper: _detect(RuleKind.TAMPER, "tamper"),
    PowerLost: _detect(RuleKind.POWER_LOST, "power_lost"),
    DeviceFault: _device_fault,
    MedicationTaken: _medication_taken,
    MedicationMissed: _medication_missed,
    PromptAnswer: _prompt_answer,
    UnitEvent: _unit_event,
}
