"""Builders shared by the alerts tests (times are Europe/Madrid wall clock)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts import CarePlan, DeviceType, Evaluation, HomeEvent, ResidentState, evaluate
from alerts.model import Body

MADRID = ZoneInfo("Europe/Madrid")
HOME = "home-1"
RESIDENT = "res-1"
_ids = itertools.count()


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Europe/Madrid wall-clock time in January 2026 (UTC+1)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=MADRID)


def event(
    body: Body, at: datetime, device: str = "dev-1", device_type: DeviceType = DeviceType.OTHER
) -> HomeEvent:
    """A HomeEvent of the test resident."""
    return HomeEvent(
        home_id=HOME,
        resident_id=RESIDENT,
        device_id=device,
        device_type=device_type,
        message_id=f"m{next(_ids)}",
        at=at,
        body=body,
    )


def run(plan: CarePlan, state: ResidentState, *events: HomeEvent) -> list[Evaluation]:
    """Apply events in order; returns each step's evaluation."""
    out = []
    for item in events:
        result = evaluate(plan, state, item)
        state = result.state
        out.append(result)
    return out


def minutes(n: float) -> timedelta:
    """Shorthand."""
    return timedelta(minutes=n)
