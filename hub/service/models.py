"""Tables of the service lifecycle: referrals/services, suspensions, care plans, work
orders with their device lines, maintenance orders, device collections and the history
of state changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigIntId, UtcDateTime


class ServiceRow(Base):
    """One referral and the service it becomes (``reference`` is what applicants quote)."""

    __tablename__ = "service_referrals"
    __table_args__ = (Index("ix_service_referrals_person", "person_key", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    check_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Who applied: self | relative | social_worker, and through which channel.
    applicant_kind: Mapped[str] = mapped_column(String(16))
    applicant_name: Mapped[str] = mapped_column(String(200), default="")
    applicant_phone: Mapped[str] = mapped_column(String(40), default="")
    applicant_email: Mapped[str] = mapped_column(String(200), default="")
    referred_by: Mapped[str] = mapped_column(String(120), default="public")
    # The person.
    person_name: Mapped[str] = mapped_column(String(200))
    # Normalised name + birth date: finds a second open referral of the same person.
    person_key: Mapped[str] = mapped_column(String(240))
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    id_document: Mapped[str] = mapped_column(String(16), default="", index=True)
    # CatSalut's personal health card code (CIP) and the social-services file number: the
    # visor finds people by them (migration visor_0001).
    cip: Mapped[str] = mapped_column(String(14), default="", server_default="", index=True)
    social_file: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(2), default="ca")
    # How to address the person (protocol.ADDRESS_FORMS; migration service_0003).
    address_form: Mapped[str] = mapped_column(
        String(12), default="unknown", server_default="unknown"
    )
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(5), default="")
    municipality: Mapped[str] = mapped_column(String(100), default="")
    abss_area: Mapped[str] = mapped_column(String(32), default="", index=True)
    # Health and social situation.
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    mobility: Mapped[str] = mapped_column(String(16), default="independent")
    falls_last_year: Mapped[int] = mapped_column(Integer, default=0)
    health_notes: Mapped[str] = mapped_column(Text, default="")
    social_notes: Mapped[str] = mapped_column(Text, default="")
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    consent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [[key, reason], ...]: existing residents this person looks like (flag, not a block).
    possible_duplicates: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="RESTRICT"), default=None, index=True
    )
    care_level: Mapped[str | None] = mapped_column(String(8), default=None)
    referred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ordered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    installing_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    discharged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    discharge_reason: Mapped[str | None] = mapped_column(String(24), default=None)
    last_review_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class SuspensionRow(Base):
    """A pause of a service (hospital stay, holiday)."""

    __tablename__ = "service_suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resume_on: Mapped[date] = mapped_column(Date)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class CarePlanRow(Base):
    """One version of a care plan (versions are never updated, only added)."""

    __tablename__ = "service_care_plans"
    __table_args__ = (UniqueConstraint("service_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    care_level: Mapped[str] = mapped_column(String(8))
    devices: Mapped[list[str]] = mapped_column(JSON)
    check_in_deadline: Mapped[str] = mapped_column(String(5))  # HH:MM, Europe/Madrid
    wellbeing_call_every_days: Mapped[int] = mapped_column(Integer)
    escalate_to_contact_after_min: Mapped[int] = mapped_column(Integer)
    escalate_to_112_after_min: Mapped[int] = mapped_column(Integer)
    review_every_days: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The alarm rules people changed for this resident (hub.service.rules; the rest are
    # the care level's defaults).
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(120))


class WorkOrderRow(Base):
    """An installation work order and its home-wide checklist items."""

    __tablename__ = "service_work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    installer: Mapped[str | None] = mapped_column(String(120), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    test_alarm_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    tablet_provisioned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    key_safe_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    resident_trained_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class WorkOrderDeviceRow(Base):
    """A device line of a work order."""

    __tablename__ = "service_work_order_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("service_work_orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    device_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    paired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    first_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class MaintenanceOrderRow(Base):
    """A device fault to repair within the repair target."""

    __tablename__ = "service_maintenance_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(64))
    fault: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reported_by: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    repaired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class DeviceCollectionRow(Base):
    """A device to pick up from the home (after a discharge or a removal)."""

    __tablename__ = "service_device_collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class StateChangeRow(Base):
    """The history of a service: every transition, who did it, when, with which codes."""

    __tablename__ = "service_state_changes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service_referrals.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
