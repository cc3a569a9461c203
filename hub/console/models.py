"""Tables of the operator console: wellbeing calls, campaigns, call plans, maintenance,
presence.

The resident's structured health record is :mod:`hub.db.health` (the 112 hand-off reads it too).
"""

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

from hub.clock import utc_now
from hub.db.base import Base, UtcDateTime


class Campaign(Base):
    """A proactive campaign of wellbeing calls for a filtered population (issue 22, item 5):
    "heat wave, over 80, living alone, Ciutat Vella". Its calls are ordinary agenda calls
    (:class:`WellbeingCall` with ``reason = "campaign"``) that point back here."""

    __tablename__ = "wellbeing_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # What the operator says and asks (shown with each call in the agenda).
    script: Mapped[str] = mapped_column(Text, default="")
    # The population's filters as given (hub.console.campaigns.Filters), kept for the record.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # 2 high, 1 normal, 0 low: the agenda lists higher priorities first.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    closed_by: Mapped[str | None] = mapped_column(String(120), default=None)


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
    # birthday | after_discharge | weekly | care_plan | other | campaign
    reason: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_day: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(120), default=None)
    # reached_fine | reached_follow_up | no_answer | declined | other | not_called (a
    # campaign closed before the call was made)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome_notes: Mapped[str] = mapped_column(Text, default="")
    # Campaign calls: their campaign, the operator they were given to (None: anyone), and
    # the unanswered attempts so far (a no-answer is retried until MAX_ATTEMPTS).
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("wellbeing_campaigns.id", ondelete="CASCADE"), default=None, index=True
    )
    assigned_to: Mapped[str | None] = mapped_column(String(120), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # 2 high, 1 normal (every call that is not a campaign's), 0 low.
    priority: Mapped[int] = mapped_column(Integer, default=1)


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


class ProtocolOverride(Base):
    """A centre's own protocol for one alarm kind (hub.console.protocol_editor): its steps
    replace the shipped ones (hub/console/protocols.toml) until it is removed."""

    __tablename__ = "operator_protocols"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    # [{"key": "identify", "ca": "...", "es": "...", "en": "..."}], in order.
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
