"""Tables of the operator console: wellbeing calls, call plans, maintenance, presence."""

from __future__ import annotations

from datetime import date, datetime

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

from hub.clock import utc_now
from hub.db.base import Base, UtcDateTime


class WellbeingCall(Base):
    """A planned outbound call to a resident (the service's "agenda") and its outcome."""

    __tablename__ = "wellbeing_calls"
    __table_args__ = (
        # Generated calls (birthday, weekly) are created at most once per resident and day.
        UniqueConstraint("resident_id", "reason", "due_day", name="uq_wellbeing_calls_once"),
        Index("ix_wellbeing_calls_open_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    # birthday | after_discharge | weekly | other
    reason: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_day: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(120), default=None)
    # reached_fine | reached_follow_up | no_answer | declined | other
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome_notes: Mapped[str] = mapped_column(Text, default="")


class CallPlan(Base):
    """Standing call plans of a resident: weekly calls for high-risk residents."""

    __tablename__ = "wellbeing_call_plans"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    weekly: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO weekday 1 (Monday) … 7 and local hour of the weekly call.
    weekday: Mapped[int] = mapped_column(Integer, default=1)
    hour: Mapped[int] = mapped_column(Integer, default=11)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class MaintenanceTicket(Base):
    """The maintenance workflow of one technical alarm: acknowledged → visit planned → fixed."""

    __tablename__ = "maintenance_tickets"

    alarm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    visit_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ConsolePresence(Base):
    """Who has a console open: a heartbeat per user (the supervisor's "on shift" list)."""

    __tablename__ = "console_presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ResidentHealth(Base):
    """A resident's health and care data, structured (hub.console.health): what the operator
    needs at an alarm and 112 needs at a hand-off. Read on the card (audited), written by
    supervisors and social workers."""

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
