"""Care levels and versioned care plans.

The care level set at the assessment drives the plan's defaults: which devices to
install, the daily check-in deadline, how often a wellbeing call is scheduled and how
fast an unanswered alarm escalates. The plan can then be edited; every edit is a new
version, earlier versions are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

from hub.service.codes import CARE_LEVELS, DEVICE_KINDS, CareLevel, DeviceKind
from hub.service.errors import InvalidCarePlan


@dataclass(frozen=True)
class CareDefaults:
    """What a care level implies before anyone edits the plan."""

    devices: tuple[DeviceKind, ...]
    check_in_deadline: time  # local time (Europe/Madrid) by which the daily check-in is due
    wellbeing_call_every_days: int
    escalate_to_contact_after_min: int  # unanswered alarm → call the first contact
    escalate_to_112_after_min: int  # still unresolved → hand over to 112
    review_every_days: int  # at least yearly


_BASE: tuple[DeviceKind, ...] = ("gateway", "pendant", "tablet")
_MEDIUM: tuple[DeviceKind, ...] = (
    *_BASE,
    "fall_detector",
    "door_sensor",
    "motion_sensor",
    "smoke_detector",
)
_HIGH: tuple[DeviceKind, ...] = (
    *_MEDIUM,
    "bed_sensor",
    "co_detector",
    "flood_sensor",
    "temperature_sensor",
)

CARE_DEFAULTS: dict[CareLevel, CareDefaults] = {
    "basic": CareDefaults(_BASE, time(12, 0), 30, 15, 30, 365),
    "medium": CareDefaults(_MEDIUM, time(11, 0), 14, 10, 20, 365),
    "high": CareDefaults(_HIGH, time(10, 0), 7, 5, 10, 180),
}
MAX_REVIEW_DAYS = 365


def care_defaults(level: str) -> CareDefaults:
    """The defaults of a care level; :class:`InvalidCarePlan` for an unknown level."""
    if level not in CARE_LEVELS:
        raise InvalidCarePlan(f"unknown care level {level!r}; one of {', '.join(CARE_LEVELS)}")
    return CARE_DEFAULTS[level]


@dataclass(frozen=True)
class CarePlan:
    """One version of a resident's care plan."""

    version: int
    care_level: CareLevel
    devices: tuple[DeviceKind, ...]
    check_in_deadline: time
    wellbeing_call_every_days: int
    escalate_to_contact_after_min: int
    escalate_to_112_after_min: int
    review_every_days: int
    notes: str
    created_at: datetime
    created_by: str
    # The alarm rules people changed (hub.service.rules); the rest are the level's defaults.
    rules: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = plan_problems(self)
        if problems:
            raise InvalidCarePlan("; ".join(problems))


def plan_problems(plan: CarePlan) -> list[str]:
    """What is wrong with a plan (empty when it is valid)."""
    problems: list[str] = []
    if plan.version < 1:
        problems.append("version starts at 1")
    if plan.care_level not in CARE_LEVELS:
        problems.append(f"unknown care level {plan.care_level!r}")
    unknown = [d for d in plan.devices if d not in DEVICE_KINDS]
    if unknown:
        problems.append(f"unknown devices: {', '.join(map(str, unknown))}")
    # Without a gateway nothing reaches the hub, without a pendant there is no help button;
    # a certified carephone is both (its pendant reports through it over DC-09).
    if "carephone" not in plan.devices:
        for needed in ("gateway", "pendant"):
            if needed not in plan.devices:
                problems.append(f"a plan needs a {needed} (or a carephone)")
    if len(set(plan.devices)) != len(plan.devices):
        problems.append("a device kind is listed twice")
    if not 1 <= plan.wellbeing_call_every_days <= 90:
        problems.append("wellbeing calls every 1 to 90 days")
    if not 1 <= plan.escalate_to_contact_after_min <= 120:
        problems.append("escalation to a contact after 1 to 120 minutes")
    if not plan.escalate_to_contact_after_min <= plan.escalate_to_112_after_min <= 240:
        problems.append("escalation to 112 after the contact escalation and within 240 minutes")
    if not 30 <= plan.review_every_days <= MAX_REVIEW_DAYS:
        problems.append(f"reviews every 30 to {MAX_REVIEW_DAYS} days (at least yearly)")
    if len(plan.notes) > 4000:
        problems.append("notes are at most 4000 characters")
    if plan.created_at.tzinfo is None:
        problems.append("created_at must be timezone-aware")
    return problems


def initial_plan(level: str, at: datetime, by: str, notes: str = "") -> CarePlan:
    """Version 1 of a plan: the care level's defaults."""
    d = care_defaults(level)
    return CarePlan(
        version=1,
        care_level=level,  # type: ignore[arg-type]  # checked by care_defaults
        devices=d.devices,
        check_in_deadline=d.check_in_deadline,
        wellbeing_call_every_days=d.wellbeing_call_every_days,
        escalate_to_contact_after_min=d.escalate_to_contact_after_min,
        escalate_to_112_after_min=d.escalate_to_112_after_min,
        review_every_days=d.review_every_days,
        notes=notes,
        created_at=at,
        created_by=by,
    )


_EDITABLE = frozenset(
    {
        "devices",
        "check_in_deadline",
        "wellbeing_call_every_days",
        "escalate_to_contact_after_min",
        "escalate_to_112_after_min",
        "review_every_days",
        "notes",
        "rules",
    }
)


def revise_plan(plan: CarePlan, at: datetime, by: str, **changes: object) -> CarePlan:
    """A new version of ``plan`` with ``changes``; the old version stays as it was."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise InvalidCarePlan(f"not editable: {', '.join(sorted(unknown))}")
    if "devices" in changes:
        changes["devices"] = tuple(changes["devices"])  # type: ignore[arg-type]
    return replace(plan, version=plan.version + 1, created_at=at, created_by=by, **changes)  # type: ignore[arg-type]


def plan_for_level(plan: CarePlan, level: str, at: datetime, by: str) -> CarePlan:
    """A new version for a changed care level: the new level's defaults, notes kept.

    Devices already in the plan that the new level does not list are kept too: taking a
    device away is an explicit edit, not a side effect of a level change. So are the
    alarm rules people set, except the check-in deadlines, which the level sets.
    """
    d = care_defaults(level)
    devices = (*d.devices, *(x for x in plan.devices if x not in d.devices))
    return replace(
        plan,
        version=plan.version + 1,
        care_level=level,  # type: ignore[arg-type]  # checked by care_defaults
        devices=devices,
        check_in_deadline=d.check_in_deadline,
        wellbeing_call_every_days=d.wellbeing_call_every_days,
        escalate_to_contact_after_min=d.escalate_to_contact_after_min,
        escalate_to_112_after_min=d.escalate_to_112_after_min,
        review_every_days=d.review_every_days,
        rules={k: v for k, v in plan.rules.items() if k != "check_in_deadlines"},
        created_at=at,
        created_by=by,
    )


def review_interval(plan: CarePlan) -> timedelta:
    """How long after the last review (or activation) the next one is due."""
    return timedelta(days=min(plan.review_every_days, MAX_REVIEW_DAYS))
