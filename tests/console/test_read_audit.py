"""Reads of a resident's card and of an alarm's detail are audited (issue 19, medium).
Real hub, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.db.models import AuditEntry

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_card_and_alarm_reads_are_audited(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = demo.residents[0]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    social = await auth_headers(Role.SOCIAL_WORKER, username="sw-reads")
    card = await hub_client.get(f"/api/console/residents/{rid}/card", headers=social)
    assert card.status == 200
    detail = await hub_client.get(f"/api/alarms/{alarm}", headers=social)
    assert detail.status == 200
    missing = await hub_client.get("/api/alarms/no-such-alarm", headers=social)
    assert missing.status == 404
    operator = await auth_headers(Role.OPERATOR, username="op-reads")
    payload = await hub_client.get(
        f"/api/alarms/{alarm}/emergency-payload?format=cap", headers=operator
    )
    assert payload.status == 200
    circle = await hub_client.get(f"/api/family/residents/{rid}/circle", headers=operator)
    assert circle.status == 200
    async with hub_sessionmaker() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.object, AuditEntry.details).where(
                    AuditEntry.actor.in_(["sw-reads", "op-reads"])
                )
            )
        ).all()
    assert sorted((a, o) for a, o, _ in rows) == [
        ("alarm.payload_read", f"alarm:{alarm}"),
        ("alarm.read", f"alarm:{alarm}"),
        ("family.circle_read", f"resident:{rid}"),
        ("resident.read", f"resident:{rid}"),
    ]
    assert all("insulina" not in str(d) for _, _, d in rows)  # ids, never the data


async def test_the_admin_does_not_read_medical_notes(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    admin = await auth_headers(Role.ADMIN)
    card = await hub_client.get(f"/api/console/residents/{demo.residents[0]}/card", headers=admin)
    assert card.status == 403
