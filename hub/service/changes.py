"""Changes to a running service: suspension, resume, discharge (with devices marked for
collection), maintenance orders for device faults, contacts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.db.models import Contact, Device, Resident
from hub.registry.service import (
    DeviceCredentials,
    ProvisioningError,
    provision_device,
    revoke_device,
)
from hub.service import lifecycle as lc
from hub.service.codes import DEVICE_KINDS, RECEIVER_KINDS, REGISTRY_TYPE, UNREGISTERED_UNIT
from hub.service.errors import FieldError, InvalidTransition, ReferralInvalid
from hub.service.maintenance import MaintenanceOrder, close_order, open_order
from hub.service.models import DeviceCollectionRow, MaintenanceOrderRow, ServiceRow
from hub.service.outbox import emit
from hub.service.referral import ReferralContact
from hub.service.social import device_event
from hub.service.store import NotFound, apply, as_domain, edit_plan, latest_plan
from protocol import ADDRESS_FORMS


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
                relationship_other=c.relationship_other,
                is_key_holder=c.key_holder,
                priority=priority,
                language=row.language,
            )
        )
    details: dict[str, Any] = {"contacts": len(contacts)}
    await record_audit(
        session, actor, "service.contacts", f"service:{row.reference}", details, at=now
    )


async def change_address_form(
    session: AsyncSession, row: ServiceRow, address_form: str, *, actor: str, now: datetime
) -> str:
    """How the person is addressed (ADR 0170), on the referral and on the resident it
    became; audited with the old and the new form. Returns the form it replaced."""
    if address_form not in ADDRESS_FORMS:
        raise ReferralInvalid((FieldError("address_form", "err_choice"),))
    if row.state == "discharged":
        raise InvalidTransition("change the form of address of", row.state)
    before = row.address_form
    row.address_form = address_form
    if row.resident_id is not None:
        resident = await session.get(Resident, row.resident_id)
        if resident is not None:
            resident.address_form = address_form
    details: dict[str, Any] = {"from": before, "to": address_form}
    await record_audit(
        session, actor, "service.address_form", f"service:{row.reference}", details, at=now
    )
    return before


def _require_running(row: ServiceRow, action: str) -> None:
    if row.state not in ("active", "suspended"):
        raise InvalidTransition(action, row.state)


async def add_device(
    session: AsyncSession, row: ServiceRow, kind: str, device_id: str, *, actor: str, now: datetime
) -> DeviceCredentials | None:
    """Add a device to a running service: registered (credentials returned once if new),
    its kind added to the care plan (new version) and the social record told."""
    _require_running(row, "add a device to")
    if kind not in DEVICE_KINDS:
        raise InvalidTransition("add a device to", row.state, f"unknown device kind {kind!r}")
    resident = await session.get(Resident, row.resident_id)
    assert resident is not None
    device = await session.get(Device, device_id)
    credentials: DeviceCredentials | None = None
    if device is None and kind in RECEIVER_KINDS:
        raise InvalidTransition("add a device to", row.state, UNREGISTERED_UNIT)
    if device is None:
        try:
            _, credentials = await provision_device(
                session,
                device_id=device_id,
                home_id=resident.home_id,
                device_type=REGISTRY_TYPE[kind],
                resident_id=resident.id,
                actor=actor,
            )
        except ProvisioningError as err:
            raise InvalidTransition("add a device to", row.state, err.message) from None
    elif device.home_id != resident.home_id or device.state == "revoked":
        raise InvalidTransition(
            "add a device to", row.state, f"device {device_id!r} is not available"
        )
    plan = await latest_plan(session, row.id)
    if plan is not None and kind not in plan.devices:
        await edit_plan(session, row, {"devices": [*plan.devices, kind]}, actor=actor, now=now)
    assert row.resident_id is not None
    await emit(session, device_event(row.resident_id, device_id, kind, now, now), now)
    await record_audit(
        session,
        actor,
        "service.add_device",
        f"service:{row.reference}",
        {"device": device_id, "kind": kind},
        at=now,
    )
    return credentials


async def remove_device(
    session: AsyncSession, row: ServiceRow, device_id: str, *, actor: str, now: datetime
) -> None:
    """Take a device out of a running service: revoked in the registry, marked for
    collection, the social record told (the plan is edited separately if wanted)."""
    _require_running(row, "remove a device from")
    resident = await session.get(Resident, row.resident_id)
    device = await session.get(Device, device_id)
    if device is None or resident is None or device.home_id != resident.home_id:
        raise NotFound(f"device {device_id!r} is not in this resident's home")
    if device.state == "revoked":
        raise InvalidTransition("remove", "revoked", f"device {device_id!r} was already removed")
    await revoke_device(session, device_id, actor=actor, reason=f"removed from {row.reference}")
    session.add(DeviceCollectionRow(service_id=row.id, device_id=device_id, marked_at=now))
    installed = device.created_at if device.created_at <= now else now
    await emit(
        session,
        device_event(resident.id, device_id, _kind_of(device.type), installed, now, removed_at=now),
        now,
    )
    await record_audit(
        session,
        actor,
        "service.remove_device",
        f"service:{row.reference}",
        {"device": device_id},
        at=now,
    )


def _kind_of(registry_type: str) -> str:
    for kind, rtype in REGISTRY_TYPE.items():
        if rtype == registry_type:
            return kind
    return registry_type
