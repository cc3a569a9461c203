"""Coded values of the service lifecycle (the same codes the social record uses)."""

from __future__ import annotations

from typing import Literal, get_args

ServiceState = Literal[
    "referred",  # an application or a social worker's referral, not yet assessed
    "assessed",  # assessed and granted with a care level: the 72 h installation clock runs
    "work_order",  # an installation work order exists
    "installing",  # the installer is at the home
    "active",  # the checklist is complete: alarms and check-ins are live
    "suspended",  # paused (hospital stay, holiday) until a resume date
    "discharged",  # ended with a coded reason
]
CareLevel = Literal["basic", "medium", "high"]
SuspensionReason = Literal["hospital_stay", "holiday_with_family"]
DischargeReason = Literal["moved_to_care_home", "deceased", "withdrew", "no_longer_eligible"]
ApplicantKind = Literal["self", "relative", "social_worker"]
Mobility = Literal["independent", "walking_aid", "wheelchair", "bedridden"]
DeviceKind = Literal[
    "gateway",
    "pendant",
    "tablet",
    "fall_detector",
    "door_sensor",
    "motion_sensor",
    "bed_sensor",
    "smoke_detector",
    "co_detector",
    "gas_detector",
    "flood_sensor",
    "temperature_sensor",
    # A pill box that confirms the doses the care plan lists (docs/adr/0174).
    "pill_dispenser",
    # A certified carephone or alarm panel reporting over SCAIP or SIA DC-09 (its protocol is
    # the registered unit's, docs/carephones.md); every other kind is our own agent's (MQTT).
    "carephone",
]
ChecklistItem = Literal["test_alarm", "tablet_provisioned", "key_safe_recorded", "resident_trained"]

SERVICE_STATES: tuple[ServiceState, ...] = get_args(ServiceState)
CARE_LEVELS: tuple[CareLevel, ...] = get_args(CareLevel)
SUSPENSION_REASONS: tuple[SuspensionReason, ...] = get_args(SuspensionReason)
DISCHARGE_REASONS: tuple[DischargeReason, ...] = get_args(DischargeReason)
APPLICANT_KINDS: tuple[ApplicantKind, ...] = get_args(ApplicantKind)
MOBILITIES: tuple[Mobility, ...] = get_args(Mobility)
DEVICE_KINDS: tuple[DeviceKind, ...] = get_args(DeviceKind)
CHECKLIST_ITEMS: tuple[ChecklistItem, ...] = get_args(ChecklistItem)

# States in which the person has (or is about to have) the service: a second referral of
# the same person while one of these is open is a double referral.
OPEN_STATES: frozenset[ServiceState] = frozenset(SERVICE_STATES) - {"discharged"}
# States after the grant that still wait for the installation (the 72 h target).
WAITING_INSTALLATION: frozenset[ServiceState] = frozenset({"assessed", "work_order", "installing"})

# The registry's device type (the installer's word the ingestion checks events against,
# hub/ingest/devicetypes.py) for each device kind of a care plan.
REGISTRY_TYPE: dict[DeviceKind, str] = {
    "gateway": "gateway",
    "pendant": "pendant",
    "tablet": "tablet",
    "fall_detector": "fall_detector",
    "door_sensor": "contact",
    "motion_sensor": "motion",
    "bed_sensor": "bed",
    "smoke_detector": "smoke",
    "co_detector": "co",
    "gas_detector": "gas",
    "flood_sensor": "water_leak",
    "temperature_sensor": "thermometer",
    "pill_dispenser": "dispenser",
    "carephone": "carephone",
}
# Kinds that report to one of the hub's receivers, not over MQTT: the installer registers the
# unit's account first (POST /api/carephones), then pairs it to the work order's line.
RECEIVER_KINDS: frozenset[str] = frozenset({"carephone"})
UNREGISTERED_UNIT = (
    "register the unit with its receiver first (POST /api/carephones: protocol scaip with its"
    " controller id, or dc09 with its account), then pair its device id"
)
