"""A resident's structured health and care data: the record below the console (which shows
and edits it) and the alarms (whose 112 hand-off carries its summary)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime


class ResidentHealth(Base):
    """A resident's health and care data, structured (its API is hub.console.health): what
    the operator needs at an alarm and 112 needs at a hand-off. Read on the card (audited),
    written by supervisors and social workers."""

    __tablename__ = "resident_health"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    allergies: Mapped[list[str]] = mapped_column(JSON, default=list)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    medication: Mapped[list[str]] = mapped_column(JSON, default=list)
    mobility_aids: Mapped[list[str]] = mapped_column(JSON, default=list)
    hearing: Mapped[str] = mapped_column(String(200), default="")
    sight: Mapped[str] = mapped_column(String(200), default="")
    gp: Mapped[str] = mapped_column(String(200), default="")
    health_centre: Mapped[str] = mapped_column(String(200), default="")
    dnr: Mapped[bool] = mapped_column(Boolean, default=False)
    advance_directive: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


def summary_for_112(row: ResidentHealth | None, free_text: str) -> str:
    """What 112 reads about the person's health: DNR first, then allergies, conditions,
    medication, mobility and senses, then the notes (the old free text when no record)."""
    if row is None:
        return free_text
    parts = []
    if row.dnr:
        parts.append("DNR (do not resuscitate) on record")
    for label, items in (
        ("Allergies", row.allergies),
        ("Conditions", row.conditions),
        ("Medication", row.medication),
        ("Mobility", row.mobility_aids),
    ):
        if items:
            parts.append(f"{label}: {', '.join(items)}")
    for label, text in (("Hearing", row.hearing), ("Sight", row.sight), ("GP", row.gp)):
        if text:
            parts.append(f"{label}: {text}")
    if row.notes:
        parts.append(row.notes)
    return ". ".join(parts)
