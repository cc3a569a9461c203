"""A flood of telemetry from one faulty home (the fleet generator, hundreds of messages a
second through a private Mosquitto into a real hub) cannot delay a panic from another home.

The faulty home's events are made as slow as they can get: its per-home lock in the alarm
engine is held, so every sink worker that takes one of its events is stuck, and its events
(stored by ingestion) pile up unapplied — routine ones (motion) and alarm-capable ones
(door, bed) alike. The other home's panic still reaches the operator's live socket while
that backlog is there: it overtook the flood (ordering, not wall-clock time). Then the
flood drains, every event of it applied, and nothing was raised but the panic."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from firmware_sim.fleet import FleetSpec, home_id, run_fleet
from firmware_sim.home import standard_home
from hub.alarms.models import ProcessedEventRow
from hub.alarms.routes import ALARM_ENGINE
from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.settings import HubSettings
from protocol import Channel, Panic
from teleassist.config import MqttSettings
from teleassist.localbroker import running_mosquitto
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, eventually, seed_home

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FLOOD_RATE = 800.0  # messages per second from ONE home (a normal home sends a few a minute)
BACKLOG = 15  # events of the faulty home stored but not applied before the panic is pressed


async def test_a_flooding_home_cannot_delay_another_homes_panic(
    hub_settings: HubSettings, tmp_path: Any, aiohttp_client: Any
) -> None:
    tag = f"fl{secrets.token_hex(3)}"
    prefix = f"{tag}-h"
    faulty = home_id(prefix, 0)
    devices = {spec.device_id: spec.device_type.value for spec in standard_home(faulty).devices}
    devices.setdefault(f"{faulty}-gw", "gateway")
    db = make_engine(hub_settings.database_url)
    try:
        sessions = make_sessionmaker(db)
        faulty_home, _ = await seed_home(sessions, devices)
        calm_home, _ = await seed_home(sessions, {f"{tag}-pendant": "pendant"})
    finally:
        await db.dispose()
    with running_mosquitto(tmp_path) as broker:
        settings = msgspec.structs.replace(
            hub_settings,
            ingest_client_id=f"hub-{tag}",
            ingest_share_group=f"g{tag}",
            ingest_flush_interval_s=0.05,
        )
        app = create_app(settings, mqtt=MqttSettings(host=broker.host, port=broker.port))
        client = await aiohttp_client(app)
        async with asyncio.timeout(30):
            await app[MQTT_CLIENT].subscribed.wait()
        async with app[SESSIONMAKER]() as session:
            user = await create_user(session, f"op-{tag}", TEST_PASSWORD, Role.OPERATOR)
            await session.commit()
            pair = await issue_tokens(session, user, app[SETTINGS], datetime.now(UTC))
            await session.commit()
        headers = {"Authorization": f"Bearer {pair.access_token}"}
        socket = await client.ws_connect("/api/alarms/live", headers=headers)
        assert (await socket.receive_json())["type"] == "snapshot"
        engine, ingester = app[ALARM_ENGINE], app[INGESTER]

        async def stored_count(prefix: str) -> int:
            async with app[SESSIONMAKER]() as session:
                found = await session.scalar(
                    select(func.count())
                    .select_from(StoredEvent)
                    .where(StoredEvent.device_id.startswith(prefix))
                )
            return int(found or 0)

        async def applied_count(prefix: str) -> int:
            async with app[SESSIONMAKER]() as session:
                found = await session.scalar(
                    select(func.count())
                    .select_from(StoredEvent)
                    .join(
                        ProcessedEventRow,
                        ProcessedEventRow.message_id == StoredEvent.message_id,
                    )
                    .where(StoredEvent.device_id.startswith(prefix))
                )
            return int(found or 0)

        # The faulty home at its slowest: every worker that takes one of its events waits.
        stuck = engine._lock(str(faulty_home))
        await stuck.acquire()
        flood = asyncio.create_task(
            run_fleet(
                FleetSpec(
                    broker.host, broker.port, 0, 1, duration_s=3.0, rate=FLOOD_RATE, prefix=prefix
                )
            )
        )
        publisher = Publisher(broker.host, broker.port)
        try:

            async def backlog_built() -> bool:
                return await stored_count(faulty) >= BACKLOG

            await eventually(backlog_built, timeout=60)
            telemetry_before = ingester.stats.accepted["telemetry"]
            panic_id = publisher.send(f"{tag}-pendant", Channel.EVENT, Panic())
            async with asyncio.timeout(60):
                while True:
                    message = await socket.receive_json()
                    if message["type"] == "alarm.raised":
                        break
            alarm = message["alarm"]
            assert (alarm["home_id"], alarm["rule"]) == (str(calm_home), "panic")
            assert alarm["event_ids"] == [panic_id]
            # Delivered while the flood's events wait behind it, none of them applied.
            backlog = await stored_count(faulty)
            assert backlog >= BACKLOG
            assert await applied_count(faulty) == 0
        finally:
            stuck.release()
            stats = await flood
            publisher.close()
        # The flood was a flood, and it drains: every event of it applied, none lost.
        assert stats.msgs_sent >= FLOOD_RATE * 2
        assert ingester.stats.accepted["telemetry"] > telemetry_before
        flood_events = await stored_count(faulty)
        assert flood_events > backlog

        async def drained() -> bool:
            await engine.flush()
            return await applied_count(faulty) == await stored_count(faulty)

        await eventually(drained, timeout=120)
        listed = await (await client.get("/api/alarms?status=all", headers=headers)).json()
        # (The faulty home may have its own alarms: a door opened at night is one.)
        calm = [a for a in listed["alarms"] if a["home_id"] == str(calm_home)]
        assert [(a["rule"], a["event_ids"]) for a in calm] == [("panic", [panic_id])]
        await socket.close()
