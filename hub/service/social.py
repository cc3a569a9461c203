"""What the service lifecycle tells the social record (wSocial): the service row and the
devices installed or removed, as :mod:`integrations.wsocial.events` values.

The social record's service row has three statuses (active, suspended, ended), so only
the changes after activation become a :class:`ServiceEvent`: before that the person has
no teleassistance product yet. The earlier steps (referral, assessment, work order) are
kept in ``service_state_changes`` and the audit log. See docs/adr/0080.
"""

from __future__ import annotations

from datetime import datetime

from hub.service.models import ServiceRow
from integrations.wsocial.events import (
    CareLevel,
    DeviceEvent,
    DeviceKind,
    DischargeReason,
    ServiceEvent,
    SuspensionReason,
)

_DEVICE_KIND: dict[str, DeviceKind] = {
    "gateway": "gateway",
    "pendant": "pendant",
    "tablet": "tablet",
    "fall_detector": "fall_detector",
    # A carephone is the home's alarm unit, as our gateway is.
    "carephone": "gateway",
}


def social_device_kind(kind: str) -> DeviceKind:
    """The social record's device kind (every other sensor is ``sensor``)."""
    return _DEVICE_KIND.get(kind, "sensor")


def service_event(
    row: ServiceRow,
    at: datetime,
    suspension_reason: str | None = None,
    resume_on: object = None,
) -> ServiceEvent | None:
    """The service row as the social record shows it now (``None`` before activation)."""
    if row.activated_at is None or row.resident_id is None:
        return None
    level: CareLevel | None = row.care_level  # type: ignore[assignment]
    if row.state == "discharged":
        reason: DischargeReason = row.discharge_reason  # type: ignore[assignment]
        return ServiceEvent(
            resident_id=str(row.resident_id),
            occurred_at=at,
            service_id=row.reference,
            status="ended",
            started_at=row.activated_at,
            ended_at=row.discharged_at,
            discharge_reason=reason,
            care_level=level,
        )
    if row.state == "suspended":
        pause: SuspensionReason = suspension_reason  # type: ignore[assignment]
        return ServiceEvent(
            resident_id=str(row.resident_id),
            occurred_at=at,
            service_id=row.reference,
            status="suspended",
            started_at=row.activated_at,
            suspension_reason=pause,
            resume_on=resume_on,  # type: ignore[arg-type]
            care_level=level,
        )
    return ServiceEvent(
        resident_id=str(row.resident_id),
        occurred_at=at,
        service_id=row.reference,
        status="active",
        started_at=row.activated_at,
        care_level=level,
    )


def device_event(
    resident_id: int,
    device_id: str,
    kind: str,
    installed_at: datetime,
    at: datetime,
    removed_at: datetime | None = None,
) -> DeviceEvent:
    """A device installed in (or removed from) the resident's home."""
    return DeviceEvent(
        resident_id=str(resident_id),
        occurred_at=at,
        device_id=device_id,
        device_kind=social_device_kind(kind),
        installed_at=installed_at,
        removed_at=removed_at,
    )
