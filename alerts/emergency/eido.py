"""An EIDO-style JSON incident (after NENA's Emergency Incident Data Object).

The components follow EIDO's shape — incident, location, person, agency, notes — with
the names a receiving centre expects; ``alerts/emergency/eido-incident.schema.json`` is the
contract this hub publishes, and the tests' receiving centre validates every payload
against it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from alerts.alarm import Alarm, AlarmState
from alerts.emergency.incident import EmergencyIncident, incident_type
from alerts.i18n import label

EIDO_VERSION = "teleassist-eido-1.0"
SCHEMA_FILE = "eido-incident.schema.json"

_STATUS = {
    AlarmState.RAISED: "Active",
    AlarmState.PRESENTED: "Active",
    AlarmState.ACCEPTED: "Active",
    AlarmState.IN_CONTACT: "Active",
    AlarmState.ESCALATED: "Active.Dispatching",
    AlarmState.RESOLVED: "Closed",
}


def schema() -> dict[str, Any]:
    """The published JSON Schema of the payload."""
    text = resources.files("alerts.emergency").joinpath(SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def _notes(alarm: Alarm) -> list[dict[str, Any]]:
    notes = []
    for entry in alarm.history:
        detail = "; ".join(f"{k}={v}" for k, v in entry.detail)
        notes.append(
            {
                "noteIdentifier": f"{alarm.id}-{entry.seq}",
                "noteDateTimeStamp": _iso(entry.at),
                "noteAuthor": f"{entry.actor.kind}:{entry.actor.id}",
                "noteActionCode": str(entry.action),
                "noteText": detail or str(entry.action),
            }
        )
    return notes


def build_eido(incident: EmergencyIncident) -> dict[str, Any]:
    """The incident as an EIDO-style JSON object (plain dict)."""
    alarm, person, place, centre = (
        incident.alarm,
        incident.person,
        incident.location,
        incident.centre,
    )
    eido_type, _, _ = incident_type(alarm)
    location: dict[str, Any] = {
        "locationReference": f"loc-{alarm.home_id}",
        "civicAddress": {
            "country": place.country,
            "A1": place.region,
            "A3": place.municipality,
            "PC": place.postal_code,
            "addressText": place.address,
            "LOC": place.floor_and_door,
        },
        "locationConfidencePercent": place.confidence_percent,
        "accessNotes": place.access_notes,
        "keySafePresent": place.key_safe,
    }
    if place.latitude is not None and place.longitude is not None:
        location["geo"] = {
            "type": "Circle",
            "latitude": place.latitude,
            "longitude": place.longitude,
            "uncertaintyRadiusMeters": place.uncertainty_m,
        }
    age = person.age(incident.sent_at.date())
    return {
        "eidoMessageIdentifier": f"urn:emergency:uid:eido:{alarm.id}:{len(alarm.history)}",
        "eidoVersion": EIDO_VERSION,
        "lastUpdateTimeStamp": _iso(incident.sent_at),
        "sendingSystemIdentifier": centre.centre_id,
        "incidentComponent": {
            "incidentTrackingIdentifier": (
                f"urn:emergency:uid:incidentid:{alarm.id}:{centre.centre_id}"
            ),
            "incidentTypeCommonRegistryText": eido_type,
            "incidentStatusCommonRegistryText": _STATUS[alarm.state],
            "incidentPriority": int(alarm.priority),
            "incidentCreationTimestamp": _iso(alarm.raised_at),
            "incidentSummaryText": alarm.explanation.text("en"),
            "incidentSummaryTextLocal": alarm.explanation.text("es"),
            "triggeringRules": [str(r) for r in alarm.rules],
            "triggeringRulesText": [label(r, "en") for r in alarm.rules],
            "locationReference": location["locationReference"],
        },
        "locationComponent": [location],
        "personComponent": [
            {
                "personReference": f"person-{alarm.resident_id}",
                "personRole": "Patient",
                "personName": person.name,
                "personAge": age,
                "personLanguage": person.language,
                "personPhone": person.phone,
                "personLivesAlone": person.lives_alone,
                "personMedicalNotes": person.medical_notes,
            }
        ],
        "agencyComponent": {
            "agencyIdentifier": centre.centre_id,
            "agencyName": centre.name,
            "agencyCallbackPhone": centre.callback_phone,
            "agencyOperator": centre.operator,
        },
        "notesComponent": _notes(alarm),
    }


def encode_eido(incident: EmergencyIncident) -> bytes:
    """The payload as UTF-8 JSON bytes."""
    return json.dumps(build_eido(incident), ensure_ascii=False, sort_keys=True).encode()
