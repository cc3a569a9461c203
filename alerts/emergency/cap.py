"""CAP 1.2 (OASIS Common Alerting Protocol) XML: the second 112 payload format.

One ``<alert>`` with two ``<info>`` blocks (Spanish, the common language of 112 Catalonia's
operators, and English) and an ``<area>`` with the home's circle. The alarm's messages form a
thread (:mod:`alerts.emergency.thread`): the first is an ``Alert``; a later hand-off is an
``Update`` and the close a ``Cancel`` (or an all-clear ``Update``), each naming what 112 already
received in ``<references>``. Text from the registry is cleaned of characters XML cannot carry
and times are written as CAP requires (:mod:`alerts.emergency.wire`).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from alerts.emergency.incident import EmergencyIncident, incident_type
from alerts.emergency.thread import is_all_clear
from alerts.emergency.wire import cap_time, clean_text
from alerts.i18n import label
from alerts.model import Priority

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_CONTENT_TYPE = "application/cap+xml"

_URGENCY = {Priority.CRITICAL: "Immediate", Priority.HIGH: "Immediate", Priority.MEDIUM: "Expected"}
_SEVERITY = {Priority.CRITICAL: "Extreme", Priority.HIGH: "Severe", Priority.MEDIUM: "Moderate"}


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
            element.text = clean_text(text)
        return element

    message, previous, msg_type = incident.message, incident.previous, incident.message_type
    closing = not alarm.is_open and bool(previous)
    all_clear = is_all_clear(alarm, previous)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    sub(alert, "identifier", message.identifier)
    sub(alert, "sender", message.sender)
    sub(alert, "sent", cap_time(message.sent))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", msg_type)
    sub(alert, "scope", "Private")
    sub(alert, "addresses", "112")
    if closing and alarm.outcome is not None:
        sub(alert, "note", f"Closed by the alarm centre: {label(alarm.outcome, 'en')}")
    if previous:
        sub(alert, "references", " ".join(m.reference() for m in previous))
    sub(alert, "incidents", alarm.id)
    _, category, event = incident_type(alarm)
    for language, cap_language in (("es", "es-ES"), ("en", "en-GB")):
        info = sub(alert, "info")
        sub(info, "language", cap_language)
        sub(info, "category", category)
        sub(info, "event", event)
        if closing:
            sub(info, "responseType", "AllClear" if all_clear else "None")
            sub(info, "urgency", "Past")
        else:
            sub(info, "responseType", "Assess")
            sub(info, "urgency", _URGENCY.get(alarm.priority, "Future"))
        sub(info, "severity", _SEVERITY.get(alarm.priority, "Minor"))
        sub(info, "certainty", "Observed" if closing else "Likely")
        sub(info, "senderName", centre.name)
        headline = alarm.explanation.text(language)
        if closing and alarm.outcome is not None:
            headline = f"{label(alarm.outcome, language)}: {headline}"
        sub(info, "headline", clean_text(headline)[:160])
        age = person.age(incident.sent_at.date())
        description = (
            f"{person.name}"
            + (f", {age}" if age is not None else "")
            + f". {place.address}. {person.medical_notes}".rstrip()
        )
        sub(info, "description", description)
        sub(info, "instruction", place.access_notes or "-")
        sub(info, "contact", centre.callback_phone or centre.name)
        parameters = [
            ("alarm_id", alarm.id),
            ("priority", str(int(alarm.priority))),
            ("rules", ",".join(str(r) for r in alarm.rules)),
            ("person_language", person.language),
            ("lives_alone", str(person.lives_alone).lower()),
            ("key_safe", str(place.key_safe).lower()),
            ("location_confidence_percent", str(place.confidence_percent)),
        ]
        if alarm.outcome is not None:
            parameters.append(("outcome", str(alarm.outcome)))
        for name, value in parameters:
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
