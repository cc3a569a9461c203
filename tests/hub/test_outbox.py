"""The wSocial outbox in the hub database (SQLite and PostgreSQL) and its admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role
from hub.db import make_engine, make_sessionmaker
from hub.db.models import AuditEntry
from hub.outbox import OutboxRow, SqlOutboxStore, enqueue
from integrations.wsocial.events import ServiceEvent
from integrations.wsocial.mapping import MappingError, to_resources
from teleassist.config import load_config
from teleassist.localbroker import free_port
from tests.hub.residents import add_resident
from tests.integrations.fhir_server import FakeFhirServer
from tests.integrations.samples import T0, sample_events
from tests.integrations.test_delivery import Rig

Client = TestClient[Any, Any]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _resident(sessions: async_sessionmaker[AsyncSession], social_record: bool = True) -> str:
    """A new resident's event key."""
    async with sessions() as session:
        resident = await add_resident(session, social_record=social_record)
        await session.commit()
        return str(resident.id)


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


async def test_enqueue_commits_with_the_change_or_not_at_all(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event = sample_events(await _resident(sessions))[0]
    async with sessions() as session:
        await record_audit(session, "system", "service.start", "service:1")
        await enqueue(session, event, now=T0)
        await session.rollback()
    assert await _count(sessions) == 0

    async with sessions() as session:
        await record_audit(session, "system", "service.start", "service:1")
        await enqueue(session, event, event_id="evt-1", now=T0)
        await enqueue(session, event, event_id="evt-1", now=T0)  # same id: kept once
        await session.commit()
    assert await _count(sessions) == 1
    assert (await SqlOutboxStore(sessions).counts())["pending"] == 1


async def test_an_unmappable_event_fails_inside_the_callers_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    naive = ServiceEvent(
        resident_id="r",
        occurred_at=T0,
        service_id="s",
        status="active",
        started_at=datetime(2026, 11, 2, 9, 0),
    )
    async with sessions() as session:
        with pytest.raises(MappingError, match="naive"):
            await enqueue(session, naive)
    assert await _count(sessions) == 0


async def test_sql_store_delivers_in_order_dead_letters_and_replays(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    server = FakeFhirServer(free_port())
    await server.start()
    try:
        store = SqlOutboxStore(sessions)
        async with aiohttp.ClientSession() as http:
            rig = Rig(server, http, store=store, max_attempts=3)
            rig.server.fail_after_apply_rate = 0.0
            server.failure_rate = 0.1
            rid = await _resident(sessions)
            server.refuse_keys = {f"alarm-{rid}-1"}
            events = sample_events(rid)
            async with sessions() as session:
                for event in events:
                    await enqueue(session, event, now=T0)
                await session.commit()
            await rig.drain()
            dead = await store.list("dead")
            assert sorted(d.kind for d in dead) == ["alarm", "escalation_112"]
            assert all(d.attempts == 3 for d in dead)
            server.refuse_keys = set()
            for record in dead:
                assert await store.replay(record.id, rig.clock())
                assert not await store.replay(record.id, rig.clock())
            await rig.drain()
            assert await store.counts() == {
                "pending": 0,
                "delivered": len(events),
                "dead": 0,
                "withdrawn": 0,
            }
    finally:
        await server.stop()
    assert server.ledger.duplicates == 0
    expected = {
        (m.resource_type, f"{m.identifier_system}|{m.identifier_value}")
        for m in (to_resources(e)[0] for e in events)
    }
    assert set(server.ledger.resources) == expected
    statuses = [s for t, _, s in server.ledger.history if t == "ServiceRequest"]
    assert statuses == sorted(statuses, key=["active", "on-hold", "completed"].index)


async def test_admin_sees_dead_letters_and_replays_them(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: Callable[..., Awaitable[dict[str, str]]],
) -> None:
    rid = await _resident(hub_sessionmaker)
    async with hub_sessionmaker() as session:
        added = [await enqueue(session, e, now=T0) for e in sample_events(rid)[:2]]
        await session.commit()
    rows = [row for row in added if row is not None]
    store = SqlOutboxStore(hub_sessionmaker)
    await store.mark_failed(rows[0].id, "HTTP 500: boom", T0 + timedelta(minutes=5), True)

    admin = await auth_headers(Role.ADMIN, username="ada")
    resp = await hub_client.get("/api/wsocial/outbox?state=dead", headers=admin)
    assert resp.status == 200
    (record,) = (await resp.json())["records"]
    assert record["id"] == rows[0].id
    assert record["last_error"] == "HTTP 500: boom"
    assert "payload" not in record
    counts = await (await hub_client.get("/api/wsocial/outbox/counts", headers=admin)).json()
    assert counts == {"pending": 1, "delivered": 0, "dead": 1, "withdrawn": 0}

    for role in (Role.OPERATOR, Role.SOCIAL_WORKER, Role.FAMILY):
        denied = await hub_client.get("/api/wsocial/outbox", headers=await auth_headers(role))
        assert denied.status == 403
    supervisor = await auth_headers(Role.SUPERVISOR)
    assert (await hub_client.get("/api/wsocial/outbox", headers=supervisor)).status == 200
    replay_url = f"/api/wsocial/outbox/{rows[0].id}/replay"
    assert (await hub_client.post(replay_url, headers=supervisor)).status == 403

    resp = await hub_client.post(replay_url, headers=admin)
    assert resp.status == 200
    again = await hub_client.post(replay_url, headers=admin)
    assert again.status == 409
    assert (await again.json())["error"] == "not_dead"
    missing = await hub_client.post("/api/wsocial/outbox/999999/replay", headers=admin)
    assert missing.status == 404
    bad = await hub_client.get("/api/wsocial/outbox?state=lost", headers=admin)
    assert bad.status == 400
    bad_limit = await hub_client.get("/api/wsocial/outbox?limit=x", headers=admin)
    assert bad_limit.status == 400
    async with hub_client.app[SESSIONMAKER]() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "wsocial.outbox.replay")
            )
        ).all()
    assert [(a.actor, a.object) for a in audit] == [("ada", f"outbox:{rows[0].id}")]
    assert (await store.counts())["pending"] == 2


async def test_hub_runs_the_worker_when_enabled(
    monkeypatch: pytest.MonkeyPatch,
    aiohttp_client: Callable[..., Awaitable[Client]],
    hub_settings: Any,
) -> None:
    import asyncio

    from hub.app import create_app
    from hub.outbox.keys import OUTBOX_WORKER
    from tests.integrations.fhir_server import CLIENT_ID, CLIENT_SECRET

    server = FakeFhirServer(free_port())
    await server.start()
    for key, value in {
        "ENABLED": "true",
        "BASE_URL": server.base_url,
        "TOKEN_URL": server.token_url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "POLL_S": "0.05",
    }.items():
        monkeypatch.setenv(f"TELEASSIST_WSOCIAL__{key}", value)
    try:
        client = await aiohttp_client(create_app(hub_settings, config=load_config()))
        assert OUTBOX_WORKER in client.app
        rid = await _resident(client.app[SESSIONMAKER])
        async with client.app[SESSIONMAKER]() as session:
            for event in sample_events(rid):
                await enqueue(session, event)
            await session.commit()
        client.app[OUTBOX_WORKER].wake()
        store = SqlOutboxStore(client.app[SESSIONMAKER])
        for _ in range(400):
            if (await store.counts())["delivered"] == len(sample_events()):
                break
            await asyncio.sleep(0.05)
        assert (await store.counts())["delivered"] == len(sample_events())
        await client.close()
    finally:
        await server.stop()
    assert server.ledger.duplicates == 0
