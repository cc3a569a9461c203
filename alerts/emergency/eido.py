"""NENA-STA-021 EIDO (Emergency Incident Data Object) JSON of a 112 hand-off.

The object follows NENA's published schema (``EmergencyIncidentDataObjectType`` of the
NENA911/EIDO-JSON OpenAPI document; the tests validate every payload against it): every data
component carries the common prologue (``$id``, ``lastUpdateTimeStamp``,
``updatedByAgencyReference``) and components refer to each other by ``{"$ref": <$id>}``.

What goes where:

* ``agencyComponent``: the alarm receiving centre (its id is the CAP sender id); its callback
  number in ``agencyJcard``. ``agentComponent``: the operator, when one hands over.
* ``incidentComponent``: the incident tracking id (stable across the alarm's messages), the
  type, status (``Active``/``Closed``), priority, and on close a ``dispositionComponent``
  with the outcome.
* ``locationComponent``: the home as PIDF-LO (civic address, and a circle with its confidence
  when geocoded), access notes in ``locationDescriptionText`` (never the key-safe code).
* ``personComponent``: the resident (NIEM ``ncPersonComponent``: name, birth date, language),
  a callback component with the phone, and a note with what a responder needs.
* ``notesComponent``: the alarm's summary and its history, as HTML5 text.

The ``$id`` of the whole object names this message (unique per alarm state); times are
RFC 3339 in UTC written ``-00:00``, like CAP. Registry text is cleaned of characters that
must not travel (:func:`alerts.emergency.wire.clean_text`).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from alerts.alarm import Alarm, AlarmState
from alerts.emergency.incident import EmergencyIncident, incident_type
from alerts.emergency.wire import cap_time, clean_text
from alerts.i18n import label

EIDO_VERSION = "1.0"

# Values for the registry-backed fields (NENA-STA-021 registries). The agency and agent
# roles and the location and person roles are the values NENA's own sample uses; the
# incident types keep this project's dotted codes (docs/adr/0031).
AGENCY_ROLES = ["CallReceiving"]
AGENCY_TYPES = ["alarm-receiving-centre"]
AGENT_ROLES = ["Call Taking"]
LOCATION_TYPE = "Caller"
PERSON_ROLES = ["Patient"]
_STATUS = {
    AlarmState.RAISED: "Active",
    AlarmState.PRESENTED: "Active",
    AlarmState.ACCEPTED: "Active",
    AlarmState.IN_CONTACT: "Active",
    AlarmState.ESCALATED: "Active",
    AlarmState.RESOLVED: "Closed",
}
# ISO 639-3 codes of the residents' languages (NIEM's language code list).
_ISO_639_3 = {"ca": "cat", "es": "spa", "en": "eng"}

_PIDF = "urn:ietf:params:xml:ns:pidf"
_GP = "urn:ietf:params:xml:ns:pidf:geopriv10"
_CA = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
_GML = "http://www.opengis.net/gml"
_GS = "http://www.opengis.net/pidflo/1.0"
_CON = "urn:ietf:params:xml:ns:geopriv:conf"


def _time(moment: datetime) -> str:
    return cap_time(moment)


def _text(value: str) -> str:
    return clean_text(value)


def _html(value: str) -> str:
    # notesActionComments is HTML5: registry text is escaped, never markup.
    return html.escape(clean_text(value), quote=False)


def _pidf_lo(incident: EmergencyIncident, entity: str) -> str:
    """The home as a PIDF-LO document (RFC 4119/5139, shapes of RFC 5491)."""
    place = incident.location
    ET.register_namespace("", _PIDF)
    ET.register_namespace("gp", _GP)
    ET.register_namespace("ca", _CA)
    ET.register_namespace("gml", _GML)
    ET.register_namespace("gs", _GS)
    ET.register_namespace("con", _CON)
    presence = ET.Element(f"{{{_PIDF}}}presence", {"entity": entity})
    tuple_ = ET.SubElement(presence, f"{{{_PIDF}}}tuple", {"id": "home"})
    status = ET.SubElement(tuple_, f"{{{_PIDF}}}status")
    geopriv = ET.SubElement(status, f"{{{_GP}}}geopriv")
    info = ET.SubElement(geopriv, f"{{{_GP}}}location-info")
    civic = ET.SubElement(info, f"{{{_CA}}}civicAddress")
    for name, value in (
        ("country", place.country),
        ("A1", place.region),
        ("A3", place.municipality),
        ("LOC", place.address),
        ("UNIT", place.floor_and_door),
        ("PC", place.postal_code),
    ):
        if value:
            ET.SubElement(civic, f"{{{_CA}}}{name}").text = _text(value)
    if place.latitude is not None and place.longitude is not None:
        circle = ET.SubElement(info, f"{{{_GS}}}Circle", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
        ET.SubElement(circle, f"{{{_GML}}}pos").text = f"{place.latitude} {place.longitude}"
        radius = ET.SubElement(circle, f"{{{_GS}}}radius", {"uom": "urn:ogc:def:uom:EPSG::9001"})
        radius.text = f"{max(place.uncertainty_m, 1.0):g}"
        confidence = ET.SubElement(info, f"{{{_CON}}}confidence", {"pdf": "normal"})
        confidence.text = str(place.confidence_percent)
    ET.SubElement(geopriv, f"{{{_GP}}}method").text = "Manual"
    data: bytes = ET.tostring(presence, encoding="utf-8", xml_declaration=True)
    return data.decode("utf-8")


def _jcard(name: str, phone: str) -> str:
    """A jCard (RFC 7095) with the name and, when known, the phone number."""
    properties: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", _text(name)]]
    if phone:
        properties.append(["tel", {"type": ["work", "voice"]}, "uri", f"tel:{_text(phone)}"])
    return json.dumps(["vcard", properties], ensure_ascii=False)


def _history_notes(alarm: Alarm) -> list[tuple[str, datetime, str]]:
    notes = []
    for entry in alarm.history:
        detail = "; ".join(f"{k}={v}" for k, v in entry.detail)
        who = entry.actor.name or entry.actor.id
        text = f"{entry.action} ({entry.actor.kind} {who})" + (f": {detail}" if detail else "")
        notes.append((f"history.{entry.seq}", entry.at, text))
    return notes


def build_eido(incident: EmergencyIncident) -> dict[str, Any]:
    """The incident as a NENA EIDO (plain JSON-ready dict)."""
    alarm, person, place, centre = (
        incident.alarm,
        incident.person,
        incident.location,
        incident.centre,
    )
    domain = centre.centre_id
    now = _time(incident.sent_at)
    agency = {"$ref": domain}
    agent_id = f"{_text(centre.operator)}@{domain}" if centre.operator else None

    def component_id(kind: str, key: str) -> str:
        return f"urn:emergency:uid:{kind}:{alarm.id}.{key}:{domain}"

    def prologue(component: str, at: datetime | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {
            "$id": component,
            "lastUpdateTimeStamp": _time(at) if at is not None else now,
            "updatedByAgencyReference": agency,
        }
        if agent_id is not None:
            value["updatedByAgentReference"] = {"$ref": agent_id}
        return value

    eido_type, _, event = incident_type(alarm)
    notes: list[dict[str, Any]] = []

    def note(key: str, text: str, at: datetime | None = None) -> dict[str, str]:
        identifier = component_id("note", key)
        notes.append({**prologue(identifier, at), "notesActionComments": _html(text)})
        return {"$ref": identifier}

    summary = note(
        "summary",
        f"{alarm.explanation.text('es')} / {alarm.explanation.text('en')}. "
        f"Rules: {', '.join(label(r, 'en') for r in alarm.rules)}.",
    )
    location_id = component_id("location", "home")
    location: dict[str, Any] = {
        **prologue(location_id),
        "locationTypeDescriptionRegistryText": LOCATION_TYPE,
        "locationByValue": _pidf_lo(incident, f"pres:{alarm.home_id}@{domain}"),
        "locationDescriptionText": _text(
            "; ".join(
                part
                for part in (
                    place.address,
                    place.floor_and_door,
                    place.access_notes,
                    "key safe on site (code by phone)" if place.key_safe else "",
                )
                if part
            )
        ),
        "localIdentifier": [f"home-{alarm.home_id}"],
    }
    callbacks: list[dict[str, Any]] = []
    person_id = component_id("person", "resident")
    age = person.age(incident.sent_at.date())
    person_note = note(
        "person",
        f"{person.name}"
        + (f", {age} years" if age is not None else "")
        + f"; language {person.language}; "
        + ("lives alone" if person.lives_alone else "does not live alone")
        + (f"; medical notes: {person.medical_notes}" if person.medical_notes else ""),
    )
    nc_person: dict[str, Any] = {"name": [{"personFullName": [{"value": _text(person.name)}]}]}
    if person.birth_date is not None:
        nc_person["birthDate"] = [{"date": [{"value": person.birth_date.isoformat()}]}]
    if person.language in _ISO_639_3:
        nc_person["primaryLanguage"] = [
            {"languageCode": [{"simpleType": _ISO_639_3[person.language]}]}
        ]
    resident: dict[str, Any] = {
        **prologue(person_id),
        "personIncidentRoleRegistryText": PERSON_ROLES,
        "ncPersonComponent": nc_person,
        "locationReference": [{"$ref": location_id}],
        "notesReference": [person_note],
    }
    if person.phone:
        callback_id = component_id("callback", "resident")
        callbacks.append(
            {**prologue(callback_id), "callBackInformationUri": [f"tel:{_text(person.phone)}"]}
        )
        resident["callBackReference"] = {"$ref": callback_id}
    history_refs = [note(key, text, at) for key, at, text in _history_notes(alarm)]
    incident_component: dict[str, Any] = {
        **prologue(f"urn:emergency:uid:incidentid:{alarm.id}:{domain}"),
        "incidentTypeCommonRegistryText": eido_type,
        "incidentTypeInternalCode": str(alarm.rule),
        "incidentTypeInternalText": event,
        "incidentStatusCommonRegistryText": [_STATUS[alarm.state]],
        "incidentStatusInternalText": [str(alarm.state)],
        "internalIncidentId": alarm.id,
        "incidentPriorityInternalText": f"{int(alarm.priority)} ({label(alarm.rule, 'en')})",
        "locationReference": [{"$ref": location_id}],
        "personReference": [{"$ref": person_id}],
        "notesReference": [summary, *history_refs],
    }
    if agent_id is not None:
        incident_component["agentReference"] = [{"$ref": agent_id}]
    if alarm.outcome is not None:
        incident_component["dispositionComponent"] = [
            {
                **prologue(component_id("disposition", "outcome")),
                "dispositionCommonRegistryCode": str(alarm.outcome),
                "dispositionPrimaryIndicator": True,
                "dispositionDescriptionText": label(alarm.outcome, "en"),
            }
        ]
    agency_component: dict[str, Any] = {
        "$id": domain,
        "lastUpdateTimeStamp": now,
        "updatedByAgencyReference": agency,
        "agencyRoleDescriptionRegistryText": AGENCY_ROLES,
        "agencyType": AGENCY_TYPES,
        "agencyJcard": _jcard(centre.name, centre.callback_phone),
        "incidentOwningAgencyIndicator": True,
    }
    eido: dict[str, Any] = {
        "$id": f"urn:emergency:uid:eido:{incident.message.identifier}:{domain}",
        "lastUpdateTimeStamp": now,
        "updatedByAgencyReference": agency,
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": f"teleassist-hub.{domain}",
        "incidentComponent": incident_component,
        "agencyComponent": [agency_component],
        "locationComponent": [location],
        "personComponent": [resident],
        "notesComponent": notes,
    }
    if agent_id is not None:
        eido["updatedByAgentReference"] = {"$ref": agent_id}
        eido["agentComponent"] = [
            {
                "$id": agent_id,
                "lastUpdateTimeStamp": now,
                "updatedByAgencyReference": agency,
                "agentRoleRegistryText": AGENT_ROLES,
                "agencyReference": agency,
            }
        ]
    if callbacks:
        eido["callbackComponent"] = callbacks
    return eido


def encode_eido(incident: EmergencyIncident) -> bytes:
    """The payload as UTF-8 JSON bytes."""
    return json.dumps(build_eido(incident), ensure_ascii=False, sort_keys=True).encode()
