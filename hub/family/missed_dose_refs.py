"""The reference of a missed dose's family notice (``dose:<due UTC>:<dose>``): written by
:mod:`hub.family.missed_doses`, read back into the notice's ``dose`` field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts import MissedDose

EVENT_TYPE = "medication_missed"
PREFIX = "dose:"


def dose_ref(dose: MissedDose) -> str:
    """The notice's reference of one missed dose (at most 58 characters)."""
    return f"{PREFIX}{dose.due.astimezone(UTC):%Y%m%d%H%M}:{dose.schedule}"


def dose_of(alarm_ref: str) -> dict[str, Any] | None:
    """``{"schedule", "due"}`` of a missed dose's notice reference (None: not a dose)."""
    if not alarm_ref.startswith(PREFIX):
        return None
    stamp, _, schedule = alarm_ref[len(PREFIX) :].partition(":")
    try:
        due = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    return {"schedule": schedule, "due": due.isoformat()}
