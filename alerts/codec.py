"""JSON views of the core's frozen values, for storage (pure; msgspec does the work)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from alerts.alarm import Alarm
from alerts.careplan import CarePlan
from alerts.errors import AlertsValueError
from alerts.escalation import EscalationPolicy
from alerts.state import ResidentState

T = TypeVar("T")


def to_json(value: Alarm | ResidentState | CarePlan | EscalationPolicy) -> dict[str, Any]:
    """A JSON-compatible dict of ``value``."""
    data = msgspec.to_builtins(value)
    if not isinstance(data, dict):  # pragma: no cover - dataclasses become dicts
        raise AlertsValueError(f"cannot store {type(value).__name__}")
    return data


def _from_json(data: object, kind: type[T]) -> T:
    try:
        return msgspec.convert(data, kind)
    except (msgspec.ValidationError, ValueError) as err:
        raise AlertsValueError(f"stored {kind.__name__} is not valid: {err}") from None


def alarm_from_json(data: object) -> Alarm:
    """Inverse of :func:`to_json` for an alarm."""
    return _from_json(data, Alarm)


def state_from_json(data: object) -> ResidentState:
    """Inverse of :func:`to_json` for a resident's rule state."""
    return _from_json(data, ResidentState)


def plan_from_json(data: object) -> CarePlan:
    """A care plan from JSON (validated like one built in code)."""
    return _from_json(data, CarePlan)


def policy_from_json(data: object) -> EscalationPolicy:
    """An escalation policy from JSON."""
    return _from_json(data, EscalationPolicy)
