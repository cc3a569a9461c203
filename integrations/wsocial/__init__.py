"""wSocial: FHIR R4 + SNOMED CT events to the social record, the visor and open data.

Public surface: the input events (:mod:`.events`), the vocabulary (:mod:`.vocabulary`) and the
pure mapping to FHIR (:mod:`.mapping`). This package imports only ``protocol`` and third-party
libraries; the hub adapts it (outbox table, visor page).
"""

from integrations.wsocial.events import (
    EVENT_KINDS,
    ActivitySummary,
    AlarmHandled,
    AnySocialEvent,
    CheckInSummary,
    DeviceEvent,
    Escalation112,
    EventDecodeError,
    MissedCheckIns,
    RiskFlag,
    RiskSignal,
    ServiceEvent,
    alarm_kind_for_event,
    decode_event,
    encode_event,
    event_kind,
)
from integrations.wsocial.mapping import (
    MappedResource,
    MappingError,
    to_resources,
    transaction_bundle,
)
from integrations.wsocial.vocabulary import Concept, VocabularyError, concept, vocabulary

__all__ = [
    "EVENT_KINDS",
    "ActivitySummary",
    "AlarmHandled",
    "AnySocialEvent",
    "CheckInSummary",
    "Concept",
    "DeviceEvent",
    "Escalation112",
    "EventDecodeError",
    "MappedResource",
    "MappingError",
    "MissedCheckIns",
    "RiskFlag",
    "RiskSignal",
    "ServiceEvent",
    "VocabularyError",
    "alarm_kind_for_event",
    "concept",
    "decode_event",
    "encode_event",
    "event_kind",
    "to_resources",
    "transaction_bundle",
    "vocabulary",
]
