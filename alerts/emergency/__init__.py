"""The 112 hand-off: NENA EIDO JSON and CAP 1.2 payloads, their thread, and the gateway port."""

from alerts.emergency.cap import CAP_CONTENT_TYPE, CAP_NS, build_cap, encode_cap
from alerts.emergency.eido import EIDO_VERSION, build_eido, encode_eido
from alerts.emergency.gateway import (
    EmergencyGateway,
    EmergencyGatewaySettings,
    HandoffResult,
    HttpEmergencyGateway,
    PayloadFormat,
    render_payload,
)
from alerts.emergency.incident import Centre, EmergencyIncident, Location, Person, incident_type
from alerts.emergency.thread import (
    CANCELLING_OUTCOMES,
    MESSAGE_DETAIL,
    MsgType,
    delivered_messages,
    message_type,
)
from alerts.emergency.wire import (
    SentMessage,
    cap_time,
    check_identifier,
    clean_text,
    control_characters,
)

__all__ = [
    "CANCELLING_OUTCOMES",
    "CAP_CONTENT_TYPE",
    "CAP_NS",
    "EIDO_VERSION",
    "MESSAGE_DETAIL",
    "Centre",
    "EmergencyGateway",
    "EmergencyGatewaySettings",
    "EmergencyIncident",
    "HandoffResult",
    "HttpEmergencyGateway",
    "Location",
    "MsgType",
    "PayloadFormat",
    "Person",
    "SentMessage",
    "build_cap",
    "build_eido",
    "cap_time",
    "check_identifier",
    "clean_text",
    "control_characters",
    "delivered_messages",
    "encode_cap",
    "encode_eido",
    "incident_type",
    "message_type",
    "render_payload",
]
