"""What the cluster tests share: a fresh PostgreSQL database per test, its sessions, and the
partition leases in it (as many partitions as the test module's ``PARTITIONS``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cluster import LeaseStore
from hub.db import make_engine, make_sessionmaker
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url


@pytest.fixture
def pg_name(_postgres_template: str) -> Iterator[str]:
    """A database of its own, made from the migrated template, dropped after the test."""
    name = create_pg_database(template=_postgres_template)
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture
async def sessions(pg_name: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on that database."""
    engine = make_engine(pg_url(pg_name))
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def leases(
    request: pytest.FixtureRequest, sessions: async_sessionmaker[AsyncSession]
) -> LeaseStore:
    """The lease store, its partitions created (the module's ``PARTITIONS``)."""
    found = LeaseStore(sessions)
    await found.ensure(request.module.PARTITIONS)
    return found
