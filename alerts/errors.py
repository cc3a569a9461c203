"""Typed errors of the alerts core.

``AlarmError`` and its children are refusals of the alarm state machine: the caller
(the hub's API) turns them into a 409/422 with the message, nothing is changed.
"""

from __future__ import annotations


class AlertsError(Exception):
    """Base of every error raised by the alerts package."""


class AlertsValueError(AlertsError, ValueError):
    """A value that cannot be used (naive datetime, empty id, bad setting)."""


class CarePlanError(AlertsValueError):
    """A care-plan or escalation-policy setting outside its allowed range."""


class AlarmError(AlertsError):
    """An action the alarm's current state does not allow; the alarm is unchanged."""

    def __init__(self, alarm_id: str, detail: str) -> None:
        super().__init__(f"alarm {alarm_id}: {detail}")
        self.alarm_id = alarm_id
        self.detail = detail


class InvalidTransition(AlarmError):
    """The action would move the alarm backwards or skip a required step."""


class AlarmClosed(AlarmError):
    """The alarm is resolved: only notes may still be added."""


class AlreadyClaimed(AlarmError):
    """Another operator accepted the alarm first."""

    def __init__(self, alarm_id: str, claimed_by: str) -> None:
        super().__init__(alarm_id, f"already accepted by {claimed_by}")
        self.claimed_by = claimed_by


class NotClaimed(AlarmError):
    """The action needs the alarm accepted first, by this actor (or a supervisor)."""


class OutcomeRequired(AlarmError):
    """An alarm can only be resolved with a coded outcome."""


class ClockWentBackwards(AlarmError):
    """An action dated before the alarm's last history entry (history is ordered)."""
