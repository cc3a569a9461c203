"""What the 112 hand-off needs to know: the alarm, the person, the place, the centre."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from alerts.alarm import Alarm
from alerts.emergency.thread import MsgType, delivered_messages, message_type
from alerts.emergency.wire import SentMessage, check_identifier
from alerts.errors import AlertsValueError
from alerts.escalation import pending_112
from alerts.model import RULE_PRIORITY, RuleKind


@dataclass(frozen=True, slots=True)
class Location:
    """Where the resident lives; ``confidence_percent`` of the coordinates (geocoding)."""

    address: str
    municipality: str = ""
    postal_code: str = ""
    region: str = "Catalunya"
    country: str = "ES"
    latitude: float | None = None
    longitude: float | None = None
    uncertainty_m: float = 50.0
    confidence_percent: int = 95
    floor_and_door: str = ""
    # How responders get in (key holder, key safe exists); never the key-safe code itself:
    # the operator gives it by phone to the responding unit.
    access_notes: str = ""
    key_safe: bool = False

    def __post_init__(self) -> None:
        if not self.address.strip():
            raise AlertsValueError("a 112 hand-off needs the address")
        if (self.latitude is None) != (self.longitude is None):
            raise AlertsValueError("give both latitude and longitude, or neither")
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise AlertsValueError(f"latitude {self.latitude} is out of range")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise AlertsValueError(f"longitude {self.longitude} is out of range")
        if not 0 <= self.confidence_percent <= 100:
            raise AlertsValueError("confidence_percent must be 0–100")


@dataclass(frozen=True, slots=True)
class Person:
    """The resident data a responder needs (minimum necessary, no full record)."""

    name: str
    language: str = "ca"
    birth_date: date | None = None
    phone: str = ""
    lives_alone: bool = True
    medical_notes: str = ""

    def age(self, today: date) -> int | None:
        """Age in whole years on ``today``."""
        if self.birth_date is None:
            return None
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class Centre:
    """The sending alarm receiving centre (who 112 calls back)."""

    centre_id: str = "teleassist"
    name: str = "Teleassist"
    callback_phone: str = ""
    operator: str = ""

    def __post_init__(self) -> None:
        # 112 quotes it back in every reference: refused, never rewritten.
        check_identifier(self.centre_id, "centre id")


@dataclass(frozen=True, slots=True)
class EmergencyIncident:
    """Everything a 112 payload is built from."""

    alarm: Alarm
    person: Person
    location: Location
    centre: Centre
    sent_at: datetime

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None:
            raise AlertsValueError("sent_at must be timezone-aware")
        check_identifier(self.alarm.id, "alarm id")

    @property
    def message(self) -> SentMessage:
        """This message's identity: sender, identifier (unique per alarm state) and time.

        An automatic hand-off in progress keeps the identity its first attempt had (the
        history entry that opened it), so a retry is the same incident to 112.
        """
        first = pending_112(self.alarm) if self.alarm.is_open else None
        if first is not None:
            identifier = f"{self.centre.centre_id}.{self.alarm.id}.{first.seq}"
            return SentMessage(self.centre.centre_id, identifier, first.at)
        identifier = f"{self.centre.centre_id}.{self.alarm.id}.{len(self.alarm.history)}"
        return SentMessage(self.centre.centre_id, identifier, self.sent_at)

    @property
    def previous(self) -> tuple[SentMessage, ...]:
        """The earlier messages of this alarm that 112 received."""
        return delivered_messages(self.alarm)

    @property
    def message_type(self) -> MsgType:
        """Alert, Update or Cancel (see :mod:`alerts.emergency.thread`)."""
        return message_type(self.alarm, self.previous)


# EIDO-style common-registry incident types and the CAP category/event for each rule.
INCIDENT_TYPES: dict[RuleKind, tuple[str, str, str]] = {
    RuleKind.PANIC: ("Medical.Assistance", "Health", "Help request from a person at home"),
    RuleKind.FALL: ("Medical.Fall", "Health", "Fall of a person living at home"),
    RuleKind.PROMPT_HELP: ("Medical.Assistance", "Health", "Help request from a person at home"),
    RuleKind.SMOKE: ("Fire.Residential", "Fire", "Smoke detected in a home"),
    RuleKind.CO: ("Hazmat.CarbonMonoxide", "Env", "Carbon monoxide detected in a home"),
    RuleKind.GAS: ("Hazmat.GasLeak", "Fire", "Combustible gas detected in a home"),
    RuleKind.FLOOD: ("Rescue.Flood", "Safety", "Water leak in a home"),
    RuleKind.INACTIVITY: ("Welfare.Check", "Health", "No sign of activity of a person at home"),
    RuleKind.NIGHT_DOOR: (
        "Welfare.MissingPerson",
        "Rescue",
        "Person may have left home at night",
    ),
    RuleKind.BED_NOT_RETURNED: ("Welfare.Check", "Health", "Person up at night, not back"),
    RuleKind.TEMPERATURE: ("Welfare.Check", "Health", "Dangerous room temperature"),
}
DEFAULT_TYPE = ("Welfare.Check", "Health", "Teleassistance alarm")


def incident_type(alarm: Alarm) -> tuple[str, str, str]:
    """(EIDO type, CAP category, CAP event) of the most urgent rule of the alarm."""
    # The most urgent rule; among equals, the one that raised the alarm.
    for rule in sorted(alarm.rules, key=lambda r: (RULE_PRIORITY[r], r != alarm.rule, r.value)):
        if rule in INCIDENT_TYPES:
            return INCIDENT_TYPES[rule]
    return DEFAULT_TYPE
