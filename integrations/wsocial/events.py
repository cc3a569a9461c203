"""What the platform tells the social record: small, validated input values.

Callers (the hub's service lifecycle, alarm handling, the weekly signal job) build one of
these and put it in the outbox in the same transaction as the change that caused it. Each
is a frozen msgspec Struct so the outbox can store it as JSON and read it back exactly;
``kind`` is the tag. Rules that FHIR itself does not enforce (an ended service needs a
discharge reason, an alarm closes after it was raised, ...) are checked here, so a bad
event is refused when it is written, not when the endpoint rejects it hours later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import Meta, Struct

from protocol.i18n import Language

Key = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
AwareDatetime = Annotated[datetime, Meta(tz=True)]
Count = Annotated[int, Meta(ge=0, le=100_000)]

ServiceStatus = Literal["active", "suspended", "ended"]
SuspensionReason = Literal["hospital_stay", "holiday_with_family"]
DischargeReason = Literal["moved_to_care_home", "deceased", "withdrew", "no_longer_eligible"]
CareLevel = Literal["basic", "medium", "high"]
AlarmKind = Literal[
    "panic",
    "fall",
    "smoke",
    "co",
    "flood",
    "temperature",
    "inactivity",
    "missed_check_in",
    "technical",
    "other",
]
AlarmOutcomeCode = Literal[
    "false_alarm",
    "resolved_by_phone",
    "contact_visit",
    "mobile_unit",
    "emergency_services",
    "hospital_transfer",
    "no_contact",
]
DeviceKind = Literal["gateway", "pendant", "fall_detector", "sensor", "tablet"]
RiskKind = Literal[
    "lives_alone",
    "at_risk_for_falls",
    "social_isolation",
    "activity_decline",
    "night_restlessness",
    "missed_check_ins",
    "frequent_alarms",
    "social_contact_decline",
]
SsmDomain = Literal[
    "social_network",
    "daily_activities",
    "physical_health",
    "mental_health",
    "housing",
    "community_participation",
]

# Wire event types of the protocol that raise an alarm, grouped into the kinds the social
# record distinguishes (the social worker does not need "low battery" vs "tamper").
_ALARM_KIND_BY_EVENT: dict[str, AlarmKind] = {
    "panic": "panic",
    "prompt_answer": "panic",
    "fall": "fall",
    "smoke": "smoke",
    "co": "co",
    "flood": "flood",
    "temperature": "temperature",
    "bed_exit": "inactivity",
    "door_open": "other",
    "medication_missed": "other",
    "tamper": "technical",
    "power_lost": "technical",
    "low_battery": "technical",
    "device_fault": "technical",
    "gas": "other",
}


def alarm_kind_for_event(event_type: str) -> AlarmKind:
    """The social-record alarm kind of a protocol event type (``other`` when unknown)."""
    return _ALARM_KIND_BY_EVENT.get(event_type, "other")


class SocialEvent(Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base: whom it is about and when it happened (UTC, timezone-aware)."""

    resident_id: Key
    occurred_at: AwareDatetime


class ServiceEvent(SocialEvent, frozen=True, tag="service"):
    """The teleassistance service row changed: started, suspended, resumed or ended.

    Carries the whole current row (start, end, status, reason), so that delivering the
    latest event alone leaves the record right.
    """

    service_id: Key
    status: ServiceStatus
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    suspension_reason: SuspensionReason | None = None
    resume_on: date | None = None
    discharge_reason: DischargeReason | None = None
    care_level: CareLevel | None = None

    def __post_init__(self) -> None:
        if self.status == "ended":
            if self.discharge_reason is None or self.ended_at is None:
                raise ValueError("an ended service needs ended_at and a discharge_reason")
            if self.ended_at < self.started_at:
                raise ValueError("ended_at is before started_at")
        elif self.discharge_reason is not None or self.ended_at is not None:
            raise ValueError(f"a {self.status} service has no ended_at or discharge_reason")
        if self.status == "suspended":
            if self.suspension_reason is None:
                raise ValueError("a suspended service needs a suspension_reason")
        elif self.suspension_reason is not None or self.resume_on is not None:
            raise ValueError(f"a {self.status} service has no suspension_reason or resume_on")


class AlarmHandled(SocialEvent, frozen=True, tag="alarm"):
    """An alarm was handled by the operators and closed with an outcome."""

    alarm_id: Key
    alarm_kind: AlarmKind
    raised_at: AwareDatetime
    answered_at: AwareDatetime | None
    closed_at: AwareDatetime
    outcome: AlarmOutcomeCode
    # When the centre first spoke with the resident (tablet speech or a phone call that
    # reached them); None: no voice contact was made.
    voice_contact_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        if self.closed_at < self.raised_at:
            raise ValueError("closed_at is before raised_at")
        if self.answered_at is not None and not (
            self.raised_at <= self.answered_at <= self.closed_at
        ):
            raise ValueError("answered_at must lie between raised_at and closed_at")
        if self.voice_contact_at is not None and not (
            self.raised_at <= self.voice_contact_at <= self.closed_at
        ):
            raise ValueError("voice_contact_at must lie between raised_at and closed_at")


class Escalation112(SocialEvent, frozen=True, tag="escalation_112"):
    """An alarm was passed to the 112 emergency centre."""

    alarm_id: Key
    alarm_kind: AlarmKind
    escalated_at: AwareDatetime
    incident_ref: Annotated[str, Meta(max_length=64)] | None = None


class MissedCheckIns(SocialEvent, frozen=True, tag="missed_check_ins"):
    """Several daily check-ins in a row were not made."""

    window_start: AwareDatetime
    window_end: AwareDatetime
    missed: Annotated[int, Meta(ge=2, le=1000)]
    expected: Annotated[int, Meta(ge=1, le=1000)]

    def __post_init__(self) -> None:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if self.missed > self.expected:
            raise ValueError("missed cannot exceed expected")


class CheckInSummary(SocialEvent, frozen=True, tag="check_in_summary"):
    """How regularly the resident checked in during one week (Monday to Sunday)."""

    week_start: date
    expected: Annotated[int, Meta(ge=1, le=1000)]
    done: Count

    def __post_init__(self) -> None:
        if self.week_start.weekday() != 0:
            raise ValueError("week_start must be a Monday")
        if self.done > self.expected:
            raise ValueError("done cannot exceed expected")


class ActivitySummary(SocialEvent, frozen=True, tag="activity_summary"):
    """Activity at home during one week, from the home's sensors."""

    week_start: date
    active_hours_per_day: Annotated[float, Meta(ge=0.0, le=24.0)]
    night_events_per_night: Annotated[float, Meta(ge=0.0, le=1000.0)]
    alarms: Count

    def __post_init__(self) -> None:
        if self.week_start.weekday() != 0:
            raise ValueError("week_start must be a Monday")


class RiskSignal(SocialEvent, frozen=True, tag="risk_signal"):
    """A weekly signal of a possible need, explained in words, with its SSM-Cat domains."""

    week_start: date
    risk: RiskKind
    score: Annotated[float, Meta(ge=0.0, le=1.0)]
    raised: bool
    domains: tuple[SsmDomain, ...]
    explanation: dict[Language, str]

    def __post_init__(self) -> None:
        if self.week_start.weekday() != 0:
            raise ValueError("week_start must be a Monday")
        if not self.domains:
            raise ValueError("a signal informs at least one SSM-Cat domain")
        if set(self.explanation) != {"ca", "es", "en"}:
            raise ValueError("explanation needs ca, es and en")


class RiskFlag(SocialEvent, frozen=True, tag="risk_flag"):
    """A standing risk was set or cleared (one Flag per resident and risk)."""

    risk: RiskKind
    active: bool
    since: AwareDatetime
    until: AwareDatetime | None = None

    def __post_init__(self) -> None:
        if self.active and self.until is not None:
            raise ValueError("an active flag has no until")
        if not self.active and self.until is None:
            raise ValueError("a cleared flag needs until")
        if self.until is not None and self.until < self.since:
            raise ValueError("until is before since")


class DeviceEvent(SocialEvent, frozen=True, tag="device"):
    """A device was installed in, or removed from, the resident's home."""

    device_id: Key
    device_kind: DeviceKind
    installed_at: AwareDatetime
    removed_at: AwareDatetime | None = None

    def __post_init__(self) -> None:
        if self.removed_at is not None and self.removed_at < self.installed_at:
            raise ValueError("removed_at is before installed_at")


AnySocialEvent: TypeAlias = (
    ServiceEvent
    | AlarmHandled
    | Escalation112
    | MissedCheckIns
    | CheckInSummary
    | ActivitySummary
    | RiskSignal
    | RiskFlag
    | DeviceEvent
)

EVENT_KINDS: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag) for cls in AnySocialEvent.__args__
)

_DECODER = msgspec.json.Decoder(AnySocialEvent)
_ENCODER = msgspec.json.Encoder()


class EventDecodeError(ValueError):
    """Stored or received bytes are not a valid social event."""


def event_kind(event: SocialEvent) -> str:
    """The ``kind`` tag of an event."""
    return str(type(event).__struct_config__.tag)


def encode_event(event: AnySocialEvent) -> bytes:
    """JSON bytes of an event, as the outbox stores it."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | str) -> AnySocialEvent:
    """Read an event back; raise :class:`EventDecodeError` with the reason."""
    try:
        event: AnySocialEvent = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise EventDecodeError(str(err)) from err
    return event
