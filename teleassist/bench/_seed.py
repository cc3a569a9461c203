"""Benchmark homes seeded straight into a fresh database: home ``i`` has resident ``i``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

BATCH = 2000

Rows = Callable[[range], Iterable[dict[str, Any]]]
MoreRows = Callable[[AsyncConnection, range], Awaitable[None]]


async def seed_homes(
    database_url: str, homes: int, devices: Rows, more: MoreRows | None = None
) -> None:
    """Migrate ``database_url`` and add ``homes`` homes with one resident each, in batches.

    ``devices(ids)`` gives the device rows of a batch of home ids; ``more(conn, ids)`` adds
    whatever else a benchmark needs for those homes in the same transaction.
    """
    from hub.db import make_engine, upgrade_to_head
    from hub.db.models import Device, Home, Resident

    await upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            for start in range(0, homes, BATCH):
                ids = range(start + 1, min(homes, start + BATCH) + 1)
                await conn.execute(
                    insert(Home), [{"id": i, "address": f"Carrer Bench {i}"} for i in ids]
                )
                await conn.execute(
                    insert(Resident),
                    [{"id": i, "home_id": i, "name": f"Resident {i}"} for i in ids],
                )
                await conn.execute(insert(Device), list(devices(ids)))
                if more is not None:
                    await more(conn, ids)
    finally:
        await engine.dispose()
