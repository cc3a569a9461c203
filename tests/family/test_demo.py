"""The family demo seeds itself through the hub's API (screenshots and benches use it)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.clock import ManualClock
from hub.db.models import Device
from hub.family.demo import create_demo_people, seed_demo_family


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
