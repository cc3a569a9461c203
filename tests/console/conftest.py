"""Console fixtures: the demo residents seeded into the test hub; the screenshots' demo hub
served, for the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
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


@pytest_asyncio.fixture(loop_scope="session")
async def demo_url() -> AsyncIterator[str]:
    """The operator screenshots' demo hub, served (browser tests): its address."""
    from tests.console.browser import served_demo_hub  # Playwright only where it is used

    async with served_demo_hub() as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def demo_app() -> AsyncIterator[tuple[Any, str]]:
    """The same hub (browser tests that read its database too): its app and its address."""
    from tests.console.browser import served_demo

    async with served_demo() as (app, url, _):
        yield app, url
