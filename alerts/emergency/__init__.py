"""The 112 hand-off: EIDO-style JSON and CAP 1.2 payloads, and the gateway port."""

from alerts.emergency.cap import CAP_CONTENT_TYPE, CAP_NS, build_cap, encode_cap
from alerts.emergency.eido import EIDO_VERSION, build_eido, encode_eido, schema
from alerts.emergency.gateway import (
    EmergencyGateway,
    EmergencyGatewaySettings,
    HandoffResult,
    HttpEmergencyGateway,
    PayloadFormat,
    render_payload,
)
from alerts.emergency.incident import Centre, EmergencyIncident, Location, Person, incident_type

__all__ = [
    "CAP_CONTENT_TYPE",
    "CAP_NS",
    "EIDO_VERSION",
    "Centre",
    "EmergencyGateway",
    "EmergencyGatewaySettings",
    "EmergencyIncident",
    "HandoffResult",
    "HttpEmergencyGateway",
    "Location",
    "PayloadFormat",
    "Person",
    "build_cap",
    "build_eido",
    "encode_cap",
    "encode_eido",
    "incident_type",
    "render_payload",
    "schema",
]
