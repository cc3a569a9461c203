"""Proactive campaigns of wellbeing calls: population, preview, agenda, outcomes, progress,
closing, roles and bad input (issue 22, item 5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.console import campaigns
from hub.console.bodies import CampaignFilters
from hub.console.calls import MAX_ATTEMPTS, RETRY_AFTER
from hub.console.demo_data import DemoIds
from hub.console.models import WellbeingCall
from hub.console.population import Candidate, matches
from hub.db.models import AuditEntry, Home, Resident

Headers = Callable[..., Awaitable[dict[str, str]]]
HEAT = {"min_age": 86, "lives_alone": True, "areas": ["BCN-1A", "BCN-2"]}


def _person(**kw: Any) -> Candidate:
    base: dict[str, Any] = {
        "resident_id": 1,
        "name": "x",
        "birth_date": date(1940, 6, 15),
        "lives_alone": True,
        "language": "ca",
        "area": "BCN-1A",
        "care_level": "medium",
        "mobility": "independent",
    }
    return Candidate(**(base | kw))


def test_filters_narrow_the_population() -> None:
    today = date(2027, 6, 14)
    assert matches(_person(), CampaignFilters(), today)
    assert not matches(_person(), CampaignFilters(min_age=87), today)  # 86 the day before
    assert matches(_person(), CampaignFilters(min_age=87), date(2027, 6, 15))
    assert not matches(_person(birth_date=None), CampaignFilters(min_age=60), today)
    assert not matches(_person(lives_alone=False), CampaignFilters(lives_alone=True), today)
    assert not matches(_person(), CampaignFilters(areas=["BCN-2"]), today)
    assert not matches(_person(care_level=None), CampaignFilters(care_levels=["medium"]), today)
    assert matches(_person(), CampaignFilters(mobility=["independent", "wheelchair"]), today)
    assert not matches(_person(), CampaignFilters(languages=["es"]), today)


async def _shape_demo(sm: async_sessionmaker[AsyncSession], demo: DemoIds) -> None:
    """Montserrat (88) and Margaret (90) live alone in the heat-wave areas; Antonio (85)
    lives with someone now; Margaret's home is in another area (BCN-1A)."""
    _, antonio, margaret = demo.residents
    async with sm() as session:
        person = await session.get(Resident, antonio)
        assert person is not None
        person.lives_alone = False
        other = await session.get(Resident, margaret)
        assert other is not None
        home = await session.get(Home, other.home_id)
        assert home is not None
        home.abss_area = "BCN-1A"
        await session.commit()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_campaign_from_preview_to_closing(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    make_user: Any,
    demo: DemoIds,
    hub_clock: ManualClock,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _shape_demo(hub_sessionmaker, demo)
    montserrat, antonio, margaret = demo.residents
    coordinator = await auth_headers(Role.COORDINATOR)
    anna = await auth_headers(Role.OPERATOR, username="op-anna")
    marc = await auth_headers(Role.OPERATOR, username="op-marc")

    preview = await hub_client.post(
        "/api/console/campaigns/preview", json={"filters": HEAT}, headers=coordinator
    )
    assert preview.status == 200
    seen = await preview.json()
    # Oldest first: Margaret (90) then Montserrat (88); Antonio does not live alone.
    assert seen["count"] == 2
    assert [(r["id"], r["age"]) for r in seen["residents"]] == [(margaret, 90), (montserrat, 88)]
    assert seen["residents"][0]["area"] == "BCN-1A"

    made = await hub_client.post(
        "/api/console/campaigns",
        json={
            "name": "Onada de calor",
            "script": "Beu aigua? Té ventilador?",
            "filters": HEAT,
            "priority": "high",
            "operators": ["op-anna", "op-marc"],
        },
        headers=coordinator,
    )
    assert made.status == 201, await made.text()
    campaign = await made.json()
    assert campaign["progress"]["total"] == 2
    assert campaign["progress"]["pending"] == 2
    assert campaign["left_out"] == []

    # The operators' agenda: the campaign's calls first (high priority), with name and script.
    await hub_client.post(
        "/api/console/calls",
        json={
            "resident_id": antonio,
            "reason": "other",
            "due_at": (hub_clock() - timedelta(hours=1)).isoformat(),
        },
        headers=coordinator,
    )
    # Everyone's calls (an operator's own are the default: test_calls_due_and_mine.py).
    agenda = (await (await hub_client.get("/api/console/calls?who=all", headers=anna)).json())[
        "calls"
    ]
    assert [c["reason"] for c in agenda] == ["campaign", "campaign", "other"]
    first, second = agenda[0], agenda[1]
    assert (first["resident_id"], first["assigned_to"]) == (margaret, "op-anna")
    assert (second["resident_id"], second["assigned_to"]) == (montserrat, "op-marc")
    assert first["campaign_name"] == "Onada de calor"
    assert first["campaign_script"] == "Beu aigua? Té ventilador?"
    assert first["priority"] == 2

    # Margaret answers and is fine; Montserrat does not answer: tried again later.
    ok = await hub_client.post(
        f"/api/console/calls/{first['id']}/outcome",
        json={"outcome": "reached_fine"},
        headers=anna,
    )
    assert ok.status == 200
    for attempt in range(1, MAX_ATTEMPTS):
        again = await hub_client.post(
            f"/api/console/calls/{second['id']}/outcome",
            json={"outcome": "no_answer"},
            headers=marc,
        )
        view = await again.json()
        assert (again.status, view["done_at"], view["attempts"]) == (200, None, attempt)
        assert view["due_at"] == (hub_clock() + RETRY_AFTER).isoformat()
    detail = await (
        await hub_client.get(f"/api/console/campaigns/{campaign['id']}", headers=coordinator)
    ).json()
    assert {k: v for k, v in detail["progress"].items() if v} == {
        "total": 2,
        "retrying": 1,
        "done": 1,
        "reached_fine": 1,
    }
    assert detail["operators"] == [
        {"operator": "op-anna", "assigned": 1, "done": 1, "no_answer": 0, "pending": 0},
        {"operator": "op-marc", "assigned": 1, "done": 0, "no_answer": 0, "pending": 1},
    ]
    # The last attempt: no answer is final.
    last = await hub_client.post(
        f"/api/console/calls/{second['id']}/outcome",
        json={"outcome": "no_answer"},
        headers=marc,
    )
    assert (await last.json())["outcome"] == "no_answer"
    listing = await (await hub_client.get("/api/console/campaigns", headers=coordinator)).json()
    assert listing["areas"] == ["BCN-1A", "BCN-2"]
    progress = listing["campaigns"][0]["progress"]
    assert (progress["done"], progress["no_answer"], progress["pending"]) == (1, 1, 0)

    # Closing: once; a second campaign's open calls leave the agenda as not_called.
    closed = await hub_client.post(
        f"/api/console/campaigns/{campaign['id']}/close", headers=coordinator
    )
    assert closed.status == 200
    assert (await closed.json())["closed_at"] == hub_clock().isoformat()
    twice = await hub_client.post(
        f"/api/console/campaigns/{campaign['id']}/close", headers=coordinator
    )
    assert (twice.status, (await twice.json())["error"]) == (409, "already_closed")
    # The same name may be used again once the first campaign is closed; Montserrat and
    # Margaret already had a campaign call today, so only Antonio is called.
    reuse = await hub_client.post(
        "/api/console/campaigns",
        json={"name": "onada de calor", "filters": {"min_age": 80}},
        headers=coordinator,
    )
    assert reuse.status == 201
    second_campaign = await reuse.json()
    assert second_campaign["left_out"] == sorted([montserrat, margaret])
    assert second_campaign["progress"]["total"] == 1
    await hub_client.post(
        f"/api/console/campaigns/{second_campaign['id']}/close", headers=coordinator
    )
    async with hub_sessionmaker() as session:
        dropped = (
            await session.scalars(
                select(WellbeingCall).where(WellbeingCall.campaign_id == second_campaign["id"])
            )
        ).one()
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("campaign.%"))
            )
        )
    assert (dropped.outcome, dropped.done_at) == ("not_called", hub_clock())
    assert actions == {"campaign.create", "campaign.close"}
    agenda = (await (await hub_client.get("/api/console/calls", headers=anna)).json())["calls"]
    assert [c["reason"] for c in agenda] == ["other"]
    late = await hub_client.post(
        f"/api/console/calls/{dropped.id}/outcome", json={"outcome": "reached_fine"}, headers=anna
    )
    assert late.status == 409


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bad_campaigns_are_refused(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    await auth_headers(Role.SOCIAL_WORKER, username="not-a-caller")

    async def create(body: dict[str, Any]) -> tuple[int, str]:
        response = await hub_client.post("/api/console/campaigns", json=body, headers=coordinator)
        return response.status, (await response.json()).get("error", "")

    good = {"name": "Calor", "filters": {"min_age": 80}}
    assert await create({**good, "filters": {"min_age": 110}}) == (400, "empty_population")
    assert await create({**good, "filters": {"shoe_size": 42}}) == (400, "unknown_filter")
    assert await create({**good, "filters": {"min_age": -1}}) == (400, "invalid_request")
    assert await create({**good, "filters": {"areas": []}}) == (400, "invalid_request")
    assert await create({"name": "Calor"}) == (400, "filters_required")
    assert await create({**good, "name": "   "}) == (400, "invalid_name")
    assert await create({**good, "priority": "urgent"}) == (400, "invalid_request")
    assert await create({**good, "starts_at": "2027-07-01T10:00:00"}) == (400, "invalid_start")
    assert await create({**good, "operators": ["nobody"]}) == (400, "unknown_operator")
    assert await create({**good, "operators": ["not-a-caller"]}) == (400, "unknown_operator")
    assert await create({**good, "colour": "red"}) == (400, "invalid_request")
    preview = await hub_client.post(
        "/api/console/campaigns/preview", json={"filters": {"age": 80}}, headers=coordinator
    )
    assert (preview.status, (await preview.json())["error"]) == (400, "unknown_filter")
    listing = await hub_client.get("/api/console/campaigns", headers=coordinator)
    assert (await listing.json())["campaigns"] == []  # nothing refused was stored


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_duplicate_campaign_is_refused(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    body = {"name": "Calor juliol", "filters": {"min_age": 80}}
    first = await hub_client.post("/api/console/campaigns", json=body, headers=coordinator)
    assert first.status == 201
    # The same name (any case, any spacing) while the first is open.
    again = await hub_client.post(
        "/api/console/campaigns",
        json={**body, "name": " calor  JULIOL "},
        headers=coordinator,
    )
    assert (again.status, (await again.json())["error"]) == (409, "duplicate_campaign")
    # Another name: everyone it selects has a campaign call today already.
    other = await hub_client.post(
        "/api/console/campaigns", json={**body, "name": "Fred"}, headers=coordinator
    )
    assert (other.status, (await other.json())["error"]) == (409, "already_called")
    missing = await hub_client.get("/api/console/campaigns/999999", headers=coordinator)
    assert missing.status == 404
    missing = await hub_client.post("/api/console/campaigns/999999/close", headers=coordinator)
    assert missing.status == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.COORDINATOR, True),
        (Role.SUPERVISOR, True),
        (Role.OPERATOR, False),
        (Role.SOCIAL_WORKER, False),
        (Role.ADMIN, False),
        (Role.FAMILY, False),
    ],
)
async def test_who_may_run_campaigns(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    role: Role,
    allowed: bool,
) -> None:
    headers = await auth_headers(role)
    body = {"name": "Calor", "filters": {"min_age": 80}}
    made = await hub_client.post("/api/console/campaigns", json=body, headers=headers)
    listing = await hub_client.get("/api/console/campaigns", headers=headers)
    preview = await hub_client.post(
        "/api/console/campaigns/preview", json={"filters": {}}, headers=headers
    )
    if allowed:
        assert (made.status, listing.status, preview.status) == (201, 200, 200)
    else:
        assert (made.status, listing.status, preview.status) == (403, 403, 403)
    assert (await hub_client.get("/api/console/campaigns")).status == 401


def test_progress_and_per_operator_count_each_call_once() -> None:
    def call(**kw: Any) -> WellbeingCall:
        return WellbeingCall(
            **{"attempts": 0, "assigned_to": None, "outcome": None, "done_by": None} | kw
        )

    calls = [
        call(assigned_to="a"),
        call(assigned_to="a", attempts=1),
        call(assigned_to="a", outcome="reached_follow_up", done_by="b"),
        call(outcome="no_answer", done_by="b", attempts=3),
        call(outcome="not_called", done_by="coord"),
        call(),
    ]
    assert campaigns.progress(calls) == {
        "total": 6,
        "pending": 2,
        "retrying": 1,
        "done": 1,
        "no_answer": 1,
        "not_called": 1,
        "reached_fine": 0,
        "reached_follow_up": 1,
        "declined": 0,
        "other": 0,
    }
    assert campaigns.per_operator(calls) == [
        {"operator": "a", "assigned": 3, "done": 0, "no_answer": 0, "pending": 2},
        {"operator": "b", "assigned": 0, "done": 1, "no_answer": 1, "pending": 0},
        {"operator": None, "assigned": 0, "done": 0, "no_answer": 0, "pending": 1},
    ]
