"""Shared helpers of the service tests: a good application and a driven lifecycle."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Device, StoredEvent

Client = TestClient[Any, Any]


def application(**changes: Any) -> dict[str, Any]:
    """A valid online application from a relative."""
    form: dict[str, Any] = {
        "applicant_kind": "relative",
        "applicant_name": "Marta Puig",
        "applicant_phone": "+34 600 111 222",
        "person_name": "Núria Puig i Soler",
        "birth_date": "1941-05-17",
        "street": "Carrer de Sants 12",
        "postcode": "08014",
        "municipality": "Barcelona",
        "lives_alone": True,
        "mobility": "walking_aid",
        "contacts": [{"name": "Marta Puig", "phone": "600111222", "key_holder": True}],
        "consent_data": True,
        "consent_social_record": True,
    }
    form.update(changes)
    return form


async def submit(client: Client, **changes: Any) -> tuple[str, str]:
    """Submit an application; its reference and check value."""
    resp = await client.post("/api/service/applications", json=application(**changes))
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return body["reference"], body["check_value"]


async def post(
    client: Client, path: str, headers: dict[str, str], body: Any = None, status: int = 200
) -> dict[str, Any]:
    """POST JSON and check the status."""
    resp = await client.post(path, json=body if body is not None else {}, headers=headers)
    text = await resp.text()
    assert resp.status == status, f"{path}: {resp.status} {text}"
    result: dict[str, Any] = await resp.json()
    return result


async def device_reports(
    sessionmaker: async_sessionmaker[AsyncSession],
    device_id: str,
    at: datetime,
    kind: str = "motion",
) -> None:
    """What the hub's ingestion stores when a device's message arrives."""
    async with sessionmaker() as session, session.begin():
        device = await session.get(Device, device_id)
        assert device is not None
        device.last_seen = at
        device.state = "online"
        session.add(
            StoredEvent(
                message_id=secrets.token_hex(8),
                device_id=device_id,
                type=kind,
                ts=at,
                received_at=at,
                seq=1,
                body={"type": kind},
            )
        )


async def install(
    client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    coordinator: dict[str, str],
    installer: dict[str, str],
    reference: str,
    now: datetime,
    level: str = "basic",
) -> int:
    """Drive a referral to active; the work order's id."""
    await post(
        client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": level, "abss_area": "BCN-03", "confirm_new_person": True},
    )
    order = await post(client, f"/api/service/referrals/{reference}/work-order", coordinator)
    order_id: int = order["result"]["work_order"]
    await post(client, f"/api/service/work-orders/{order_id}/start", installer)
    detail = await post(client, f"/api/service/work-orders/{order_id}/confirm", installer)
    for index, line in enumerate(detail["devices"]):
        device_id = f"{reference.lower()}-{index}"
        await post(
            client,
            f"/api/service/work-orders/{order_id}/devices",
            installer,
            {"kind": line["kind"], "device_id": device_id},
        )
        await device_reports(sessionmaker, device_id, now, "panic" if index == 1 else "motion")
    for item in ("tablet_provisioned", "resident_trained"):
        await post(client, f"/api/service/work-orders/{order_id}/items/{item}", installer)
    await post(
        client,
        f"/api/service/work-orders/{order_id}/items/key_safe_recorded",
        installer,
        {"code": "4321"},
    )
    return order_id
