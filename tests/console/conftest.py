"""Console fixtures: the demo residents seeded into the test hub."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import CLOCK, KEYSAFE
from hub.console.demo_data import DemoIds, seed_demo


@pytest.fixture
async def demo(
    hub_client: TestClient[Any, Any], hub_sessionmaker: async_sessionmaker[AsyncSession]
) -> DemoIds:
    """Three demo residents with contacts, devices and a day of activity, plus staff."""
    async with hub_sessionmaker() as session:
        ids = await seed_demo(session, hub_client.app[KEYSAFE], hub_client.app[CLOCK]())
        await session.commit()
    return ids
