"""The carephones' tables: one row per unit; who holds each speech call, and the console's
requests to that worker (docs/adr/0168)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utc_now
from hub.db.base import Base, UtcDateTime


class CarephoneUnit(Base):
    """A unit's identity on the receiver, bound to its device (home, resident, supervision).

    DC-09 names a unit by its account number within its receiver's line prefix; the AES key,
    when the unit encrypts, is held encrypted with the hub's key-safe key. SCAIP names it by
    its controller id (``account``, with an empty prefix).
    """

    __tablename__ = "carephone_units"
    __table_args__ = (
        UniqueConstraint("protocol", "prefix", "account", name="uq_carephone_account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), unique=True
    )
    protocol: Mapped[str] = mapped_column(String(8), default="dc09")
    # DC-09: 3-16 hex digits; SCAIP: the controller id (cid).
    account: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(6))
    receiver: Mapped[str | None] = mapped_column(String(6), default=None)
    key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    supervision_s: Mapped[int] = mapped_column(Integer, default=3600)
    # Zones of the unit's fall detectors (their medical/personal alarms are falls).
    fall_zones: Mapped[str] = mapped_column(String(100), default="")
    # The number or SIP URI the unit calls from for speech (SCAIP ``crd``), if known.
    caller_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class CarephoneCallRow(Base):
    """Which hub worker holds a speech call (docs/adr/0168, section 4): written when a
    unit's call rings or a call out is dialled, updated on answer, deleted when it ends,
    and a worker's rows deleted at its start-up and when its lease lapses. One call out per
    operator, whichever worker placed it (ADR 0177: the partial unique index)."""

    __tablename__ = "carephone_calls"
    __table_args__ = (
        Index(
            "uq_carephone_calls_operator_out",
            "operator",
            unique=True,
            sqlite_where=text("direction = 'out'"),
            postgresql_where=text("direction = 'out'"),
        ),
    )

    call_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    alarm_id: Mapped[str | None] = mapped_column(String(64), default=None)
    home_id: Mapped[str] = mapped_column(String(32), index=True)
    # The holder, named as in ``hub_members`` (its MQTT client id, or host-pid).
    worker: Mapped[str] = mapped_column(String(128), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" (the unit's) or "out" (dialled)
    state: Mapped[str] = mapped_column(String(12))  # ringing, answered
    # Calls out: the operator (user id) who dialled it.
    operator: Mapped[str | None] = mapped_column(String(32), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class CarephoneRequestRow(Base):
    """A console request for the worker holding a call, and its answer (ADR 0168, §4).

    SDP travels here, never in a notification (PostgreSQL's 8000-byte NOTIFY limit)."""

    __tablename__ = "carephone_requests"
    __table_args__ = (Index("ix_carephone_requests_target_status", "target", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(128))  # the worker that is to act
    origin: Mapped[str] = mapped_column(String(128))  # the worker that asks (and waits)
    kind: Mapped[str] = mapped_column(String(12))
    alarm_id: Mapped[str | None] = mapped_column(String(64), default=None)
    call_id: Mapped[str | None] = mapped_column(String(255), default=None)
    operator: Mapped[str | None] = mapped_column(String(32), default=None)
    body: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending, done, failed
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
