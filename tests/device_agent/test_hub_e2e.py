"""Agent → Mosquitto outage → hub ingestion: every alarm stored exactly once."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

import protocol
from device_agent.backoff import Backoff
from device_agent.clock import ManualClock
from device_agent.sources.base import Reading
from hub.app import EVENT_SINKS, create_app
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import MQTT_CLIENT
from hub.settings import HubSettings
from teleassist.config import MqttSettings
from teleassist.localbroker import free_port, running_mosquitto
from tests.device_agent.test_agent import eventually, make_agent, running
from tests.hub.ingest.helpers import RecordingSink, seed_home
from tests.instants import machine_now


@pytest.mark.broker
async def test_alarms_reach_the_hub_exactly_once_across_a_broker_outage(
    tmp_path: Path, aiohttp_client: Any, hub_settings: HubSettings
) -> None:
    prefix = f"e2e{secrets.token_hex(3)}"
    gateway, pendant, thermo = f"{prefix}-gw", f"{prefix}-pendant", f"{prefix}-temp"
    engine = make_engine(hub_settings.database_url)
    try:
        await seed_home(
            make_sessionmaker(engine),
            {gateway: "gateway", pendant: "pendant", thermo: "thermometer"},
        )
    finally:
        await engine.dispose()
    port = free_port()
    with running_mosquitto(tmp_path, port=port) as broker:
        settings = msgspec.structs.replace(
            hub_settings,
            ingest_client_id=f"hub-{prefix}",
            ingest_share_group=f"g{prefix}",
            ingest_flush_interval_s=0.05,
        )
        app = create_app(settings, mqtt=MqttSettings(host="127.0.0.1", port=port))
        sink = RecordingSink()
        app[EVENT_SINKS].append(sink)
        await aiohttp_client(app)
        hub_mqtt = app[MQTT_CLIENT]
        async with asyncio.timeout(30):
            await hub_mqtt.subscribed.wait()

        agent = make_agent(tmp_path, port, ManualClock(machine_now()), gateway=gateway)
        async with running(agent):
            await eventually(agent.connected.is_set)
            await agent.submit(Reading(pendant, protocol.Panic(), "pendant"))
            await eventually(lambda: len(sink.events) == 1)

            await asyncio.to_thread(broker.kill)
            await eventually(lambda: not agent.connected.is_set())
            produced: list[datetime] = []
            base = machine_now() - timedelta(minutes=1)
            for i in range(60):
                ts = base + timedelta(milliseconds=500 * i)
                if i % 6 == 0:
                    produced.append(ts)
                    await agent.submit(Reading(pendant, protocol.Panic(), "pendant", ts=ts))
                else:
                    body = protocol.Telemetry(kind="temperature", value=21.0, unit="Cel")
                    await agent.submit(Reading(thermo, body, "thermometer", ts=ts))
            # Keep the agent out until the hub has subscribed again (its session on this
            # throw-away broker died with it; in production the broker persists it).
            agent.backoff = Backoff(base=3600, cap=3600, jitter=0)
            await eventually(lambda: agent.backoff.attempt >= 1)
            await asyncio.to_thread(broker.start)
            async with asyncio.timeout(60):
                await hub_mqtt.subscribed.wait()
            agent.reconnect_now()
            async with asyncio.timeout(60):
                await agent.wait_drained()
            await eventually(lambda: len(sink.events) == 1 + len(produced))

        alarms = [e for e in sink.events if e.device_id == pendant]
        assert len({e.message_id for e in alarms}) == len(alarms) == 1 + len(produced)
        assert sorted(e.device_ts for e in alarms[1:]) == produced
        assert [e.seq for e in alarms] == sorted(e.seq for e in alarms)
        engine = make_engine(hub_settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                stored = await session.scalar(
                    select(func.count())
                    .select_from(StoredEvent)
                    .where(StoredEvent.device_id == pendant)
                )
        finally:
            await engine.dispose()
        assert stored == 1 + len(produced)
