"""Running-service changes: contacts, reviews, device removal, retention, paused query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Contact
from hub.service.models import DeviceCollectionRow, ServiceRow
from hub.service.queries import apply_retention, is_service_paused, reviews_due
from tests.service.helpers import Client, install, post, submit

Headers = Any


async def test_contacts_reviews_and_retention(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    service = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    assert service["service_state"] == "active"
    base = f"/api/service/referrals/{reference}"

    # Contacts: replaced in the given order; a bad list is refused and nothing changes.
    resp = await hub_client.put(
        f"{base}/contacts",
        json={"contacts": [{"name": "Pere", "phone": "600222333"}, {"name": "Anna", "phone": "x"}]},
        headers=coordinator,
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "contacts.1.phone"
    resp = await hub_client.put(
        f"{base}/contacts",
        json={
            "contacts": [
                {"name": "Pere", "phone": "600222333", "key_holder": True},
                {"name": "Anna", "phone": "600444555"},
            ]
        },
        headers=coordinator,
    )
    assert resp.status == 200
    detail = await (await hub_client.get(base, headers=coordinator)).json()
    async with hub_sessionmaker() as session:
        contacts = list(
            await session.scalars(
                select(Contact)
                .where(Contact.resident_id == detail["resident_id"])
                .order_by(Contact.priority)
            )
        )
    assert [(c.name, c.is_key_holder) for c in contacts] == [("Pere", True), ("Anna", False)]

    # Reviews: a basic plan is reviewed yearly; reminded 30 days ahead, late afterwards.
    async with hub_sessionmaker() as session:
        assert await reviews_due(session, hub_clock()) == []
        soon = await reviews_due(session, hub_clock() + timedelta(days=340))
        late = await reviews_due(session, hub_clock() + timedelta(days=370))
    assert [r.reference for r in soon] == [reference]
    assert not soon[0].overdue
    assert late[0].overdue
    hub_clock.advance(timedelta(days=340))
    coordinator = await auth_headers(Role.COORDINATOR)
    await post(hub_client, f"{base}/review", coordinator, {"notes": "all fine"})
    async with hub_sessionmaker() as session:
        assert await reviews_due(session, hub_clock()) == []

    # Discharge: devices to collect; unpaused; personal data erased after five years.
    await post(hub_client, f"{base}/discharge", coordinator, {"reason": "deceased"})
    async with hub_sessionmaker() as session:
        marked = list(await session.scalars(select(DeviceCollectionRow.device_id)))
        assert len(marked) == 3
        assert not await is_service_paused(session, detail["resident_id"], hub_clock())
    async with hub_sessionmaker() as session, session.begin():
        assert await apply_retention(session, hub_clock() + timedelta(days=364)) == []
        erased = await apply_retention(session, hub_clock() + timedelta(days=5 * 365 + 1))
    assert erased == [reference]
    async with hub_sessionmaker() as session:
        row = await session.scalar(select(ServiceRow).where(ServiceRow.reference == reference))
        assert row is not None
        assert (row.person_name, row.health_notes, row.contacts, row.birth_date) == (
            "—",
            "",
            [],
            None,
        )
        assert row.care_level == "basic"  # the pseudonymous row stays for the figures
        assert row.discharge_reason == "deceased"
    # The erased person can be referred again (no stale double-referral match).
    again, _ = await submit(hub_client)
    assert again != reference


async def test_never_active_referral_is_erased_after_one_year(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await submit(hub_client)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/discharge",
        coordinator,
        {"reason": "withdrew"},
    )
    async with hub_sessionmaker() as session, session.begin():
        assert await apply_retention(session, hub_clock() + timedelta(days=300)) == []
        assert await apply_retention(session, hub_clock() + timedelta(days=366)) == [reference]


async def test_adding_and_removing_devices_of_a_running_service(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    from hub.db.models import Device
    from hub.service.outbox import stored_events
    from integrations.wsocial.events import DeviceEvent

    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    base = f"/api/service/referrals/{reference}"
    # Not before the service runs.
    await post(
        hub_client,
        f"{base}/devices",
        installer,
        {"kind": "smoke_detector", "device_id": "sm-1"},
        status=409,
    )
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    added = await post(
        hub_client, f"{base}/devices", installer, {"kind": "smoke_detector", "device_id": "sm-1"}
    )
    assert added["result"]["credentials"]["username"] == "sm-1"
    await post(
        hub_client, f"{base}/devices", installer, {"kind": "robot", "device_id": "rb-1"}, status=409
    )
    detail = await (await hub_client.get(base, headers=coordinator)).json()
    assert "smoke_detector" in detail["care_plans"][-1]["devices"]
    async with hub_sessionmaker() as session:
        device = await session.get(Device, "sm-1")
        assert device is not None
        assert device.type == "smoke"  # the registry's word, so ingestion accepts its events
    removed = await hub_client.delete(f"{base}/devices/sm-1", headers=installer)
    assert removed.status == 200, await removed.text()
    again = await hub_client.delete(f"{base}/devices/sm-1", headers=installer)
    assert again.status == 409
    elsewhere = await hub_client.delete(f"{base}/devices/nowhere", headers=installer)
    assert elsewhere.status == 404
    async with hub_sessionmaker() as session:
        device = await session.get(Device, "sm-1")
        assert device is not None
        assert device.state == "revoked"
        events = [e for e in await stored_events(session) if isinstance(e, DeviceEvent)]
    smoke = [e for e in events if e.device_id == "sm-1"]
    assert [e.removed_at is not None for e in smoke] == [False, True]
    assert smoke[0].device_kind == "sensor"
