"""Tables of tablet pairing: one-time setup codes (by their HMAC) and failed tries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utc_now
from hub.db.base import Base, BigIntId, UtcDateTime


class TabletSetupCode(Base):
    """A setup code for a resident's tablet: single use, expiring, stored as an HMAC.

    The digest is not unique: with 10^8 codes an old, used code may come round again;
    only one *live* code per digest is ever issued.
    """

    __tablename__ = "tablet_setup_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The device the code paired (for the audit trail and support).
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)


class TabletPairAttempt(Base):
    """A refused pairing try from ``address`` (the rate limit counts these)."""

    __tablename__ = "tablet_pair_attempts"
    __table_args__ = (Index("ix_tablet_pair_attempts_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
