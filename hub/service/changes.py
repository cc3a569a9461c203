"""Changes to a running service: suspension, resume, discharge (with devices marked for
collection), maintenance orders for device faults, contacts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.db.models import Contact, Device, Resident
from hub.service import lifecycle as lc
from hub.service.errors import InvalidTransition
from hub.service.maintenance import MaintenanceOrder, close_order, open_order
from hub.service.models import DeviceCollectionRow, MaintenanceOrderRow, ServiceRow
from hub.service.referral import ReferralContact
from hub.service.store import NotFound, apply, as_domain


async def suspend(
    session: AsyncSession,
    row: ServiceRow,
    reason: str | None,
    resume_on: date | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Pause the service (alarms and check-in rules off) until ``resume_on``."""
    await apply(
        session, row, lc.suspend(await as_domain(session, row), reason, resume_on, now), actor
    )


async def resume(session: AsyncSession, row: ServiceRow, *, actor: str, now: datetime) -> None:
    """End the current suspension."""
    await apply(session, row, lc.resume(await as_domain(session, row), now), actor)


async def discharge(
    session: AsyncSession, row: ServiceRow, reason: str | None, *, actor: str, now: datetime
) -> list[str]:
    """End the service with a coded reason; mark the home's devices for collection.

    Returns the ids of the devices marked for collection.
    """
    await apply(session, row, lc.discharge(await as_domain(session, row), reason, now), actor)
    marked: list[str] = []
    if row.resident_id is not None:
        resident = await session.get(Resident, row.resident_id)
        assert resident is not None
        # Other residents of the same home (a couple) may still use the devices.
        others = await session.scalar(
            select(ServiceRow.id)
            .join(Resident, Resident.id == ServiceRow.resident_id)
            .where(
                Resident.home_id == resident.home_id,
                ServiceRow.id != row.id,
                ServiceRow.state.in_(("active", "suspended", "installing")),
            )
            .limit(1)
        )
        if others is None:
            devices = await session.scalars(
                select(Device.id).where(Device.home_id == resident.home_id)
            )
            for device_id in devices:
                session.add(
                    DeviceCollectionRow(service_id=row.id, device_id=device_id, marked_at=now)
                )
                marked.append(device_id)
    await record_audit(
        session,
        actor,
        "service.devices_to_collect",
        f"service:{row.reference}",
        {"devices": marked},
        at=now,
    )
    return marked


async def report_fault(
    session: AsyncSession,
    row: ServiceRow,
    device_id: str,
    fault: str,
    *,
    actor: str,
    now: datetime,
) -> MaintenanceOrderRow:
    """A device fault becomes a maintenance order due within the repair target."""
    if row.state not in ("active", "suspended", "installing"):
        raise InvalidTransition("report a fault on", row.state)
    resident = await session.get(Resident, row.resident_id)
    device = await session.get(Device, device_id)
    if device is None or resident is None or device.home_id != resident.home_id:
        raise NotFound(f"device {device_id!r} is not in this resident's home")
    order = open_order(device_id, fault, now)
    stored = MaintenanceOrderRow(
        service_id=row.id,
        device_id=device_id,
        fault=fault,
        reported_at=now,
        reported_by=actor,
        due_at=order.due_at,
    )
    session.add(stored)
    await session.flush()
    await record_audit(
        session,
        actor,
        "service.fault",
        f"service:{row.reference}",
        {"maintenance_order": stored.id, "device": device_id, "fault": fault},
        at=now,
    )
    return stored


async def repair(
    session: AsyncSession, order_id: int, note: str, *, actor: str, now: datetime
) -> MaintenanceOrderRow:
    """Close a maintenance order."""
    stored = await session.get(MaintenanceOrderRow, order_id)
    if stored is None:
        raise NotFound(f"no maintenance order {order_id}")
    current = MaintenanceOrder(
        stored.device_id, stored.fault, stored.reported_at, stored.due_at, stored.repaired_at
    )
    done = close_order(current, now, note)
    stored.repaired_at, stored.note = done.repaired_at, done.note
    await record_audit(
        session,
        actor,
        "service.repair",
        f"maintenance:{stored.id}",
        {"device": stored.device_id, "status": done.status(now)},
        at=now,
    )
    return stored


async def replace_contacts(
    session: AsyncSession,
    row: ServiceRow,
    contacts: tuple[ReferralContact, ...],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Replace the resident's contacts (priority in the given order)."""
    if row.resident_id is None or row.state == "discharged":
        raise InvalidTransition("update the contacts of", row.state)
    old = await session.scalars(select(Contact).where(Contact.resident_id == row.resident_id))
    for contact in old:
        await session.delete(contact)
    for priority, c in enumerate(contacts, start=1):
        session.add(
            Contact(
                resident_id=row.resident_id,
                name=c.name,
                phone=c.phone,
                relationship_=c.relationship,
                is_key_holder=c.key_holder,
                priority=priority,
                language=row.language,
            )
        )
    details: dict[str, Any] = {"contacts": len(contacts)}
    await record_audit(
        session, actor, "service.contacts", f"service:{row.reference}", details, at=now
    )
