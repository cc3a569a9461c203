"""Service-level targets and due dates (e.g. Madrid's charter: install within 72 h of
the grant, repair faults within 48 h), and reviews at least yearly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

INSTALLATION_TARGET = timedelta(hours=72)
REPAIR_TARGET = timedelta(hours=48)
REVIEW_REMINDER_AHEAD = timedelta(days=30)

DueStatus = Literal["open", "overdue", "done_on_time", "done_late"]


@dataclass(frozen=True)
class SlaTargets:
    """The targets in force (configurable per contract; defaults from the charter)."""

    installation: timedelta = INSTALLATION_TARGET
    repair: timedelta = REPAIR_TARGET


def installation_due(granted_at: datetime, targets: SlaTargets = SlaTargets()) -> datetime:
    """When the equipment must be installed: the grant plus the installation target."""
    return granted_at + targets.installation


def repair_due(reported_at: datetime, targets: SlaTargets = SlaTargets()) -> datetime:
    """When a reported fault must be repaired."""
    return reported_at + targets.repair


def due_status(due: datetime, done_at: datetime | None, now: datetime) -> DueStatus:
    """Where a due date stands at ``now``: open, overdue, or done on time / late."""
    if done_at is not None:
        return "done_on_time" if done_at <= due else "done_late"
    return "open" if now <= due else "overdue"


def next_review_due(
    activated_at: datetime, last_review_at: datetime | None, interval: timedelta
) -> datetime:
    """The next periodic review: ``interval`` after the last review, or the activation."""
    return max(activated_at, last_review_at or activated_at) + interval


def review_reminder(due: datetime, now: datetime, ahead: timedelta = REVIEW_REMINDER_AHEAD) -> bool:
    """Whether to remind about a review due at ``due`` (within ``ahead``, or late)."""
    return now >= due - ahead
