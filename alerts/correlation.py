"""Where a detection goes: a new alarm, the home's open alarm, or a resident's cancel.

Related events (a second press, another sensor in the same home) join the open alarm
of that home and category instead of opening another one, so two operators never
work the same incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from alerts.alarm import (
    Actor,
    ActorKind,
    Alarm,
    AlarmState,
    Outcome,
    attach,
    raise_alarm,
    resolve,
)
from alerts.model import Detection


class Change(StrEnum):
    """What happened to the alarm."""

    RAISED = "raised"
    ATTACHED = "attached"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """The alarm after a detection, and what kind of change it was."""

    alarm: Alarm
    change: Change


def open_alarm_for(alarms: Iterable[Alarm], detection: Detection) -> Alarm | None:
    """The open alarm of the detection's home and category (the oldest if several)."""
    candidates = [
        a
        for a in alarms
        if a.is_open and a.home_id == detection.home_id and a.category is detection.category
    ]
    return min(candidates, key=lambda a: a.raised_at) if candidates else None


def apply_detection(
    alarms: Iterable[Alarm], detection: Detection, at: datetime, new_id: str
) -> AlarmChange | None:
    """Raise, attach or cancel; ``None`` for a cancel (or a unit's restore) with nothing
    open to apply it to.

    A resident's cancel (``fall_cancelled``) resolves the alarm only while nobody has
    accepted it and it holds nothing but that rule; otherwise it is attached and the
    operator decides.
    """
    current = open_alarm_for(alarms, detection)
    if detection.restores:
        # A restore updates the alarm its condition raised; alone it is no alarm.
        if current is None or detection.rule not in current.rules:
            return None
        return AlarmChange(attach(current, detection, at), Change.ATTACHED)
    if current is None:
        if detection.cancels:
            return None
        return AlarmChange(raise_alarm(new_id, detection, at), Change.RAISED)
    updated = attach(current, detection, at)
    if (
        detection.cancels
        and current.rules == (detection.rule,)
        and current.state.rank < AlarmState.ACCEPTED.rank
    ):
        resident = Actor(ActorKind.RESIDENT, detection.resident_id)
        cancelled = resolve(updated, resident, at, Outcome.RESIDENT_CANCELLED)
        return AlarmChange(cancelled, Change.CANCELLED)
    return AlarmChange(updated, Change.ATTACHED)
