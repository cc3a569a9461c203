"""Tables of the alarm engine: alarms, their append-only history, rule state, care plans.

``alarms.data`` holds the whole :class:`alerts.Alarm` as JSON (what the engine loads);
the columns beside it are for queries (queue order, open alarms of a home). History rows
are only ever inserted. A partial unique index keeps ONE open alarm per home and
category even with several hub workers or a restart in the middle of a write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime


class AlarmRow(Base):
    """One alarm (current state) — the engine's and the API's source of truth."""

    __tablename__ = "alarms"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_id: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    is_open: Mapped[bool] = mapped_column(Boolean, index=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    # When the escalation policy has something to do next (None: nothing).
    next_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    # Optimistic concurrency: an update must name the version it read.
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index(
            "uq_alarms_one_open_per_home",
            "home_id",
            "category",
            unique=True,
            sqlite_where=text("is_open = 1"),
            postgresql_where=text("is_open"),
        ),
    )


class AlarmHistoryRow(Base):
    """One history entry of an alarm (insert-only)."""

    __tablename__ = "alarm_history"

    alarm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class RuleStateRow(Base):
    """The rules' memory of one resident, and when its next timer is due."""

    __tablename__ = "alarm_rule_states"

    resident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_id: Mapped[str] = mapped_column(String(64), index=True)
    next_due: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProcessedEventRow(Base):
    """Messages already applied to the rules (a redelivered message is skipped), by device
    and message id: message ids are unique per device only."""

    __tablename__ = "alarm_processed_events"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class CarePlanRow(Base):
    """A resident's care plan and escalation policy (JSON); defaults when absent."""

    __tablename__ = "alarm_care_plans"

    resident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlarmEffectRow(Base):
    """An external effect of an escalation step (a contact notified, a 112 hand-off).

    The row is the effect's idempotency key: it is inserted in the same transaction as
    the version-checked alarm update that plans the step, BEFORE anything is sent, so a
    retry, a second worker or a restart never sends it again. ``done_at`` is set when the
    result is recorded on the alarm; a row left without it means the hub stopped while
    sending, and the alarm shows that the outcome is unknown.
    """

    __tablename__ = "alarm_effects"

    alarm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
