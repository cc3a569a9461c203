"""The agenda's due logic and whose calls it lists (issue 22, items 5 follow-up):

- a campaign's call is due from the campaign's start and falls overdue at the end of its
  calling day (20:00 local, the next day's when it starts after hours), not the moment the
  campaign is created; any other call at its due time — all at fixed instants of the hub's
  clock;
- an operator sees their own open calls (and those given to nobody) by default, everyone's
  on request; supervisors and coordinators see everyone's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import SETTINGS
from hub.auth import Role
from hub.auth.service import issue_tokens
from hub.clock import ManualClock
from hub.console.calls import campaign_window_end, default_who
from hub.console.demo_data import DemoIds
from hub.console.residents import LOCAL_ZONE
from hub.db.models import User

Headers = Callable[..., Awaitable[dict[str, str]]]
EVERYONE = {"min_age": 0}


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_ZONE)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (_local(2027, 1, 14, 10, 30), _local(2027, 1, 14, 20, 0)),
        (_local(2027, 1, 14, 0, 5), _local(2027, 1, 14, 20, 0)),
        (_local(2027, 1, 14, 19, 59), _local(2027, 1, 14, 20, 0)),
        (_local(2027, 1, 14, 20, 0), _local(2027, 1, 15, 20, 0)),  # after hours: next day
        (_local(2027, 1, 14, 23, 30), _local(2027, 1, 15, 20, 0)),
        # The 23-hour day: still 20:00 on the wall clock.
        (_local(2027, 3, 28, 1, 30), _local(2027, 3, 28, 20, 0)),
        (_local(2027, 12, 31, 21, 0), _local(2028, 1, 1, 20, 0)),
    ],
)
def test_a_campaign_window_ends_with_its_calling_day(start: datetime, end: datetime) -> None:
    assert campaign_window_end(start.astimezone(UTC)) == end


def test_who_is_listed_by_default() -> None:
    assert default_who("operator") == "mine"
    for role in ("supervisor", "coordinator", "social_worker"):
        assert default_who(role) == "all"


async def _again(
    client: TestClient[Any, Any], sm: async_sessionmaker[AsyncSession], name: str, now: datetime
) -> dict[str, str]:
    """A fresh token for an existing user (the clock moved past the last one's expiry)."""
    async with sm() as session:
        user = await session.scalar(select(User).where(User.username == name))
        assert user is not None
        pair = await issue_tokens(session, user, client.app[SETTINGS], now)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _agenda(client: TestClient[Any, Any], headers: dict[str, str], query: str = "") -> Any:
    resp = await client.get(f"/api/console/calls?status=open{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_new_campaign_is_not_overdue_and_each_operator_sees_theirs(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    make_user: Any,
    demo: DemoIds,
    hub_clock: ManualClock,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # hub_clock starts on Thursday 14 January 2027 at 10:30 in Barcelona.
    coordinator = await auth_headers(Role.COORDINATOR)
    anna = await auth_headers(Role.OPERATOR, username="op-anna")
    await auth_headers(Role.OPERATOR, username="op-marc")
    made = await hub_client.post(
        "/api/console/campaigns",
        json={"name": "Fred", "filters": EVERYONE, "operators": ["op-anna", "op-marc"]},
        headers=coordinator,
    )
    assert made.status == 201, await made.text()
    total = (await made.json())["progress"]["total"]
    assert total == len(demo.residents)
    # A call planned for an hour ago, given to nobody: overdue as before.
    montserrat = demo.residents[0]
    planned = await hub_client.post(
        "/api/console/calls",
        json={"resident_id": montserrat, "reason": "other",
              "due_at": (hub_clock() - timedelta(hours=1)).isoformat()},
        headers=coordinator,
    )  # fmt: skip
    assert planned.status == 201

    mine = await _agenda(hub_client, anna)
    assert mine["who"] == "mine"
    campaign_calls = [c for c in mine["calls"] if c["reason"] == "campaign"]
    assert {c["assigned_to"] for c in campaign_calls} == {"op-anna"}
    assert mine["hidden"] == total - len(campaign_calls)
    assert [c["reason"] for c in mine["calls"] if c["assigned_to"] is None] == ["other"]
    everyone = await _agenda(hub_client, anna, "&who=all")
    assert (everyone["who"], everyone["hidden"]) == ("all", 0)
    assert len(everyone["calls"]) == total + 1
    assert (await _agenda(hub_client, coordinator))["who"] == "all"
    bad = await hub_client.get("/api/console/calls?who=others", headers=anna)
    assert bad.status == 400

    # Just created (10:30): due now, but not overdue until the end of the calling day.
    ends = _local(2027, 1, 14, 20, 0)
    for call in everyone["calls"]:
        if call["reason"] == "campaign":
            assert call["due_at"] == hub_clock().isoformat()
            assert datetime.fromisoformat(call["due_by"]) == ends
            assert call["overdue"] is False, call
        else:
            assert call["overdue"] is True, call
    hub_clock.advance(ends - timedelta(seconds=1) - hub_clock())
    anna = await _again(hub_client, hub_sessionmaker, "op-anna", hub_clock())
    listed = (await _agenda(hub_client, anna))["calls"]
    assert not any(c["overdue"] for c in listed if c["reason"] == "campaign")
    hub_clock.advance(ends - hub_clock())
    anna = await _again(hub_client, hub_sessionmaker, "op-anna", hub_clock())
    listed = (await _agenda(hub_client, anna))["calls"]
    assert all(c["overdue"] for c in listed if c["reason"] == "campaign")


async def test_a_campaign_starting_tomorrow_is_not_overdue_today(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    make_user: Any,
    demo: DemoIds,
    hub_clock: ManualClock,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    start = _local(2027, 1, 15, 9, 0)
    made = await hub_client.post(
        "/api/console/campaigns",
        json={"name": "Demà", "filters": EVERYONE, "starts_at": start.isoformat()},
        headers=coordinator,
    )
    assert made.status == 201, await made.text()
    calls = (await _agenda(hub_client, coordinator))["calls"]
    assert calls
    for call in calls:
        assert datetime.fromisoformat(call["due_at"]) == start
        assert datetime.fromisoformat(call["due_by"]) == _local(2027, 1, 15, 20, 0)
        assert call["overdue"] is False
