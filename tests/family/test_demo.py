"""The family demo seeds itself through the hub's API (screenshots and benches use it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.clock import ManualClock
from hub.db.models import Device
from hub.family.demo import create_demo_people, seed_demo_family
from teleassist.screenshots import _story as story

BARCELONA = ZoneInfo("Europe/Madrid")


async def test_the_demo_pairs_its_tablets_and_seeds_the_family(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    async with hub_sessionmaker() as session:
        demo = await create_demo_people(session)
        await session.commit()
    await seed_demo_family(str(hub_client.make_url("")).rstrip("/"), demo, now=hub_clock())
    # The tablets are registered devices of the residents' home, made by pairing.
    async with hub_sessionmaker() as session:
        tablets = set(
            await session.scalars(select(Device.resident_id).where(Device.type == "tablet"))
        )
    assert tablets == {demo.resident_id, demo.friend_id}
    me = await hub_client.get(
        "/api/family/me", headers={"Authorization": f"Bearer {demo.tablet_token}"}
    )
    assert (await me.json())["party"] == f"r:{demo.resident_id}"
    group = await hub_client.get(
        f"/api/family/groups/{demo.group_id}",
        headers={"Authorization": f"Bearer {demo.tablet_token}"},
    )
    assert group.status == 200
    assert {m["resident_id"] for m in (await group.json())["member_list"]} == {
        demo.resident_id,
        demo.friend_id,
    }


def test_the_family_demo_people_are_the_stories() -> None:
    """Issue 23: one cast across every surface; the family demo's resident, son and niece
    are the console demo's (the screenshots' story)."""
    from hub.console.demo_data import _PEOPLE
    from hub.family.demo import CIRCLE, RESIDENT

    name, born, language, address, *_, contacts, _form = _PEOPLE[0]
    assert (name, born, language, address) == RESIDENT
    assert (contacts[0][0], contacts[1][0]) == CIRCLE


@pytest.mark.parametrize("clock_start", [story.STORY_NOW])
async def test_the_demos_agenda_is_the_storys_week(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    """Issue 23: seeded at the story's instant (Thursday 3 December, 10:30), her agenda is the
    story's week as the tablet shows it: the doctor on Friday at 11:00, lunch with Jordi and
    Júlia on Saturday at 14:00 (his message's "Dissabte"), Núria's walk on Tuesday at 16:00,
    each with the icon the tablet would give its kind."""
    from tablet_app.family import _AGENDA_KINDS

    async with hub_sessionmaker() as session:
        demo = await create_demo_people(session)
        await session.commit()
    await seed_demo_family(str(hub_client.make_url("")).rstrip("/"), demo, now=hub_clock())
    items = await (
        await hub_client.get(
            f"/api/family/residents/{demo.resident_id}/agenda",
            headers={"Authorization": f"Bearer {demo.tablet_token}"},
        )
    ).json()
    shown = [
        (
            f"{datetime.fromisoformat(item['starts_at']).astimezone(BARCELONA):%Y-%m-%d %H:%M}",
            item["title"],
            _AGENDA_KINDS[item["kind"]],
            item["status"],
        )
        for item in sorted(items, key=lambda item: item["starts_at"])
    ]
    week = [(e.starts, e.title, e.kind, e.status) for e in story.AGENDA if e.by == "family"]
    assert shown == week
