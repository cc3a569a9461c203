"""One sender's posts are limited (issue 19, medium: no limit on messages): messages, group
events and agenda items share a per-sender budget, exact under parallel posts, 429 with
Retry-After, and nothing is stored for a refused post. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse

from config import Config
from hub.app import create_app
from hub.auth import Role
from hub.clock import ManualClock
from hub.family.sending import send_limit
from hub.family.settings import FamilySettings
from hub.settings import HubSettings
from tests.family.conftest import Person, Tablet, World

BUDGET = FamilySettings().send_max_posts
WINDOW_S = FamilySettings().send_window_s


def _soon(clock: ManualClock) -> str:
    return (clock() + timedelta(days=2)).isoformat()


async def _message(world: World, cid: int, who: Person | Tablet, text: str) -> ClientResponse:
    return await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": text}, headers=who.headers
    )


async def _count_messages(world: World, cid: int, reader: Person | Tablet) -> int:
    page: dict[str, Any] = await (
        await world.client.get(
            f"/api/family/conversations/{cid}/messages?limit=100", headers=reader.headers
        )
    ).json()
    return len(page["messages"])


async def _refusal(resp: ClientResponse) -> int:
    assert resp.status == 429, await resp.text()
    assert (await resp.json())["error"] == "too_many_messages"
    return int(resp.headers["Retry-After"])


async def test_messages_stop_at_the_budget_for_that_sender_only(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    cid = int((await world.link(maria, anna))["conversation_id"])
    tries = BUDGET + 8
    answers = await asyncio.gather(*[_message(world, cid, anna, f"m{n}") for n in range(tries)])
    statuses = sorted(r.status for r in answers)
    assert statuses == [201] * BUDGET + [429] * 8
    waits = {await _refusal(r) for r in answers if r.status == 429}
    assert waits == {WINDOW_S}  # the clock has not moved since the first post
    # Refused posts left nothing; Maria was not flooded past the budget.
    assert await _count_messages(world, cid, maria) == BUDGET
    # The budget is per sender: Maria answers as usual.
    assert (await _message(world, cid, maria, "Prou!")).status == 201
    # Another kind of post shares Anna's budget: an agenda item is refused too.
    agenda = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/agenda",
        json={"title": "Dinar", "starts_at": _soon(hub_clock)},
        headers=anna.headers,
    )
    assert await _refusal(agenda) == WINDOW_S
    hub_clock.advance(timedelta(seconds=WINDOW_S - 60))
    assert await _refusal(await _message(world, cid, anna, "encara no")) == 60
    hub_clock.advance(timedelta(seconds=60))
    assert (await _message(world, cid, anna, "ja puc")).status == 201


async def test_group_events_count_against_the_facilitator(
    world: World, hub_clock: ManualClock
) -> None:
    facilitator = await world.person(Role.FACILITATOR, name="Laia")
    maria = await world.resident("Maria")
    group = await world.client.post(
        "/api/family/groups", json={"name": "Casal"}, headers=facilitator.headers
    )
    gid = (await group.json())["id"]
    await world.join_group(gid, facilitator, maria)

    async def event(n: int) -> ClientResponse:
        return await world.client.post(
            f"/api/family/groups/{gid}/events",
            json={"title": f"Taller {n}", "starts_at": _soon(hub_clock)},
            headers=facilitator.headers,
        )

    answers = await asyncio.gather(*[event(n) for n in range(BUDGET + 3)])
    assert sorted(r.status for r in answers) == [201] * BUDGET + [429] * 3
    agenda = await (
        await world.client.get(
            f"/api/family/residents/{maria.resident_id}/agenda", headers=maria.headers
        )
    ).json()
    assert len(agenda) == BUDGET


def test_the_budget_comes_from_the_family_section(hub_settings: HubSettings) -> None:
    config = Config().with_overrides("family", send_max_posts=2, send_window_s=60)
    limit = send_limit(create_app(hub_settings, config=config))
    assert (limit.limit, limit.window) == (2, timedelta(seconds=60))
    assert BUDGET >= 20, "a person chatting must not meet the limit"
