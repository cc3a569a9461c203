"""Social events → validated FHIR R4 resources (pure functions, no I/O).

Resources are built with ``fhir.resources.R4B`` (see docs/adr/0060): the resource types
used here have the same shape in R4 (4.0.1) and R4B (4.3.0). Every resource gets a
*business identifier* derived from the event (``identifier.system|value``) and an ``id``
derived from it (UUID v5), so building the same event twice gives the same resource and a
retried delivery updates instead of duplicating (conditional update on the identifier).

References to the resident use a logical reference by identifier: the social record knows
the person by the identifier system configured for the region; we never send names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import quote

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from integrations.wsocial.events import (
    ActivitySummary,
    AlarmHandled,
    AnySocialEvent,
    CheckInSummary,
    DeviceEvent,
    Escalation112,
    MissedCheckIns,
    RiskFlag,
    RiskSignal,
    ServiceEvent,
)
from integrations.wsocial.vocabulary import Concept, concept
from protocol.i18n import LANGUAGES

BASE = "http://teleassist.example.org/fhir"
RESIDENT_SYSTEM = f"{BASE}/NamingSystem/resident"
DEVICE_SYSTEM = f"{BASE}/NamingSystem/device"
EMERGENCY_CENTRE_SYSTEM = f"{BASE}/NamingSystem/emergency-centre"
EXT_STATUS_REASON = "http://hl7.org/fhir/StructureDefinition/request-statusReason"
EXT_ALARM_OUTCOME = f"{BASE}/StructureDefinition/alarm-outcome"
EXT_ALARM_ANSWERED = f"{BASE}/StructureDefinition/alarm-answered-at"
# When the centre first spoke with the resident; absent: no voice contact was made.
EXT_ALARM_VOICE = f"{BASE}/StructureDefinition/alarm-voice-contact-at"
EXT_RESUME_ON = f"{BASE}/StructureDefinition/service-resume-on"
EXT_CARE_LEVEL = f"{BASE}/StructureDefinition/care-level"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
COMM_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SSM_SYSTEM = f"{BASE}/CodeSystem/ssm-cat-domain"

_ID_NAMESPACE = uuid.UUID("6f1c3c1e-5b7a-4c55-9a51-7e0c1f3b2a90")


class MappingError(ValueError):
    """An event could not become a valid FHIR resource (a bug or a bad event)."""


@dataclass(frozen=True)
class MappedResource:
    """A validated resource and the identifier that makes its delivery idempotent."""

    resource_type: str
    identifier_system: str
    identifier_value: str
    resource: Resource
    # The JSON that was validated into ``resource``: what we send (no second serialisation).
    data: dict[str, Any]

    @property
    def id(self) -> str:
        """The stable logical id (UUID v5 of the business identifier)."""
        return str(self.resource.id)

    @property
    def conditional_url(self) -> str:
        """``Type?identifier=system|value`` for a conditional update."""
        token = quote(f"{self.identifier_system}|{self.identifier_value}", safe="")
        return f"{self.resource_type}?identifier={token}"

    def as_json(self) -> dict[str, Any]:
        """The resource as FHIR JSON (the validated dict; treat it as read-only)."""
        return self.data


def stable_id(resource_type: str, system: str, value: str) -> str:
    """The logical id a business identifier always maps to."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{resource_type}|{system}|{value}"))


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MappingError("naive datetime; the system stores UTC, timezone-aware")
    return moment.astimezone(UTC).isoformat()


def _week_period(week_start: date) -> dict[str, str]:
    start = datetime.combine(week_start, time(0), tzinfo=UTC)
    return {"start": _iso(start), "end": _iso(start + timedelta(days=7))}


def _cc(*concepts: Concept, language: str = "en") -> dict[str, Any]:
    first = concepts[0]
    text = first.display.get(language, first.display["en"])  # type: ignore[call-overload]
    return {"coding": [c.coding() for c in concepts], "text": text}


def _patient(resident_id: str) -> dict[str, Any]:
    return {"type": "Patient", "identifier": {"system": RESIDENT_SYSTEM, "value": resident_id}}


def _build(resource_type: str, kind: str, key: str, body: dict[str, Any]) -> MappedResource:
    system = f"{BASE}/NamingSystem/{kind}"
    data = {
        "resourceType": resource_type,
        "id": stable_id(resource_type, system, key),
        "identifier": [{"system": system, "value": key}],
        **body,
    }
    model = get_fhir_model_class(resource_type)
    try:
        resource = cast(Resource, model.model_validate(data))
    except ValueError as err:  # pydantic.ValidationError is a ValueError
        raise MappingError(f"{resource_type} for {kind} {key}: {err}") from err
    return MappedResource(resource_type, system, key, resource, data)


# ---------------------------------------------------------------- service

_SERVICE_STATUS = {"active": "active", "suspended": "on-hold", "ended": "completed"}
_SUSPENSION_CONCEPT = {
    "hospital_stay": "hospital_admission",
    "holiday_with_family": "suspension_holiday",
}
_DISCHARGE_CONCEPT = {
    "moved_to_care_home": "discharge_care_home",
    "deceased": "dead",
    "withdrew": "discharge_withdrew",
    "no_longer_eligible": "discharge_not_eligible",
}


def service_request(event: ServiceEvent) -> MappedResource:
    """The service row (product, start, end, status, reason) as a ``ServiceRequest``."""
    extensions: list[dict[str, Any]] = []
    reason_key = None
    if event.suspension_reason is not None:
        reason_key = _SUSPENSION_CONCEPT[event.suspension_reason]
    elif event.discharge_reason is not None:
        reason_key = _DISCHARGE_CONCEPT[event.discharge_reason]
    if reason_key is not None:
        extensions.append(
            {"url": EXT_STATUS_REASON, "valueCodeableConcept": _cc(concept(reason_key))}
        )
    if event.resume_on is not None:
        extensions.append({"url": EXT_RESUME_ON, "valueDate": event.resume_on.isoformat()})
    if event.care_level is not None:
        extensions.append({"url": EXT_CARE_LEVEL, "valueCode": event.care_level})
    period: dict[str, str] = {"start": _iso(event.started_at)}
    if event.ended_at is not None:
        period["end"] = _iso(event.ended_at)
    body: dict[str, Any] = {
        "status": _SERVICE_STATUS[event.status],
        "intent": "order",
        "code": _cc(concept("telehealth_monitoring")),
        "subject": _patient(event.resident_id),
        "occurrencePeriod": period,
        "authoredOn": _iso(event.started_at),
    }
    if extensions:
        body["extension"] = extensions
    return _build("ServiceRequest", "service", event.service_id, body)


# ---------------------------------------------------------------- alarms


def _alarm_type(kind: str) -> dict[str, Any]:
    concepts = [concept(f"alarm_{kind}")]
    if kind == "fall":
        concepts.append(concept("fall"))  # the SNOMED CT event, for systems that code it
    return _cc(*concepts)


def alarm_encounter(event: AlarmHandled) -> MappedResource:
    """An alarm handled by the centre as an ``Encounter`` (virtual), with its outcome."""
    extensions: list[dict[str, Any]] = [
        {
            "url": EXT_ALARM_OUTCOME,
            "valueCodeableConcept": _cc(concept(f"outcome_{event.outcome}")),
        }
    ]
    if event.answered_at is not None:
        extensions.append({"url": EXT_ALARM_ANSWERED, "valueDateTime": _iso(event.answered_at)})
    if event.voice_contact_at is not None:
        extensions.append({"url": EXT_ALARM_VOICE, "valueDateTime": _iso(event.voice_contact_at)})
    body: dict[str, Any] = {
        "extension": extensions,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [_alarm_type(event.alarm_kind)],
        "serviceType": _cc(concept("telehealth_monitoring")),
        "subject": _patient(event.resident_id),
        "period": {"start": _iso(event.raised_at), "end": _iso(event.closed_at)},
        "reasonCode": [_alarm_type(event.alarm_kind)],
    }
    return _build("Encounter", "alarm", event.alarm_id, body)


def escalation_communication(event: Escalation112) -> MappedResource:
    """An escalation to 112 as a ``Communication`` about the alarm's encounter."""
    alarm_system = f"{BASE}/NamingSystem/alarm"
    body: dict[str, Any] = {
        "status": "completed",
        "category": [{"coding": [{"system": COMM_CATEGORY, "code": "alert"}]}],
        "priority": "stat",
        "subject": _patient(event.resident_id),
        "encounter": {
            "type": "Encounter",
            "identifier": {"system": alarm_system, "value": event.alarm_id},
        },
        "sent": _iso(event.escalated_at),
        "recipient": [
            {
                "type": "Organization",
                "identifier": {"system": EMERGENCY_CENTRE_SYSTEM, "value": "112"},
                "display": "112",
            }
        ],
        "reasonCode": [_cc(concept("escalation_112")), _alarm_type(event.alarm_kind)],
    }
    if event.incident_ref is not None:
        body["payload"] = [{"contentString": f"112 incident {event.incident_ref}"}]
    return _build("Communication", "escalation-112", event.alarm_id, body)


# ---------------------------------------------------------------- observations


def _observation(
    kind: str, key: str, code: Concept, subject: str, category: str, body: dict[str, Any]
) -> MappedResource:
    full = {
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": _cc(code),
        "subject": _patient(subject),
        **body,
    }
    return _build("Observation", kind, key, full)


def missed_check_ins_observation(event: MissedCheckIns) -> MappedResource:
    """Repeated missed check-ins as an ``Observation`` (count in a window)."""
    key = f"{event.resident_id}.{event.window_start:%Y%m%dT%H%M}"
    return _observation(
        "missed-check-ins",
        key,
        concept("missed_check_ins"),
        event.resident_id,
        "activity",
        {
            "effectivePeriod": {"start": _iso(event.window_start), "end": _iso(event.window_end)},
            "valueInteger": event.missed,
            "component": [{"code": {"text": "expected check-ins"}, "valueInteger": event.expected}],
        },
    )


def check_in_observation(event: CheckInSummary) -> MappedResource:
    """A week's check-in regularity (percentage of expected check-ins made)."""
    share = round(100.0 * event.done / event.expected, 1)
    return _observation(
        "check-in-summary",
        f"{event.resident_id}.{event.week_start:%Y-%m-%d}",
        concept("check_in_regularity"),
        event.resident_id,
        "activity",
        {
            "effectivePeriod": _week_period(event.week_start),
            "valueQuantity": {
                "value": share,
                "unit": "%",
                "system": "http://unitsofmeasure.org",
                "code": "%",
            },
            "component": [
                {"code": {"text": "check-ins made"}, "valueInteger": event.done},
                {"code": {"text": "check-ins expected"}, "valueInteger": event.expected},
            ],
        },
    )


def activity_observation(event: ActivitySummary) -> MappedResource:
    """A week's activity at home (active hours a day, night events, alarms)."""
    return _observation(
        "activity-summary",
        f"{event.resident_id}.{event.week_start:%Y-%m-%d}",
        concept("activity_summary"),
        event.resident_id,
        "activity",
        {
            "effectivePeriod": _week_period(event.week_start),
            "component": [
                {
                    "code": {"text": "active hours per day"},
                    "valueQuantity": {
                        "value": round(event.active_hours_per_day, 2),
                        "unit": "h/d",
                        "system": "http://unitsofmeasure.org",
                        "code": "h/d",
                    },
                },
                {
                    "code": {"text": "night events per night"},
                    "valueQuantity": {
                        "value": round(event.night_events_per_night, 2),
                        "unit": "/d",
                        "system": "http://unitsofmeasure.org",
                        "code": "/d",
                    },
                },
                {"code": {"text": "alarms"}, "valueInteger": event.alarms},
            ],
        },
    )


_RISK_CONCEPT = {
    "lives_alone": "lives_alone",
    "at_risk_for_falls": "at_risk_for_falls",
    "social_isolation": "social_isolation",
    "activity_decline": "activity_decline",
    "night_restlessness": "night_restlessness",
    "missed_check_ins": "missed_check_ins",
    "frequent_alarms": "frequent_alarms",
    "social_contact_decline": "social_contact_decline",
}


def risk_observation(event: RiskSignal, language: str = "ca") -> MappedResource:
    """A weekly risk signal: score, raised or not, SSM-Cat domains and the explanation."""
    categories: list[dict[str, Any]] = [
        {"coding": [{"system": OBS_CATEGORY, "code": "social-history"}]}
    ]
    categories.extend(
        {"coding": [{"system": SSM_SYSTEM, "code": domain.replace("_", "-")}]}
        for domain in event.domains
    )
    notes = [{"text": f"[{lang}] {event.explanation[lang]}"} for lang in LANGUAGES]
    body: dict[str, Any] = {
        "status": "final",
        "category": categories,
        "code": _cc(concept(_RISK_CONCEPT[event.risk]), language=language),
        "subject": _patient(event.resident_id),
        "effectivePeriod": _week_period(event.week_start),
        "valueBoolean": event.raised,
        "component": [{"code": {"text": "score"}, "valueQuantity": {"value": event.score}}],
        "note": notes,
    }
    key = f"{event.resident_id}.{event.risk}.{event.week_start:%Y-%m-%d}"
    return _build("Observation", "risk-signal", key, body)


def risk_flag(event: RiskFlag) -> MappedResource:
    """A standing risk as a ``Flag`` (one per resident and risk; cleared → inactive)."""
    period: dict[str, str] = {"start": _iso(event.since)}
    if event.until is not None:
        period["end"] = _iso(event.until)
    body: dict[str, Any] = {
        "status": "active" if event.active else "inactive",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "safety"}]}],
        "code": _cc(concept(_RISK_CONCEPT[event.risk])),
        "subject": _patient(event.resident_id),
        "period": period,
    }
    return _build("Flag", "risk-flag", f"{event.resident_id}.{event.risk}", body)


# ---------------------------------------------------------------- devices

_DEVICE_CONCEPT = {
    "gateway": "device_hub",
    "pendant": "device_pendant",
    "fall_detector": "device_fall_detector",
    "sensor": "device_sensor",
    "tablet": "device_tablet",
}


def device_use(event: DeviceEvent) -> MappedResource:
    """A device installed (active) or removed (completed) as a ``DeviceUseStatement``."""
    period: dict[str, str] = {"start": _iso(event.installed_at)}
    if event.removed_at is not None:
        period["end"] = _iso(event.removed_at)
    body: dict[str, Any] = {
        "status": "completed" if event.removed_at is not None else "active",
        "subject": _patient(event.resident_id),
        "timingPeriod": period,
        "recordedOn": _iso(event.occurred_at),
        "device": {
            "type": "Device",
            "identifier": {"system": DEVICE_SYSTEM, "value": event.device_id},
            "display": concept(_DEVICE_CONCEPT[event.device_kind]).display["en"],
        },
        "reasonCode": [_cc(concept("telehealth_monitoring"))],
    }
    key = f"{event.resident_id}.{event.device_id}.{event.installed_at:%Y%m%dT%H%M%S}"
    return _build("DeviceUseStatement", "device-use", key, body)


# ---------------------------------------------------------------- dispatch


def to_resources(event: AnySocialEvent) -> list[MappedResource]:
    """The FHIR resources one event becomes (one today; a list keeps room to grow)."""
    match event:
        case ServiceEvent():
            return [service_request(event)]
        case AlarmHandled():
            return [alarm_encounter(event)]
        case Escalation112():
            return [escalation_communication(event)]
        case MissedCheckIns():
            return [missed_check_ins_observation(event)]
        case CheckInSummary():
            return [check_in_observation(event)]
        case ActivitySummary():
            return [activity_observation(event)]
        case RiskSignal():
            return [risk_observation(event)]
        case RiskFlag():
            return [risk_flag(event)]
        case DeviceEvent():
            return [device_use(event)]
    raise MappingError(f"no mapping for {type(event).__name__}")  # pragma: no cover


def transaction_bundle(resources: list[MappedResource]) -> dict[str, Any]:
    """A ``transaction`` Bundle of conditional updates (PUT ``Type?identifier=…``)."""
    data: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{item.id}",
                "resource": item.as_json(),
                "request": {"method": "PUT", "url": item.conditional_url},
            }
            for item in resources
        ],
    }
    if not resources:
        raise MappingError("a transaction bundle needs at least one resource")
    # Every resource was validated when it was mapped; validating the Bundle again would
    # re-parse them all (three times the cost of the mapping itself). The test suite
    # validates whole Bundles.
    return data
