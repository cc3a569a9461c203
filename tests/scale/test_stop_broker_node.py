"""Stop a broker node mid-stream (issue 18, item 6b; docs/adr/0145).

A real 3-node RabbitMQ cluster (session fixture), two ``teleassist hub serve`` workers sharing
the 64 home partitions through PostgreSQL leases (ADR 0147), PostgreSQL, and a real device agent
per home logged in with its own credentials through a TCP balancer over the nodes.
The agents stream motion events and
temperature readings at QoS 1 and each home's pendant sends one panic, half of them while node 0
is being stopped. The node's clients (agents and workers' partition sessions) reconnect through
the balancer to the other nodes; the partition queues are quorum queues and keep what they held.

Checked: every panic is exactly one alarm (on a worker's operator socket and in the database);
every motion event the agent sent, which the broker acknowledged (each agent's outbox drains only
on PUBACK), is stored exactly once.
The worst press-to-socket time and the time the stop took are printed, not asserted.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, update

import protocol
from device_agent.agent import Agent
from device_agent.backoff import Backoff
from device_agent.clock import SystemClock
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from device_agent.sounder import LogSounder
from device_agent.sources.base import Reading
from firmware_sim import DeviceType
from hub.alarms.models import AlarmRow
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from hub.db.models import Device, StoredEvent
from hub.registry.credentials import mosquitto_hash
from teleassist.config import MqttSettings
from teleassist.neighbourhood import seed_neighbourhood
from teleassist.workers import HubWorker, cluster_env
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import machine_now
from tests.scale.conftest import RabbitSetup
from tests.scale.live import operator_socket, run_agent

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

HOMES = 6
ROUNDS = 40  # motion events per home; the stop comes after ROUNDS // 2
WAIT_S = 120.0


@dataclass
class Home:
    home_id: int
    gateway: str
    secret: str
    pendant: str
    motion: str
    thermometer: str


@dataclass
class Fleet:
    setup: RabbitSetup
    url: str
    workers: list[HubWorker]
    homes: list[Home]
    work: Path


async def _seed(url: str, key: str) -> list[Home]:
    await upgrade_to_head(url)
    engine = make_engine(url)
    homes = []
    try:
        async with make_sessionmaker(engine)() as session:
            seeded = await seed_neighbourhood(
                session, KeySafeCipher(key), HOMES, machine_now(), seed=31
            )
            for home in seeded.homes:
                spec = home.spec
                gateway = spec.gateway.device_id
                secret = secrets.token_urlsafe(16)
                await session.execute(
                    update(Device)
                    .where(Device.id == gateway)
                    .values(secret_hash=mosquitto_hash(secret))
                )
                # The gateway relays its sensors: the broker lets it publish their topics.
                await session.execute(
                    update(Device)
                    .where(Device.home_id == home.home_id, Device.id != gateway)
                    .values(gateway_id=gateway)
                )
                found = {
                    t: spec.find(t)
                    for t in (DeviceType.PENDANT, DeviceType.MOTION, DeviceType.THERMOMETER)
                }
                assert all(found.values())
                homes.append(
                    Home(
                        home.home_id,
                        gateway,
                        secret,
                        found[DeviceType.PENDANT].device_id,  # type: ignore[union-attr]
                        found[DeviceType.MOTION].device_id,  # type: ignore[union-attr]
                        found[DeviceType.THERMOMETER].device_id,  # type: ignore[union-attr]
                    )
                )
            await session.commit()
    finally:
        await engine.dispose()
    return homes


@pytest.fixture
def fleet(rabbit_setup: RabbitSetup, tmp_path: Path) -> Iterator[Fleet]:
    name = create_pg_database()
    url = pg_url(name)
    env = cluster_env(
        url,
        rabbit_setup.balancer.port,
        **rabbit_setup.hub_env(
            # The test streams faster than a real home: no flood limit in the way.
            TELEASSIST_HUB__INGEST_DEVICE_EVENTS_PER_S="1000",
            TELEASSIST_HUB__INGEST_DEVICE_EVENTS_BURST="1000",
            TELEASSIST_HUB__INGEST_DEVICE_TELEMETRY_PER_S="1000",
            TELEASSIST_HUB__INGEST_DEVICE_TELEMETRY_BURST="1000",
        ),
    )
    homes = asyncio.run(_seed(url, env["TELEASSIST_HUB__KEYSAFE_KEY"]))
    workers = [HubWorker("a", env, tmp_path), HubWorker("b", env, tmp_path)]
    try:
        for worker in workers:
            worker.start()
        rabbit_setup.relay.targets = [w.url for w in workers]
        yield Fleet(rabbit_setup, url, workers, homes, tmp_path)
    finally:
        for worker in workers:
            worker.stop()
        drop_pg_database(name)


def _agent(work: Path, port: int, home: Home) -> Agent:
    settings = AgentSettings(
        gateway_id=home.gateway, queue_path=str(work / f"{home.gateway}.sqlite3"), telemetry_qos=1
    )
    return Agent(
        settings,
        MqttSettings(
            host="127.0.0.1", port=port, username=home.gateway, password=home.secret, keepalive_s=5
        ),
        outbox=Outbox(settings.queue_path),
        clock=SystemClock(),
        sounder=LogSounder(),
        backoff=Backoff(base=0.05, cap=0.5),
    )


async def _stored(url: str) -> tuple[dict[str, int], int, dict[str, int]]:
    """Panic alarms per home, panic events stored, motion events stored per device."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            alarms = await session.execute(
                select(AlarmRow.home_id, func.count())
                .where(AlarmRow.data["rule"].as_string() == "panic")
                .group_by(AlarmRow.home_id)
            )
            panics = await session.scalar(
                select(func.count()).select_from(StoredEvent).where(StoredEvent.type == "panic")
            )
            motion = await session.execute(
                select(StoredEvent.device_id, func.count())
                .where(StoredEvent.type == "motion")
                .group_by(StoredEvent.device_id)
            )
            return (
                {str(home): int(n) for home, n in alarms},
                int(panics or 0),
                {str(device): int(n) for device, n in motion},
            )
    finally:
        await engine.dispose()


async def test_a_broker_node_stopped_mid_stream_loses_nothing(fleet: Fleet) -> None:
    homes = {str(h.home_id): h for h in fleet.homes}
    raised: dict[str, list[float]] = {home: [] for home in homes}
    snapshot = asyncio.Event()
    cluster = fleet.setup.cluster
    async with AsyncExitStack() as stack, aiohttp.ClientSession() as http:

        async def watch() -> None:
            async for frame in operator_socket(http, fleet.workers[1]):
                if frame.get("type") == "snapshot":
                    snapshot.set()
                alarm = frame.get("alarm")
                if (
                    frame.get("type") == "alarm.raised"
                    and isinstance(alarm, dict)
                    and alarm.get("rule") == "panic"
                    and str(alarm.get("home_id")) in raised
                ):
                    raised[str(alarm["home_id"])].append(time.monotonic())

        watcher = asyncio.create_task(watch())
        stack.callback(watcher.cancel)
        async with asyncio.timeout(WAIT_S):
            await snapshot.wait()
        port = fleet.setup.balancer.port
        agents = [_agent(fleet.work, port, h) for h in fleet.homes]
        for agent in agents:
            await run_agent(stack, agent, WAIT_S)

        pressed: dict[str, float] = {}
        sent = {h.motion: 0 for h in fleet.homes}
        stop_task: asyncio.Task[None] | None = None
        stop_started = 0.0
        for round_ in range(ROUNDS):
            if round_ == ROUNDS // 2:
                stop_started = time.monotonic()
                stop_task = asyncio.create_task(asyncio.to_thread(cluster.stop_node, 0))
            for n, (agent, home) in enumerate(zip(agents, fleet.homes, strict=True)):
                # The agent's own flood guard (1/s, burst 10 per device) drops some routine
                # events before they are queued: those were never sent, so never acknowledged.
                throttled = agent.counters.throttled
                await agent.submit(Reading(home.motion, protocol.Motion(), "motion"))
                if agent.counters.throttled == throttled:
                    sent[home.motion] += 1
                reading = protocol.Telemetry(kind="temperature", value=20 + round_ / 10, unit="C")
                await agent.submit(Reading(home.thermometer, reading, "thermometer"))
                # One panic per home: the first half before the stop, the rest during it.
                if round_ == ROUNDS // 2 - 2 + (n % 2) * 3:
                    pressed[str(home.home_id)] = time.monotonic()
                    await agent.submit(Reading(home.pendant, protocol.Panic(), "pendant"))
            await asyncio.sleep(0.05)  # a stream, not a burst
        assert stop_task is not None
        async with asyncio.timeout(WAIT_S):
            await stop_task
        stopped_s = time.monotonic() - stop_started

        # Everything is with the hub: each agent's outbox drained (routine events leave it on
        # the broker's PUBACK, panics on the hub's confirmation).
        async with asyncio.timeout(WAIT_S):
            while (
                not all(raised.values())
                or any(a.outbox.unconfirmed() for a in agents)
                or any(len(a.outbox) for a in agents)
            ):
                await asyncio.sleep(0.2)
        # A routine event's PUBACK comes from the broker (it is then in a quorum queue), not
        # from the hub: wait, bounded, until the hub has stored every one (or one too many).
        expected_motion = sent
        assert all(n >= 10 for n in sent.values())
        deadline = time.monotonic() + WAIT_S
        while True:
            alarms, panics, motion = await _stored(fleet.url)
            if motion == expected_motion and panics >= HOMES:
                break
            if any(motion.get(d, 0) > n for d, n in expected_motion.items()):
                break
            if time.monotonic() > deadline:
                break  # the assertions below say what is missing
            await asyncio.sleep(0.2)

        assert {home: len(times) for home, times in raised.items()} == dict.fromkeys(homes, 1)
        assert alarms == dict.fromkeys(homes, 1)
        assert panics == HOMES
        assert motion == expected_motion
        worst = max(raised[home][0] - pressed[home] for home in homes)
        print(
            json.dumps(
                {
                    "homes": HOMES,
                    "nodes": 3,
                    "workers": len(fleet.workers),
                    "panics": HOMES,
                    "alarms": sum(alarms.values()),
                    "motion_events_stored": sum(motion.values()),
                    "node_stop_s": round(stopped_s, 2),
                    "worst_press_to_socket_s": round(worst, 3),
                    "resend_rounds": sum(a.counters.resent for a in agents),
                }
            )
        )
