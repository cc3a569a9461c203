"""CAP 1.2 (OASIS Common Alerting Protocol) XML: the second 112 payload format.

One ``<alert>`` with one ``<info>`` (in Spanish, the common language of 112 Catalonia's
operators, plus an English ``<info>``) and an ``<area>`` with the home's circle.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from alerts.alarm import AlarmState
from alerts.emergency.incident import EmergencyIncident, incident_type
from alerts.model import Priority

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_CONTENT_TYPE = "application/cap+xml"

_URGENCY = {Priority.CRITICAL: "Immediate", Priority.HIGH: "Immediate", Priority.MEDIUM: "Expected"}
_SEVERITY = {Priority.CRITICAL: "Extreme", Priority.HIGH: "Severe", Priority.MEDIUM: "Moderate"}


def _cap_time(incident: EmergencyIncident) -> str:
    # CAP wants "2026-01-12T09:00:00+00:00" (no fractional seconds, no "Z").
    return incident.sent_at.replace(microsecond=0).isoformat()


def build_cap(incident: EmergencyIncident) -> ET.Element:
    """The CAP ``<alert>`` element."""
    alarm, person, place, centre = (
        incident.alarm,
        incident.person,
        incident.location,
        incident.centre,
    )
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        if text is not None:
            element.text = text
        return element

    alert = ET.Element(f"{{{CAP_NS}}}alert")
    sub(alert, "identifier", f"{centre.centre_id}-{alarm.id}-{len(alarm.history)}")
    sub(alert, "sender", centre.centre_id)
    sub(alert, "sent", _cap_time(incident))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", "Cancel" if alarm.state is AlarmState.RESOLVED else "Alert")
    sub(alert, "scope", "Private")
    sub(alert, "addresses", "112")
    sub(alert, "incidents", alarm.id)
    _, category, event = incident_type(alarm)
    for language, cap_language in (("es", "es-ES"), ("en", "en-GB")):
        info = sub(alert, "info")
        sub(info, "language", cap_language)
        sub(info, "category", category)
        sub(info, "event", event)
        sub(info, "responseType", "Assess")
        sub(info, "urgency", _URGENCY.get(alarm.priority, "Future"))
        sub(info, "severity", _SEVERITY.get(alarm.priority, "Minor"))
        sub(info, "certainty", "Likely")
        sub(info, "senderName", centre.name)
        sub(info, "headline", alarm.explanation.text(language)[:160])
        age = person.age(incident.sent_at.date())
        description = (
            f"{person.name}"
            + (f", {age}" if age is not None else "")
            + f". {place.address}. {person.medical_notes}".rstrip()
        )
        sub(info, "description", description)
        sub(info, "instruction", place.access_notes or "-")
        sub(info, "contact", centre.callback_phone or centre.name)
        for name, value in (
            ("alarm_id", alarm.id),
            ("priority", str(int(alarm.priority))),
            ("rules", ",".join(str(r) for r in alarm.rules)),
            ("person_language", person.language),
            ("lives_alone", str(person.lives_alone).lower()),
            ("key_safe", str(place.key_safe).lower()),
            ("location_confidence_percent", str(place.confidence_percent)),
        ):
            parameter = sub(info, "parameter")
            sub(parameter, "valueName", name)
            sub(parameter, "value", value)
        area = sub(info, "area")
        sub(area, "areaDesc", ", ".join(p for p in (place.address, place.municipality) if p))
        if place.latitude is not None and place.longitude is not None:
            radius_km = max(place.uncertainty_m, 1.0) / 1000
            sub(area, "circle", f"{place.latitude},{place.longitude} {radius_km:.3f}")
    return alert


def encode_cap(incident: EmergencyIncident) -> bytes:
    """The CAP document as UTF-8 XML bytes."""
    data: bytes = ET.tostring(build_cap(incident), encoding="utf-8", xml_declaration=True)
    return data
