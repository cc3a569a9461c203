"""The citizen visor's read model: what the social record shows about one resident.

Built from the same social events the outbox sends (so the visor shows exactly what the
record receives), plus group memberships the hub knows. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from integrations.wsocial.events import (
    AlarmHandled,
    AnySocialEvent,
    CheckInSummary,
    DeviceEvent,
    Escalation112,
    RiskFlag,
    RiskSignal,
    ServiceEvent,
)

_SUSPENSION_CONCEPT = {
    "hospital_stay": "hospital_admission",
    "holiday_with_family": "suspension_holiday",
}
_DISCHARGE_CONCEPT = {
    "moved_to_care_home": "discharge_care_home",
    "deceased": "dead",
    "withdrew": "discharge_withdrew",
    "no_longer_eligible": "discharge_not_eligible",
}
_DEVICE_CONCEPT = {
    "gateway": "device_hub",
    "pendant": "device_pendant",
    "fall_detector": "device_fall_detector",
    "sensor": "device_sensor",
    "tablet": "device_tablet",
}


@dataclass(frozen=True)
class GroupMembership:
    """The resident is (or was) in a group of the family network."""

    name: str
    joined_at: datetime
    left_at: datetime | None = None


@dataclass(frozen=True)
class ServiceRow:
    """One line of the service table: product, start, end, status, reason.

    ``product`` is a vocabulary concept key (``telehealth_monitoring``, ``device_*``) or
    ``group``; ``label`` carries a group's own name. ``reason`` is a concept key.
    """

    product: str
    label: str | None
    start: datetime
    end: datetime | None
    status: str  # active | suspended | ended
    reason: str | None = None
    resume_on: date | None = None
    # Why a row without a coded reason ended: "device_removed" (taken out while the service
    # went on) or "group_left"; an ended row always says why (issue 23).
    ended_because: str | None = None


@dataclass(frozen=True)
class AlarmRow:
    """One handled alarm."""

    alarm_id: str
    raised_at: datetime
    kind: str
    outcome: str | None
    answer_seconds: float | None
    escalated_112: bool


@dataclass(frozen=True)
class CheckInWeek:
    """Check-ins made against expected, one week."""

    week_start: date
    done: int
    expected: int

    @property
    def share(self) -> float:
        """Share of the expected check-ins that were made."""
        return self.done / self.expected if self.expected else 1.0


@dataclass(frozen=True)
class FlagRow:
    """A standing risk flag."""

    risk: str
    since: datetime


@dataclass(frozen=True)
class VisorView:
    """Everything the visor page shows for one resident."""

    resident_id: str
    services: tuple[ServiceRow, ...]
    alarms: tuple[AlarmRow, ...]
    check_ins: tuple[CheckInWeek, ...]
    flags: tuple[FlagRow, ...]
    signals: tuple[RiskSignal, ...]

    @property
    def check_in_share(self) -> float | None:
        """Share of expected check-ins made over the weeks shown (``None`` without data)."""
        expected = sum(w.expected for w in self.check_ins)
        return None if expected == 0 else sum(w.done for w in self.check_ins) / expected


def build_visor(
    resident_id: str,
    events: Iterable[AnySocialEvent],
    groups: Sequence[GroupMembership] = (),
    *,
    weeks: int = 8,
    max_alarms: int = 50,
) -> VisorView:
    """The visor of ``resident_id`` from its social events (any order) and groups."""
    mine = sorted((e for e in events if e.resident_id == resident_id), key=lambda e: e.occurred_at)
    services: dict[str, ServiceEvent] = {}
    devices: dict[tuple[str, datetime], DeviceEvent] = {}
    alarms: dict[str, AlarmHandled] = {}
    escalated: set[str] = set()
    check_ins: dict[date, CheckInSummary] = {}
    flags: dict[str, RiskFlag] = {}
    signals: dict[tuple[str, date], RiskSignal] = {}
    for event in mine:
        match event:
            case ServiceEvent():
                services[event.service_id] = event
            case DeviceEvent():
                devices[(event.device_id, event.installed_at)] = event
            case AlarmHandled():
                alarms[event.alarm_id] = event
            case Escalation112():
                escalated.add(event.alarm_id)
            case CheckInSummary():
                check_ins[event.week_start] = event
            case RiskFlag():
                flags[event.risk] = event
            case RiskSignal():
                signals[(event.risk, event.week_start)] = event
            case _:
                pass

    rows: list[ServiceRow] = []
    for service in services.values():
        reason = None
        if service.suspension_reason is not None:
            reason = _SUSPENSION_CONCEPT[service.suspension_reason]
        elif service.discharge_reason is not None:
            reason = _DISCHARGE_CONCEPT[service.discharge_reason]
        rows.append(
            ServiceRow(
                product="telehealth_monitoring",
                label=None,
                start=service.started_at,
                end=service.ended_at,
                status=service.status,
                reason=reason,
                resume_on=service.resume_on,
            )
        )
    # A device taken out when (or after) the service ended went with it: the service's
    # discharge reason; one taken out while the service went on was removed from the plan.
    discharges = [
        (s.ended_at, _DISCHARGE_CONCEPT[s.discharge_reason])
        for s in services.values()
        if s.ended_at is not None and s.discharge_reason is not None
    ]
    for device in devices.values():
        removed = device.removed_at
        discharge = next((c for at, c in discharges if removed and removed >= at), None)
        rows.append(
            ServiceRow(
                product=_DEVICE_CONCEPT[device.device_kind],
                label=None,
                start=device.installed_at,
                end=removed,
                status="ended" if removed else "active",
                reason=discharge,
                ended_because="device_removed" if removed and discharge is None else None,
            )
        )
    for group in groups:
        rows.append(
            ServiceRow(
                product="group",
                label=group.name,
                start=group.joined_at,
                end=group.left_at,
                status="ended" if group.left_at else "active",
                ended_because="group_left" if group.left_at else None,
            )
        )
    # Active first, then by start date, newest first.
    rows.sort(key=lambda r: (r.status == "ended", -r.start.timestamp()))

    alarm_rows = [
        AlarmRow(
            alarm_id=a.alarm_id,
            raised_at=a.raised_at,
            kind=a.alarm_kind,
            outcome=a.outcome,
            answer_seconds=None
            if a.answered_at is None
            else (a.answered_at - a.raised_at).total_seconds(),
            escalated_112=a.alarm_id in escalated,
        )
        for a in alarms.values()
    ]
    alarm_rows.sort(key=lambda a: a.raised_at, reverse=True)
    week_rows = [
        CheckInWeek(w.week_start, w.done, w.expected)
        for w in sorted(check_ins.values(), key=lambda w: w.week_start)
    ][-weeks:]
    flag_rows = sorted(
        (FlagRow(f.risk, f.since) for f in flags.values() if f.active),
        key=lambda f: f.since,
    )
    latest_week = max((week for _, week in signals), default=None)
    current = tuple(
        s for (_, week), s in sorted(signals.items()) if week == latest_week and s.raised
    )
    return VisorView(
        resident_id=resident_id,
        services=tuple(rows),
        alarms=tuple(alarm_rows[:max_alarms]),
        check_ins=tuple(week_rows),
        flags=tuple(flag_rows),
        signals=current,
    )
