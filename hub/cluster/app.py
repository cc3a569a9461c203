"""Runs the ownership loop with the hub when ``hub.partitions`` > 0 (docs/adr/0147).

Its cleanup context comes after ingestion's and the alarm engine's (``hub.app.ROUTE_MODULES``
order), so their participants are registered before the first beat, and at shutdown this
worker revokes and releases its partitions before they stop: a worker that leaves hands its
homes over within one beat of the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from hub.appkeys import ENGINE, SESSIONMAKER, SETTINGS
from hub.cluster.keys import OWNERSHIP, PARTITION_PARTICIPANTS
from hub.cluster.leases import LeaseStore
from hub.cluster.owner import Ownership
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
FIRST_BEAT_S = 30.0


def worker_name(client_id: str) -> str:
    """This worker's name in the leases: its MQTT client id (stable per worker), else the
    host name and process id."""
    return client_id or f"{socket.gethostname()}-{os.getpid()}"


async def _ownership_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.partitions <= 0:
        yield
        return
    if app[ENGINE].dialect.name != "postgresql":
        raise RuntimeError("hub.partitions needs PostgreSQL (leases live in the database)")
    participants = app[PARTITION_PARTICIPANTS]
    store = LeaseStore(app[SESSIONMAKER])
    await store.ensure(settings.partitions)
    ownership = Ownership(
        store,
        worker_name(settings.ingest_client_id),
        settings.partitions,
        participants,
        heartbeat_s=settings.lease_heartbeat_s,
        ttl_s=settings.lease_ttl_s,
    )
    app[OWNERSHIP] = ownership
    task = asyncio.create_task(ownership.run(), name="ownership")
    try:
        async with asyncio.timeout(FIRST_BEAT_S):
            await ownership.ready.wait()
    except TimeoutError:
        _LOGGER.warning("no ownership beat yet; serving anyway (it keeps trying)")
    try:
        yield
    finally:
        await cancel_and_wait((task,))
        try:
            await ownership.leave()
        except Exception:  # the leases then run out after lease_ttl_s instead
            _LOGGER.exception("releasing the partitions of %s failed", ownership.worker)


def setup(app: web.Application) -> None:
    """Start the ownership loop with the app (when configured)."""
    app.cleanup_ctx.append(_ownership_ctx)
