"""The table of units that report over an alarm-receiver protocol: one row per unit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
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
