"""The social worker cannot get round the visor through the API (issue 19; ADR 0105).

The visor shows a resident's record and alarm history after a coded reason, audited, and
leaves the history out without consent to the social record. Through the API the same
role could list every closed alarm of the centre, open any resident's card, and read the
registry and the homes' sensor telemetry, without a reason and mostly unaudited. Real hub,
SQLite and PostgreSQL.
"""

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


async def _refused(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> str:
    response = await client.get(path, headers=headers)
    assert response.status == 403, f"{path}: {response.status} {await response.text()}"
    return str((await response.json())["error"])


async def _resolved_alarm(
    client: TestClient[Any, Any], demo: DemoIds, operator: dict[str, str], resident: int
) -> str:
    [alarm] = await raise_demo_alarm(
        client.app, resident, demo.devices[resident][0], protocol.Panic(source="pendant")
    )
    accepted = await client.post(f"/api/alarms/{alarm}/accept", json={}, headers=operator)
    assert accepted.status == 200, await accepted.text()
    resolved = await client.post(
        f"/api/alarms/{alarm}/resolve", json={"outcome": "resident_fine"}, headers=operator
    )
    assert resolved.status == 200, await resolved.text()
    return alarm


async def test_history_and_records_only_in_the_visor(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    quiet, followed = demo.residents[0], demo.residents[1]
    operator = await auth_headers(Role.OPERATOR)
    closed = await _resolved_alarm(hub_client, demo, operator, quiet)
    social = await auth_headers(Role.SOCIAL_WORKER, username="sw-bypass")
    # The history of closed alarms, by list or by id.
    for status in ("resolved", "all"):
        assert await _refused(hub_client, f"/api/alarms?status={status}", social) == (
            "use_the_visor"
        )
    assert await _refused(hub_client, f"/api/alarms/{closed}", social) == "use_the_visor"
    # A resident's card and photo while nothing of theirs is open.
    for path in (f"/api/console/residents/{quiet}/card", f"/api/console/residents/{quiet}/photo"):
        assert await _refused(hub_client, path, social) == "use_the_visor"
    # The registry and the homes' telemetry (the daily routine), which the visor never shows.
    device = demo.devices[quiet][0]
    for path in (
        "/api/residents",
        "/api/homes",
        "/api/homes/1",
        "/api/devices",
        f"/api/devices/{device}",
        f"/api/devices/{device}/series",
    ):
        assert await _refused(hub_client, path, social) == "forbidden"
    # What the console's read-only queue needs stays: open alarms, their detail and card.
    [live] = await raise_demo_alarm(
        hub_client.app, followed, demo.devices[followed][0], protocol.Panic(source="pendant")
    )
    queue = await hub_client.get("/api/alarms?status=open", headers=social)
    assert queue.status == 200
    assert [a["id"] for a in (await queue.json())["alarms"]] == [live]
    assert (await hub_client.get(f"/api/alarms/{live}", headers=social)).status == 200
    card = await hub_client.get(f"/api/console/residents/{followed}/card", headers=social)
    assert card.status == 200
    # Refused reads showed nothing, so they logged nothing; allowed ones are audited.
    async with hub_sessionmaker() as session:
        logged = sorted(
            (action, obj)
            for action, obj in await session.execute(
                select(AuditEntry.action, AuditEntry.object).where(AuditEntry.actor == "sw-bypass")
            )
        )
    assert logged == [("alarm.read", f"alarm:{live}"), ("resident.read", f"resident:{followed}")]
    # The operator's console is unchanged.
    assert (await hub_client.get("/api/alarms?status=all", headers=operator)).status == 200
    assert (await hub_client.get(f"/api/alarms/{closed}", headers=operator)).status == 200
    card = await hub_client.get(f"/api/console/residents/{quiet}/card", headers=operator)
    assert card.status == 200
