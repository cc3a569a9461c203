"""The maintenance workflow of technical alarms (API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.db.models import AuditEntry

Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ticket_moves_forward_only_and_is_audited(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = demo.residents[1]
    technical = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][3], protocol.LowBattery(percent=9)
    )
    care = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    operator = await auth_headers(Role.OPERATOR, username="op-mt")
    url = f"/api/console/maintenance/{technical[0]}"

    ok = await hub_client.put(url, json={"status": "acknowledged"}, headers=operator)
    assert ok.status == 200
    missing_visit = await hub_client.put(url, json={"status": "visit_planned"}, headers=operator)
    assert (await missing_visit.json())["error"] == "visit_required"
    naive = await hub_client.put(
        url, json={"status": "visit_planned", "visit_at": "2026-11-24T10:00"}, headers=operator
    )
    assert (await naive.json())["error"] == "visit_required"
    planned = await hub_client.put(
        url,
        json={"status": "visit_planned", "visit_at": "2026-11-24T10:00:00+01:00", "notes": "x"},
        headers=operator,
    )
    assert planned.status == 200
    assert (await planned.json())["visit_at"] == "2026-11-24T09:00:00+00:00"
    fixed = await hub_client.put(url, json={"status": "fixed"}, headers=operator)
    assert fixed.status == 200
    back = await hub_client.put(url, json={"status": "acknowledged"}, headers=operator)
    assert back.status == 409
    assert (await back.json())["error"] == "backwards"

    wrong = await hub_client.put(
        f"/api/console/maintenance/{care[0]}", json={"status": "acknowledged"}, headers=operator
    )
    assert (await wrong.json())["error"] == "not_technical"
    nothing = await hub_client.put(
        "/api/console/maintenance/nope", json={"status": "fixed"}, headers=operator
    )
    assert nothing.status == 404
    bad = await hub_client.put(url, json={"status": "done"}, headers=operator)
    assert (await bad.json())["error"] == "invalid_status"
    social = await auth_headers(Role.SOCIAL_WORKER)
    assert (await hub_client.put(url, json={"status": "fixed"}, headers=social)).status == 403

    listing = await (await hub_client.get("/api/console/maintenance", headers=social)).json()
    assert [(t["alarm_id"], t["status"]) for t in listing["tickets"]] == [(technical[0], "fixed")]
    async with hub_sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object == f"alarm:{technical[0]}")
            )
        ).all()
    assert actions == ["maintenance.acknowledged", "maintenance.visit_planned", "maintenance.fixed"]
