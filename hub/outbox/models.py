"""The ``wsocial_outbox`` table and the record of the weekly signal runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigIntId, UtcDateTime


class OutboxRow(Base):
    """One social event waiting for, or done with, delivery to the social record."""

    __tablename__ = "wsocial_outbox"
    __table_args__ = (
        Index("ix_wsocial_outbox_due", "state", "next_attempt_at"),
        Index("ix_wsocial_outbox_line", "ordering_key", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    # The FHIR resource the event updates: events of one line are delivered in order.
    ordering_key: Mapped[str] = mapped_column(String(300))
    # The event as JSON (integrations.wsocial.events.encode_event).
    payload: Mapped[str] = mapped_column(Text)
    # pending | delivered | dead | withdrawn (consent withdrawn before it was sent)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
