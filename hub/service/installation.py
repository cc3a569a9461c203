"""Installation work orders: creation, pairing, the installer's ticks, the hub's
confirmation of each device's first message and of the test alarm, and activation.

First messages: the hub's ingestion stores every device event in ``events``
(``StoredEvent``) and updates ``devices.last_seen``. A device line is confirmed by the
earliest of (a stored event received after pairing, ``last_seen`` after pairing); the
test alarm by an alarm-type event (``protocol.ALARM_EVENT_TYPES``) from a paired device
of the order, received after pairing. :func:`confirm_installations` runs in the
service's background sweep and on demand (``POST .../confirm``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import SYSTEM_ACTOR, record_audit
from hub.db.models import Device, Resident, StoredEvent
from hub.db.values import one_of
from hub.registry.service import DeviceCredentials, ProvisioningError, provision_device
from hub.service import lifecycle as lc
from hub.service.checklist import Checklist, DeviceLine, mark_item, pair_device
from hub.service.codes import (
    CHECKLIST_ITEMS,
    DEVICE_KINDS,
    RECEIVER_KINDS,
    REGISTRY_TYPE,
    UNREGISTERED_UNIT,
)
from hub.service.errors import InvalidTransition
from hub.service.models import ServiceRow, WorkOrderDeviceRow, WorkOrderRow
from hub.service.outbox import emit
from hub.service.sla import installation_due
from hub.service.social import device_event
from hub.service.store import ConcurrentChange, NotFound, apply, as_domain, latest_plan
from protocol import ALARM_EVENT_TYPES

_LOGGER = logging.getLogger(__name__)
# Items the installer may tick; the test alarm is confirmed by the hub only.
INSTALLER_ITEMS = tuple(i for i in CHECKLIST_ITEMS if i != "test_alarm")


class DeviceInUse(InvalidTransition):
    """The device id belongs to another home."""

    code = "device_in_use"


async def lines_of(session: AsyncSession, order_id: int) -> list[WorkOrderDeviceRow]:
    """The device lines of a work order, in plan order."""
    rows = await session.scalars(
        select(WorkOrderDeviceRow)
        .where(WorkOrderDeviceRow.work_order_id == order_id)
        .order_by(WorkOrderDeviceRow.position)
    )
    return list(rows)


async def unit_protocols(session: AsyncSession, device_ids: list[str | None]) -> dict[str, str]:
    """The receiver protocol (``scaip``, ``dc09``) of each registered unit among ``device_ids``."""
    from hub.carephones.models import CarephoneUnit

    wanted = [d for d in device_ids if d]
    if not wanted:
        return {}
    rows = await session.execute(
        select(CarephoneUnit.device_id, CarephoneUnit.protocol).where(
            CarephoneUnit.device_id.in_(wanted)
        )
    )
    return {device_id: protocol for device_id, protocol in rows.all()}


async def checklist_of(session: AsyncSession, order: WorkOrderRow) -> Checklist:
    """The pure checklist of a stored work order."""
    return Checklist(
        devices=tuple(
            DeviceLine(
                one_of(line.kind, DEVICE_KINDS, "work_order_devices.kind"),
                line.device_id,
                line.paired_at,
                line.first_message_at,
            )
            for line in await lines_of(session, order.id)
        ),
        test_alarm_at=order.test_alarm_at,
        tablet_provisioned_at=order.tablet_provisioned_at,
        key_safe_recorded_at=order.key_safe_recorded_at,
        resident_trained_at=order.resident_trained_at,
    )


async def get_order(session: AsyncSession, order_id: int) -> tuple[WorkOrderRow, ServiceRow]:
    """A work order and its service, or :class:`NotFound`."""
    order = await session.get(WorkOrderRow, order_id)
    if order is None:
        raise NotFound(f"no work order {order_id}")
    service = await session.get(ServiceRow, order.service_id)
    assert service is not None
    return order, service


async def open_order_of(session: AsyncSession, service_id: int) -> WorkOrderRow | None:
    """The service's installation work order that is not complete yet."""
    return await session.scalar(
        select(WorkOrderRow)
        .where(WorkOrderRow.service_id == service_id, WorkOrderRow.completed_at.is_(None))
        .order_by(WorkOrderRow.id.desc())
        .limit(1)
    )


async def create_work_order(
    session: AsyncSession, row: ServiceRow, *, actor: str, now: datetime
) -> WorkOrderRow:
    """The installation work order: the plan's devices, due 72 h after the grant."""
    transition = lc.order_installation(await as_domain(session, row), now)
    plan = await latest_plan(session, row.id)
    assert plan is not None
    assert row.granted_at is not None
    order = WorkOrderRow(
        service_id=row.id, created_at=now, created_by=actor, due_at=installation_due(row.granted_at)
    )
    session.add(order)
    await session.flush()
    for position, kind in enumerate(plan.devices):
        session.add(WorkOrderDeviceRow(work_order_id=order.id, position=position, kind=kind))
    await apply(session, row, transition, actor)
    return order


async def start(
    session: AsyncSession, order: WorkOrderRow, row: ServiceRow, *, actor: str, now: datetime
) -> None:
    """The installer arrives: the service is installing."""
    transition = lc.start_installation(await as_domain(session, row), now)
    order.started_at = now
    order.installer = actor
    await apply(session, row, transition, actor)


def _require_installing(row: ServiceRow, action: str) -> None:
    if row.state != "installing":
        raise InvalidTransition(action, row.state)


async def pair(
    session: AsyncSession,
    order: WorkOrderRow,
    row: ServiceRow,
    kind: str,
    device_id: str,
    *,
    actor: str,
    now: datetime,
) -> DeviceCredentials | None:
    """Pair a device to a line of the work order.

    A device the registry does not know yet is provisioned there (hub.registry) for the
    resident's home, with its own broker credentials, returned once for the installer to
    put in the device; a device already registered for this home is just paired.
    """
    _require_installing(row, "pair a device of")
    resident = await session.get(Resident, row.resident_id)
    assert resident is not None  # assessed services have a resident
    paired = pair_device(await checklist_of(session, order), kind, device_id, now)
    device = await session.get(Device, device_id)
    credentials: DeviceCredentials | None = None
    if device is None and kind in RECEIVER_KINDS:
        raise InvalidTransition("pair", "installing", UNREGISTERED_UNIT)
    if device is None:
        try:
            _, credentials = await provision_device(
                session,
                device_id=device_id,
                home_id=resident.home_id,
                device_type=REGISTRY_TYPE.get(kind, kind),  # type: ignore[call-overload]
                resident_id=resident.id,
                actor=actor,
            )
        except ProvisioningError as err:
            raise InvalidTransition("pair", "installing", err.message) from None
    elif device.home_id != resident.home_id or device.state == "revoked":
        raise DeviceInUse("pair", "installing", f"device {device_id!r} belongs to another home")
    for line, new in zip(await lines_of(session, order.id), paired.devices, strict=True):
        line.device_id, line.paired_at = new.device_id, new.paired_at
    await record_audit(
        session,
        actor,
        "service.pair_device",
        f"service:{row.reference}",
        {"work_order": order.id, "device": device_id, "kind": kind},
        at=now,
    )
    await session.flush()
    return credentials


async def link_paired_tablet(
    session: AsyncSession, device: Device, actor: str, now: datetime
) -> None:
    """A tablet paired with a setup code: it goes on the tablet line of the resident's
    installation work order, if one is open and that line is still empty."""
    if device.resident_id is None:
        return
    row = await session.scalar(
        select(ServiceRow).where(
            ServiceRow.resident_id == device.resident_id, ServiceRow.state == "installing"
        )
    )
    order = None if row is None else await open_order_of(session, row.id)
    if row is None or order is None:
        return
    checklist = await checklist_of(session, order)
    lines = checklist.devices
    if any(line.device_id == device.id for line in lines) or not any(
        line.kind == "tablet" and line.device_id is None for line in lines
    ):
        return
    await pair(session, order, row, "tablet", device.id, actor=actor, now=now)


async def tick(
    session: AsyncSession,
    order: WorkOrderRow,
    row: ServiceRow,
    item: str,
    *,
    actor: str,
    now: datetime,
) -> None:
    """The installer ticks a home-wide item (not the test alarm: the hub confirms that)."""
    _require_installing(row, "tick the checklist of")
    if item not in INSTALLER_ITEMS:
        raise InvalidTransition("tick", row.state, f"{item!r} is not an installer item")
    checklist = mark_item(await checklist_of(session, order), item, now)
    setattr(order, f"{item}_at", checklist.item_done_at(item))
    await record_audit(
        session,
        actor,
        "service.checklist",
        f"service:{row.reference}",
        {"work_order": order.id, "item": item},
        at=now,
    )


async def _first_heard(session: AsyncSession, device_id: str, after: datetime) -> datetime | None:
    first_event = await session.scalar(
        select(func.min(StoredEvent.received_at)).where(
            StoredEvent.device_id == device_id, StoredEvent.received_at >= after
        )
    )
    device = await session.get(Device, device_id)
    candidates = [t for t in (first_event,) if t is not None]
    if device is not None and device.last_seen is not None and device.last_seen >= after:
        candidates.append(device.last_seen)
    return min(candidates) if candidates else None


async def confirm(
    session: AsyncSession, order: WorkOrderRow, row: ServiceRow, *, now: datetime
) -> bool:
    """Confirm first messages and the test alarm from what the hub received; activate the
    service if the checklist is now complete. Returns whether the service became active."""
    if row.state != "installing":
        return False
    lines = await lines_of(session, order.id)
    for line in lines:
        if line.device_id and line.paired_at and line.first_message_at is None:
            heard = await _first_heard(session, line.device_id, line.paired_at)
            if heard is not None:
                line.first_message_at = heard
                await record_audit(
                    session,
                    SYSTEM_ACTOR,
                    "service.first_message",
                    f"service:{row.reference}",
                    {"work_order": order.id, "device": line.device_id},
                    at=now,
                )
    paired = {line.device_id: line.paired_at for line in lines if line.device_id and line.paired_at}
    if order.test_alarm_at is None and paired:
        alarms = await session.execute(
            select(StoredEvent.device_id, StoredEvent.received_at).where(
                StoredEvent.device_id.in_(list(paired)),
                StoredEvent.type.in_(sorted(ALARM_EVENT_TYPES)),
            )
        )
        times = [at for device, at in alarms if at >= paired[device]]
        if times:
            order.test_alarm_at = min(times)
    await session.flush()
    checklist = await checklist_of(session, order)
    if not checklist.complete:
        return False
    transition = lc.activate(await as_domain(session, row), checklist, now)
    try:
        await apply(session, row, transition, SYSTEM_ACTOR)
    except ConcurrentChange:
        # Another request (the sweep, a second tab) activated it first: nothing to do.
        await session.refresh(row)
        return False
    order.completed_at = now
    assert row.resident_id is not None
    for line in lines:
        assert line.device_id is not None
        await emit(
            session,
            device_event(row.resident_id, line.device_id, line.kind, now, now),
            now,
        )
    _LOGGER.info("service %s active after installation", row.reference)
    return True


async def confirm_installations(session: AsyncSession, now: datetime) -> list[str]:
    """Run :func:`confirm` for every installing service; references that became active."""
    orders = await session.scalars(
        select(WorkOrderRow)
        .join(ServiceRow, ServiceRow.id == WorkOrderRow.service_id)
        .where(ServiceRow.state == "installing", WorkOrderRow.completed_at.is_(None))
    )
    activated: list[str] = []
    for order in list(orders):
        service = await session.get(ServiceRow, order.service_id)
        assert service is not None
        if await confirm(session, order, service, now=now):
            activated.append(service.reference)
    return activated
