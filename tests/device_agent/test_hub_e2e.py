"""Agent → Mosquitto outage → hub ingestion: every alarm stored exactly once; a pill box's
confirmation through the agent counts at the hub, once."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from alerts import CarePlan, EscalationPolicy
from alerts.careplan import MedicationSchedule, MedicationSettings
from device_agent.backoff import Backoff
from device_agent.clock import ManualClock
from device_agent.clock import ManualClock as AgentClock
from device_agent.settings import Zigbee2MqttDevice, Zigbee2MqttSettings
from device_agent.sources.base import Reading
from device_agent.sources.zigbee2mqtt import Zigbee2MqttSource
from hub.alarms import store as alarm_store
from hub.alarms.adherence import resident_adherence
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.plans import care_service
from hub.app import EVENT_SINKS, SESSIONMAKER, create_app
from hub.clock import ManualClock as HubClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import Device, Resident, StoredEvent
from hub.ingest.app import MQTT_CLIENT
from hub.settings import HubSettings
from hub.web.dates import ZONE as LOCAL_ZONE
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, free_port, running_mosquitto
from tests.device_agent.test_agent import collector, eventually, make_agent, running
from tests.hub.ingest.helpers import RecordingSink, seed_home
from tests.hub.ingest.helpers import eventually as hub_eventually
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


@pytest.mark.broker
async def test_a_pill_box_confirms_a_dose_at_the_hub_once_even_replayed(
    tmp_path: Path,
    aiohttp_client: Any,
    hub_settings: HubSettings,
    hub_clock: HubClock,
    mosquitto: MosquittoBroker,
) -> None:
    """zigbee2mqtt's pill box → the bridge → the agent → Mosquitto → the hub: its
    confirmation (no dose named: the dose due nearest) counts like the tablet's — no
    medication alarm after the grace, one dose confirmed in the week's adherence — and the
    same message delivered twice (a store-and-forward re-send) is stored and counted once."""
    prefix = f"pb{secrets.token_hex(3)}"
    gateway, dispenser, base = f"{prefix}-gw", f"{prefix}-dispenser", f"z2m-{prefix}"
    engine = make_engine(hub_settings.database_url)
    try:
        _, resident_id = await seed_home(
            make_sessionmaker(engine), {gateway: "gateway", dispenser: "dispenser"}
        )
    finally:
        await engine.dispose()
    settings = msgspec.structs.replace(
        hub_settings,
        ingest_client_id=f"hub-{prefix}",
        ingest_share_group=f"g{prefix}",
        ingest_flush_interval_s=0.05,
    )
    app = create_app(
        settings, mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port), clock=hub_clock
    )
    await aiohttp_client(app)
    async with asyncio.timeout(30):
        await app[MQTT_CLIENT].subscribed.wait()
    # A dose due in two minutes, a 30-minute grace.
    due = (hub_clock().astimezone(LOCAL_ZONE) + timedelta(minutes=2)).time()
    plan = CarePlan(
        str(resident_id),
        medication=MedicationSettings(
            schedules=(MedicationSchedule("insulina", due),), ack_timeout=timedelta(minutes=30)
        ),
    )
    sessions = app[SESSIONMAKER]
    async with sessions() as session:
        await alarm_store.save_plan(session, plan, EscalationPolicy(), hub_clock())
        await session.commit()
    alarm_engine = app[ALARM_ENGINE]
    await alarm_engine.reload_plan(str(resident_id), str(await _home_of(sessions, dispenser)))

    bridge = Zigbee2MqttSource(
        Zigbee2MqttSettings(
            port=mosquitto.port,
            base_topic=base,
            devices={"Pill box": Zigbee2MqttDevice(device_id=dispenser, type="dispenser")},
        ),
        retry_s=0.1,
    )
    agent = make_agent(tmp_path, mosquitto.port, AgentClock(hub_clock()), gateway=gateway)
    agent.sources.append(bridge)

    async def stored(kind: str) -> list[StoredEvent]:
        async with sessions() as session:
            rows = await session.scalars(
                select(StoredEvent).where(
                    StoredEvent.device_id == dispenser, StoredEvent.type == kind
                )
            )
            return list(rows)

    with collector(mosquitto.port, f"ta/v1/d/{dispenser}/event") as sent:
        async with running(agent):
            await eventually(bridge.subscribed.is_set)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=base) as z2m:
                # The box between doses, then opened: the compartment's pills are gone.
                for state, pills in (("not_taken", 10), ("taken", 9)):
                    body = {"take_pill_state": state, "pill_remain": pills, "battery": 80}
                    await z2m.publish(f"{base}/Pill box", json.dumps(body), qos=1)
            await eventually(lambda: len(sent.messages) == 1)
            await hub_eventually(lambda: _one(stored("medication_taken")))

        # The same envelope again, as a gateway re-sends what it had no PUBACK for; then a
        # later event on the same topic (one a pill box may send), so that once it is
        # stored the replay was handled.
        [(topic, payload, _)] = sent.messages
        later = protocol.envelope(
            protocol.PowerRestored(), id=protocol.new_message_id(), ts=hub_clock(), seq=999
        )
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=f"{prefix}-re") as re:
            await re.publish(topic, payload, qos=1)
            await re.publish(topic, protocol.encode(later), qos=1)
        await hub_eventually(lambda: _one(stored("power_restored")))
    [taken] = await stored("medication_taken")
    assert taken.body["schedule"] == ""

    # The grace ends: no medication alarm, and the week counts the dose as confirmed.
    hub_clock.advance(timedelta(minutes=40))
    await alarm_engine.run_due()
    async with sessions() as session:
        alarms = await alarm_store.list_alarms(session, status="open", category=None, limit=20)
        resident = await session.get(Resident, resident_id)
        assert resident is not None
        _, [week] = await resident_adherence(session, resident, hub_clock(), 1, care_service(app))
    medication = [
        a
        for a in alarms
        if a.resident_id == str(resident_id) and any(r.value == "medication" for r in a.rules)
    ]
    assert medication == []
    # This week's earlier days' doses (the plan is older than the box) were not confirmed.
    assert week.confirmed == 1


async def _one(rows: Awaitable[list[StoredEvent]]) -> bool:
    return len(await rows) == 1


async def _home_of(sessions: async_sessionmaker[AsyncSession], device_id: str) -> int:
    async with sessions() as session:
        device = await session.get(Device, device_id)
        assert device is not None
        return device.home_id
