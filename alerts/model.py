"""Values the alerts core works on: the input event, rule kinds, priorities, detections.

Everything here is a frozen value; the hub builds a :class:`HomeEvent` from each decoded
device message (it knows device → home → resident from its registry) and the rules
answer with :class:`Detection` values and :class:`PromptRequest` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from alerts.errors import AlertsValueError
from alerts.i18n import Explanation
from protocol import EventBody, Status, Telemetry

Body = EventBody | Telemetry | Status


class DeviceType(StrEnum):
    """What kind of device sent an event; the hub's registry knows it."""

    GATEWAY = "gateway"
    PENDANT = "pendant"
    FALL_DETECTOR = "fall_detector"
    MOTION = "motion"
    DOOR = "door"
    BED = "bed"
    SMOKE = "smoke"
    CO = "co"
    GAS = "gas"
    FLOOD = "flood"
    TEMPERATURE = "temperature"
    PLUG = "plug"
    TABLET = "tablet"
    DISPENSER = "dispenser"
    # Names used by firmware_sim and the device agent.
    CONTACT = "contact"
    WATER_LEAK = "water_leak"
    THERMOMETER = "thermometer"
    OTHER = "other"

    @classmethod
    def of(cls, value: str) -> DeviceType:
        """The member named ``value``; OTHER for a type we do not know (never an error)."""
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


class Priority(IntEnum):
    """Queue order: a LOWER number is MORE urgent (1 is handled first)."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4
    TECHNICAL = 5


class Category(StrEnum):
    """Care alarms go to the operators' queue; technical ones to maintenance."""

    CARE = "care"
    TECHNICAL = "technical"


class RuleKind(StrEnum):
    """Every rule that can raise an alarm."""

    PANIC = "panic"
    FALL = "fall"
    SMOKE = "smoke"
    CO = "co"
    GAS = "gas"
    FLOOD = "flood"
    INACTIVITY = "inactivity"
    PROMPT_HELP = "prompt_help"
    MISSED_CHECK_IN = "missed_check_in"
    NIGHT_DOOR = "night_door"
    BED_NOT_RETURNED = "bed_not_returned"
    TEMPERATURE = "temperature"
    BASELINE = "baseline"
    MEDICATION = "medication"
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    POWER_LOST = "power_lost"
    DEVICE_FAULT = "device_fault"
    # Certified units (carephones, alarm panels) reporting over DC-09.
    MEDICAL = "medical"
    FIRE = "fire"
    UNIT_EVENT = "unit_event"  # a unit's event code we do not know: shown raw


RULE_PRIORITY: dict[RuleKind, Priority] = {
    RuleKind.PANIC: Priority.CRITICAL,
    RuleKind.FALL: Priority.CRITICAL,
    RuleKind.SMOKE: Priority.CRITICAL,
    RuleKind.CO: Priority.CRITICAL,
    RuleKind.GAS: Priority.CRITICAL,
    RuleKind.FLOOD: Priority.CRITICAL,
    RuleKind.PROMPT_HELP: Priority.CRITICAL,
    RuleKind.INACTIVITY: Priority.HIGH,
    RuleKind.NIGHT_DOOR: Priority.HIGH,
    RuleKind.BED_NOT_RETURNED: Priority.HIGH,
    RuleKind.MISSED_CHECK_IN: Priority.MEDIUM,
    RuleKind.TEMPERATURE: Priority.MEDIUM,
    RuleKind.BASELINE: Priority.LOW,
    RuleKind.MEDICATION: Priority.LOW,
    RuleKind.DEVICE_OFFLINE: Priority.TECHNICAL,
    RuleKind.LOW_BATTERY: Priority.TECHNICAL,
    RuleKind.TAMPER: Priority.TECHNICAL,
    RuleKind.POWER_LOST: Priority.TECHNICAL,
    RuleKind.DEVICE_FAULT: Priority.TECHNICAL,
    RuleKind.MEDICAL: Priority.CRITICAL,
    RuleKind.FIRE: Priority.CRITICAL,
    RuleKind.UNIT_EVENT: Priority.TECHNICAL,
}

TECHNICAL_RULES = frozenset(
    {
        RuleKind.DEVICE_OFFLINE,
        RuleKind.LOW_BATTERY,
        RuleKind.TAMPER,
        RuleKind.POWER_LOST,
        RuleKind.DEVICE_FAULT,
        RuleKind.UNIT_EVENT,
    }
)
# Fire-type alarms escalate to 112 by themselves if nobody reaches the resident in time
# (a gas leak is as much a fire and explosion risk as smoke or CO is a poisoning one).
FIRE_TYPE_RULES = frozenset({RuleKind.SMOKE, RuleKind.CO, RuleKind.GAS, RuleKind.FIRE})
# Critical incidents of the detection benchmark: each one must be detected.
CRITICAL_RULES = frozenset(r for r, p in RULE_PRIORITY.items() if p == Priority.CRITICAL)


def category_of(rule: RuleKind) -> Category:
    """Care or technical."""
    return Category.TECHNICAL if rule in TECHNICAL_RULES else Category.CARE


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise AlertsValueError(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class HomeEvent:
    """One decoded device message, placed in its home (the rules' input).

    ``at`` is when it happened (the hub chooses: device time checked by the codec's
    clock policy); ``body`` is the contract's event, telemetry or status body.
    """

    home_id: str
    resident_id: str
    device_id: str
    device_type: DeviceType
    message_id: str
    at: datetime
    body: Body

    def __post_init__(self) -> None:
        _require_aware("HomeEvent.at", self.at)
        for name in ("home_id", "resident_id", "device_id", "message_id"):
            if not getattr(self, name):
                raise AlertsValueError(f"HomeEvent.{name} must not be empty")


@dataclass(frozen=True, slots=True)
class Detection:
    """A rule's finding: the hub raises an alarm or attaches it to the open one."""

    rule: RuleKind
    home_id: str
    resident_id: str
    at: datetime
    explanation: Explanation
    event_ids: tuple[str, ...] = ()
    device_id: str | None = None
    # A resident's cancel (fall_cancelled) or a cleared sensor closes what it raised.
    cancels: bool = False
    # A unit's restore: noted on the open alarm of this rule, never raises one.
    restores: bool = False
    priority: Priority = field(init=False)

    def __post_init__(self) -> None:
        _require_aware("Detection.at", self.at)
        object.__setattr__(self, "priority", RULE_PRIORITY[self.rule])

    @property
    def category(self) -> Category:
        """Care or technical."""
        return category_of(self.rule)


@dataclass(frozen=True, slots=True)
class MissedDose:
    """A dose not confirmed within its grace, for the family rather than (or besides) the
    centre (the plan's ``MedicationSettings.missed_to``; ADR 0152)."""

    home_id: str
    resident_id: str
    schedule: str  # the dose's key, "insulin 08:00"
    due: datetime
    at: datetime
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class PromptRequest:
    """Ask the resident on the tablet before raising an alarm (``protocol.Prompt``)."""

    home_id: str
    resident_id: str
    prompt_id: str
    kind: str  # "inactivity" | "medication" | "wellbeing", as in protocol.Prompt
    sent_at: datetime
    expires: datetime
    explanation: Explanation
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class PromptWithdrawal:
    """Take a medication reminder off the tablet: its dose was confirmed elsewhere (the
    home's pill dispenser; ``protocol.PromptWithdrawn``, docs/adr/0174)."""

    home_id: str
    resident_id: str
    prompt_id: str  # the reminder's, as :class:`PromptRequest` sent it
    schedule: str  # the dose's name
    due: datetime  # when the reminder was sent (the dose's due time)
