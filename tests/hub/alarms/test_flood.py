"""A flood from one faulty home cannot delay a panic from another home, through a private
Mosquitto into a real hub.

The faulty home's work is made as slow as it can get: its per-home lock in the alarm engine
is held, so every sink worker that takes one of its events is stuck, and its events (stored
by ingestion) pile up unapplied — routine ones (motion) and alarm-capable ones (door, bed)
alike. The other home's panic still reaches the operator's live socket while that backlog is
there: it overtook the flood (ordering, not wall-clock time). Then the flood drains, every
event of it applied, and the panic was raised once.

1. Telemetry (with some events) from the fleet generator, 800 messages a second.
2. A faulty PIR: more motion events than the alarm sink's lane for that home holds, so
   handing them on to the sink blocks (the case ADR 0035 fixes in ingestion).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from aiohttp import ClientWebSocketResponse, web
from sqlalchemy import func, select

from firmware_sim.fleet import FleetSpec, home_id, run_fleet
from firmware_sim.home import standard_home
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.models import ProcessedEventRow
from hub.alarms.sink import QUEUE_SIZE, WORKERS
from hub.app import CLOCK, SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.settings import HubSettings
from protocol import Channel, Motion, Panic, device_topic, encode, envelope, new_message_id
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, running_mosquitto
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, eventually, seed_home

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FLOOD_RATE = 800.0  # messages per second from ONE home (a normal home sends a few a minute)
BACKLOG = 15  # events of the faulty home stored but not applied before the panic is pressed
LANE = QUEUE_SIZE // WORKERS  # routine events of one home the alarm sink holds


@dataclass
class FloodHub:
    app: web.Application
    client: Any
    socket: ClientWebSocketResponse
    headers: dict[str, str]
    broker: MosquittoBroker
    faulty_home: int
    calm_home: int
    pendant: str

    async def stored(self, prefix: str) -> int:
        """Events of devices starting with ``prefix`` in the events table."""
        async with self.app[SESSIONMAKER]() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(StoredEvent)
                .where(StoredEvent.device_id.startswith(prefix))
            )
        return int(found or 0)

    async def applied(self, prefix: str) -> int:
        """... of which the alarm engine has applied (and recorded) how many."""
        await self.app[ALARM_ENGINE].flush()
        async with self.app[SESSIONMAKER]() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(StoredEvent)
                .join(
                    ProcessedEventRow,
                    (ProcessedEventRow.device_id == StoredEvent.device_id)
                    & (ProcessedEventRow.message_id == StoredEvent.message_id),
                )
                .where(StoredEvent.device_id.startswith(prefix))
            )
        return int(found or 0)

    async def next_alarm(self) -> dict[str, Any]:
        async with asyncio.timeout(60):
            while True:
                message = await self.socket.receive_json()
                if message["type"] == "alarm.raised":
                    return dict(message["alarm"])

    @contextlib.asynccontextmanager
    async def stuck(self) -> AsyncIterator[None]:
        """The faulty home at its slowest: every worker that takes one of its events waits."""
        lock = self.app[ALARM_ENGINE]._lock(str(self.faulty_home))
        await lock.acquire()
        try:
            yield
        finally:
            lock.release()

    async def calm_alarms(self) -> list[tuple[str, list[str]]]:
        response = await self.client.get("/api/alarms?status=all", headers=self.headers)
        listed = await response.json()
        # (The faulty home may have alarms of its own: a door opened at night is one.)
        return [
            (a["rule"], a["event_ids"])
            for a in listed["alarms"]
            if a["home_id"] == str(self.calm_home)
        ]


@contextlib.asynccontextmanager
async def flood_hub(
    hub_settings: HubSettings, tmp_path: Any, aiohttp_client: Any, faulty: dict[str, str]
) -> AsyncIterator[FloodHub]:
    tag = f"fl{secrets.token_hex(3)}"
    db = make_engine(hub_settings.database_url)
    try:
        sessions = make_sessionmaker(db)
        faulty_home, _ = await seed_home(sessions, faulty)
        calm_home, _ = await seed_home(sessions, {f"{tag}-pendant": "pendant"})
    finally:
        await db.dispose()
    with running_mosquitto(tmp_path) as broker:
        settings = msgspec.structs.replace(
            hub_settings,
            ingest_client_id=f"hub-{tag}",
            ingest_share_group=f"g{tag}",
            ingest_flush_interval_s=0.05,
            # No device rate limit: the flood must reach the alarm sink, whose isolation is
            # what these tests are about (the limit: tests/hub/ingest/test_flooding.py).
            ingest_device_events_per_s=1e9,
            ingest_device_events_burst=10**9,
            ingest_device_telemetry_per_s=1e9,
            ingest_device_telemetry_burst=10**9,
        )
        app = create_app(settings, mqtt=MqttSettings(host=broker.host, port=broker.port))
        client = await aiohttp_client(app)
        async with asyncio.timeout(30):
            await app[MQTT_CLIENT].subscribed.wait()
        async with app[SESSIONMAKER]() as session:
            user = await create_user(session, f"op-{tag}", TEST_PASSWORD, Role.OPERATOR)
            await session.commit()
            pair = await issue_tokens(session, user, app[SETTINGS], app[CLOCK]())
            await session.commit()
        headers = {"Authorization": f"Bearer {pair.access_token}"}
        socket = await client.ws_connect("/api/alarms/live", headers=headers)
        assert (await socket.receive_json())["type"] == "snapshot"
        try:
            yield FloodHub(
                app, client, socket, headers, broker, faulty_home, calm_home, f"{tag}-pendant"
            )
        finally:
            await socket.close()


async def test_a_telemetry_flood_cannot_delay_another_homes_panic(
    hub_settings: HubSettings, tmp_path: Any, aiohttp_client: Any
) -> None:
    prefix = f"fh{secrets.token_hex(3)}-h"
    faulty = home_id(prefix, 0)
    devices = {spec.device_id: spec.device_type.value for spec in standard_home(faulty).devices}
    devices.setdefault(f"{faulty}-gw", "gateway")
    async with flood_hub(hub_settings, tmp_path, aiohttp_client, devices) as hub:
        ingester = hub.app[INGESTER]
        publisher = Publisher(hub.broker.host, hub.broker.port)
        async with hub.stuck():
            flood = asyncio.create_task(
                run_fleet(
                    FleetSpec(
                        hub.broker.host,
                        hub.broker.port,
                        0,
                        1,
                        duration_s=3.0,
                        rate=FLOOD_RATE,
                        prefix=prefix,
                    )
                )
            )
            try:

                async def backlog_built() -> bool:
                    return await hub.stored(faulty) >= BACKLOG

                await eventually(backlog_built, timeout=60)
                telemetry_before = ingester.stats.accepted["telemetry"]
                panic_id = publisher.send(hub.pendant, Channel.EVENT, Panic())
                alarm = await hub.next_alarm()
                assert (alarm["home_id"], alarm["rule"]) == (str(hub.calm_home), "panic")
                assert alarm["event_ids"] == [panic_id]
                # Delivered while the flood's events wait behind it, none of them applied.
                backlog = await hub.stored(faulty)
                assert backlog >= BACKLOG
                assert await hub.applied(faulty) == 0
            finally:
                stats = await flood
                publisher.close()
        # The flood was a flood, and it drains: every event of it applied, none lost.
        assert stats.msgs_sent >= FLOOD_RATE * 2
        assert ingester.stats.accepted["telemetry"] > telemetry_before
        assert await hub.stored(faulty) > backlog

        async def drained() -> bool:
            return await hub.applied(faulty) == await hub.stored(faulty)

        await eventually(drained, timeout=120)
        assert await hub.calm_alarms() == [("panic", [panic_id])]


async def test_a_faulty_pir_flooding_its_lane_cannot_delay_another_homes_panic(
    hub_settings: HubSettings, tmp_path: Any, aiohttp_client: Any
) -> None:
    pir = f"fp{secrets.token_hex(3)}-pir"
    async with flood_hub(hub_settings, tmp_path, aiohttp_client, {pir: "motion"}) as hub:
        publisher = Publisher(hub.broker.host, hub.broker.port)
        try:
            async with hub.stuck():
                # More motion events than the sink's lane for that home can hold: handing
                # them on blocks until the home's work moves (it does not, here).
                flood = LANE + 300
                for _ in range(flood):
                    publisher.client.publish(*_motion(publisher, pir))

                async def flood_stored() -> bool:
                    return await hub.stored(pir) == flood

                await eventually(flood_stored, timeout=120)
                panic_id = publisher.send(hub.pendant, Channel.EVENT, Panic())
                alarm = await hub.next_alarm()
                assert (alarm["home_id"], alarm["rule"]) == (str(hub.calm_home), "panic")
                assert alarm["event_ids"] == [panic_id]
                assert await hub.applied(pir) == 0
            # The PIR's home moves again: its events are all applied.

            async def drained() -> bool:
                return await hub.applied(pir) == flood

            await eventually(drained, timeout=120)
            assert await hub.calm_alarms() == [("panic", [panic_id])]
        finally:
            publisher.close()


def _motion(publisher: Publisher, device: str) -> tuple[str, bytes, int]:
    """A motion event of ``device`` as (topic, payload, qos), next in its sequence."""
    seq = publisher.seq.get(device, -1) + 1
    publisher.seq[device] = seq
    message = envelope(Motion(room="hall"), id=new_message_id(), ts=publisher.clock(), seq=seq)
    return device_topic(device, Channel.EVENT), encode(message), 1
