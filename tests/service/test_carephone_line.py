"""A certified carephone (SCAIP or SIA DC-09) as a line of the installation work order: the
line says how each unit reports (our own agent, SCAIP, DC-09), and its wording too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Resident
from tests.service.helpers import Client, device_reports, post, submit

UNITS = {
    "dc09": {"account": "7777", "prefix": "1"},
    "scaip": {"protocol": "scaip", "account": "unit-7777"},
}


@pytest.mark.parametrize("protocol", ["dc09", "scaip"])
async def test_the_installer_registers_the_unit_then_pairs_it(
    protocol: str,
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Any,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    base = f"/api/service/referrals/{reference}"
    assessed = await post(
        hub_client,
        f"{base}/assess",
        coordinator,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    await post(hub_client, f"{base}/care-plan", coordinator, {"devices": ["carephone", "tablet"]})
    order = await post(hub_client, f"{base}/work-order", coordinator)
    order_id = order["result"]["work_order"]
    page = await hub_client.get(f"/service/work-orders/{order_id}", headers=installer)
    text = await page.text()
    assert "DC-09 account" not in text
    assert 'data-protocol=""' in text  # the unpaired line: register the unit first
    await post(hub_client, f"/api/service/work-orders/{order_id}/start", installer)
    pair = f"/api/service/work-orders/{order_id}/devices"
    # Not registered with its receiver account: refused, never given MQTT credentials.
    refused = await post(
        hub_client, pair, installer, {"kind": "carephone", "device_id": "cp-77"}, status=409
    )
    assert "POST /api/carephones" in refused["detail"]
    assert "scaip" in refused["detail"]
    assert "dc09" in refused["detail"]
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, assessed["resident_id"])
        assert resident is not None
        home_id = resident.home_id
    registered = await hub_client.post(
        "/api/carephones",
        json={"id": "cp-77", "home_id": home_id, **UNITS[protocol]},
        headers=installer,
    )
    assert registered.status == 201, await registered.text()
    paired = await post(hub_client, pair, installer, {"kind": "carephone", "device_id": "cp-77"})
    assert "credentials" not in paired
    (line,) = [d for d in paired["devices"] if d["kind"] == "carephone"]
    assert (line["device_id"], line["protocol"]) == ("cp-77", protocol)
    (tablet,) = [d for d in paired["devices"] if d["kind"] == "tablet"]
    assert tablet["protocol"] == "agent"
    page = await hub_client.get(f"/service/work-orders/{order_id}", headers=installer)
    assert f'data-protocol="{protocol}"' in await page.text()
    # Its first poll confirms the line, as any device's first message does.
    await device_reports(hub_sessionmaker, "cp-77", hub_clock(), "unit_event")
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    (line,) = [d for d in detail["devices"] if d["kind"] == "carephone"]
    assert line["first_message_at"] is not None
