"""The installer's checklist of a work order.

Each device line is done when the device is paired (the installer entered its id) AND
the hub has received the device's first message after pairing — the installer cannot
tick that box, only the hub can. The test alarm is likewise confirmed by the hub when
an alarm event from the home reaches it. The other items are the installer's word.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from hub.service.codes import CHECKLIST_ITEMS, ChecklistItem, DeviceKind
from hub.service.errors import InvalidTransition, TabletNotPaired


@dataclass(frozen=True)
class DeviceLine:
    """A device to install: its kind, then its id once paired, then its first message."""

    kind: DeviceKind
    device_id: str | None = None
    paired_at: datetime | None = None
    first_message_at: datetime | None = None

    @property
    def done(self) -> bool:
        """Paired and heard from."""
        return self.device_id is not None and self.first_message_at is not None


@dataclass(frozen=True)
class Checklist:
    """The state of an installation: device lines plus the four home-wide items."""

    devices: tuple[DeviceLine, ...]
    test_alarm_at: datetime | None = None
    tablet_provisioned_at: datetime | None = None
    key_safe_recorded_at: datetime | None = None
    resident_trained_at: datetime | None = None

    def missing(self) -> tuple[str, ...]:
        """Codes of what is still open: ``device:<kind>`` lines, then item names."""
        open_lines = tuple(f"device:{line.kind}" for line in self.devices if not line.done)
        open_items = tuple(item for item in CHECKLIST_ITEMS if self.item_done_at(item) is None)
        return open_lines + open_items

    @property
    def tablet_paired(self) -> bool:
        """Every tablet line of the order has a device (true when the plan has none)."""
        return all(line.device_id is not None for line in self.devices if line.kind == "tablet")

    @property
    def complete(self) -> bool:
        """Everything done: the service can become active."""
        return not self.missing()

    def item_done_at(self, item: ChecklistItem) -> datetime | None:
        """When a home-wide item was done."""
        value: datetime | None = getattr(self, f"{item}_at")
        return value


def new_checklist(devices: tuple[DeviceKind, ...]) -> Checklist:
    """An empty checklist for the devices of a care plan."""
    return Checklist(devices=tuple(DeviceLine(kind) for kind in devices))


def pair_device(checklist: Checklist, kind: str, device_id: str, at: datetime) -> Checklist:
    """Record that the first unpaired device of ``kind`` is ``device_id``.

    Pairing a device id already on the list again is refused: one device, one line.
    """
    if any(line.device_id == device_id for line in checklist.devices):
        raise InvalidTransition("pair", "paired", f"device {device_id!r} is already paired")
    lines = list(checklist.devices)
    for index, line in enumerate(lines):
        if line.kind == kind and line.device_id is None:
            lines[index] = DeviceLine(kind=line.kind, device_id=device_id, paired_at=at)
            return replace(checklist, devices=tuple(lines))
    raise InvalidTransition("pair", "installing", f"no unpaired {kind!r} in this work order")


def confirm_first_message(checklist: Checklist, device_id: str, at: datetime) -> Checklist:
    """The hub heard ``device_id`` at ``at``; only counts for a message after pairing."""
    lines = list(checklist.devices)
    for index, line in enumerate(lines):
        if line.device_id != device_id or line.first_message_at is not None:
            continue
        if line.paired_at is not None and at >= line.paired_at:
            lines[index] = replace(line, first_message_at=at)
            return replace(checklist, devices=tuple(lines))
    return checklist


def mark_item(checklist: Checklist, item: str, at: datetime) -> Checklist:
    """Tick a home-wide item (keeps the first time it was ticked)."""
    if item not in CHECKLIST_ITEMS:
        raise InvalidTransition("tick", "installing", f"unknown checklist item {item!r}")
    if checklist.item_done_at(item) is not None:
        return checklist
    if item == "tablet_provisioned" and not checklist.tablet_paired:
        raise TabletNotPaired()
    return replace(checklist, **{f"{item}_at": at})  # type: ignore[arg-type]
