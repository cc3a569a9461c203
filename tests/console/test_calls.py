"""The wellbeing-call agenda: generated and planned calls, outcomes, bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.console.demo_data import DemoIds
from hub.console.residents import LOCAL_ZONE
from hub.db.models import Resident

Headers = Callable[..., Awaitable[dict[str, str]]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_agenda(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_clock: ManualClock,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    today = hub_clock().astimezone(LOCAL_ZONE).date()
    birthday_id, weekly_id, discharged_id = demo.residents
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, birthday_id)
        assert resident is not None
        resident.birth_date = date(1940, today.month, min(today.day, 28))
        await session.commit()
    if today.day > 28:
        pytest.skip("birthday shortcut needs a day <= 28")  # pragma: no cover
    planner = await auth_headers(Role.SOCIAL_WORKER)
    operator = await auth_headers(Role.OPERATOR)

    plan = await hub_client.put(
        f"/api/console/residents/{weekly_id}/call-plan",
        json={"weekly": True, "weekday": today.isoweekday(), "hour": 10},
        headers=planner,
    )
    assert plan.status == 200
    discharge = await hub_client.post(
        "/api/console/calls",
        json={
            "resident_id": discharged_id,
            "reason": "after_discharge",
            "due_at": (hub_clock() - timedelta(days=1)).isoformat(),
            "notes": "Hip surgery",
        },
        headers=planner,
    )
    assert discharge.status == 201
    assert len((await discharge.json())["calls"]) == 3
    again = await hub_client.post(
        "/api/console/calls",
        json={
            "resident_id": discharged_id,
            "reason": "after_discharge",
            "due_at": (hub_clock() - timedelta(days=1)).isoformat(),
        },
        headers=planner,
    )
    assert again.status == 409

    for _ in range(2):  # reading twice generates nothing twice
        listing = await (await hub_client.get("/api/console/calls", headers=operator)).json()
    reasons = sorted(c["reason"] for c in listing["calls"])
    assert reasons == ["after_discharge", "birthday", "weekly"]  # day 1 only; 3 and 7 later

    call = next(c for c in listing["calls"] if c["reason"] == "birthday")
    done = await hub_client.post(
        f"/api/console/calls/{call['id']}/outcome",
        json={"outcome": "reached_fine", "notes": "Happy"},
        headers=operator,
    )
    assert done.status == 200
    twice = await hub_client.post(
        f"/api/console/calls/{call['id']}/outcome", json={"outcome": "other"}, headers=operator
    )
    assert twice.status == 409
    finished = await (
        await hub_client.get("/api/console/calls", params={"status": "done"}, headers=planner)
    ).json()
    assert [c["outcome"] for c in finished["calls"]] == ["reached_fine"]

    bad = [
        ({"resident_id": 1, "reason": "party", "due_at": "2026-11-24T10:00:00+01:00"}, 400),
        ({"resident_id": "1", "reason": "other", "due_at": "2026-11-24T10:00:00+01:00"}, 400),
        ({"resident_id": 1, "reason": "other", "due_at": "2026-11-24T10:00"}, 400),
        ({"resident_id": 9999, "reason": "other", "due_at": "2026-11-24T10:00:00+01:00"}, 404),
    ]
    for body, status in bad:
        response = await hub_client.post("/api/console/calls", json=body, headers=planner)
        assert response.status == status, body
    wrong = await hub_client.post(
        f"/api/console/calls/{call['id']}/outcome", json={"outcome": "great"}, headers=operator
    )
    assert wrong.status == 400
    # Operators call; they do not plan.
    refused = await hub_client.post(
        "/api/console/calls",
        json={"resident_id": 1, "reason": "other", "due_at": "2026-11-24T10:00:00+01:00"},
        headers=operator,
    )
    assert refused.status == 403
