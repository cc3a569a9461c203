"""Maintenance orders: a device fault becomes an order with its own due time (48 h)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from hub.service.errors import InvalidTransition
from hub.service.sla import DueStatus, SlaTargets, due_status, repair_due

FAULT_KINDS = ("no_signal", "low_battery", "tamper", "broken", "other")


@dataclass(frozen=True)
class MaintenanceOrder:
    """A device to repair or replace, due ``due_at``."""

    device_id: str
    fault: str
    reported_at: datetime
    due_at: datetime
    repaired_at: datetime | None = None
    note: str = ""

    def status(self, now: datetime) -> DueStatus:
        """Open, overdue, or repaired on time / late."""
        return due_status(self.due_at, self.repaired_at, now)


def open_order(
    device_id: str,
    fault: str,
    at: datetime,
    targets: SlaTargets = SlaTargets(),  # noqa: B008
) -> MaintenanceOrder:
    """A new order for a device fault, due after the repair target."""
    if fault not in FAULT_KINDS:
        raise InvalidTransition("report", "fault", f"unknown fault {fault!r}")
    return MaintenanceOrder(device_id, fault, at, repair_due(at, targets))


def close_order(order: MaintenanceOrder, at: datetime, note: str = "") -> MaintenanceOrder:
    """The device was repaired or replaced."""
    if order.repaired_at is not None:
        raise InvalidTransition("repair", "repaired")
    if at < order.reported_at:
        raise InvalidTransition("repair", "open", "repaired before it was reported")
    return replace(order, repaired_at=at, note=note[:500])
