"""Two hub worker processes on one PostgreSQL database and one Mosquitto, alarm timers ON:
every worker's live sockets see every worker's alarms (LISTEN/NOTIFY, docs/adr/0038),
a listening connection killed by the server comes back, and a check-in deadline missed
while both workers run raises one alarm.

Worker A does not ingest, so everything from the homes is ingested by worker B: what A's
sockets show came across workers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import make_url, select

import protocol
from alerts import Action, RuleKind, initial_state, next_deadline
from alerts.careplan import BaselineSettings, CarePlan, CheckInSettings, InactivitySettings
from alerts.codec import alarm_from_json
from alerts.escalation import EscalationPolicy
from firmware_sim import DeviceType
from hub.alarms import store
from hub.alarms.fanout import asyncpg_dsn
from hub.alarms.models import AlarmRow
from hub.console.demo_data import DEMO_PASSWORD
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from teleassist.localbroker import running_mosquitto
from teleassist.neighbourhood import seed_neighbourhood
from teleassist.workers import HubWorker, cluster_env
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import machine_now

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]

HOMES = 4
WAIT_S = 60.0
Frame = dict[str, Any]


@dataclass
class Home:
    home_id: int
    resident_id: int
    pendant: str


@dataclass
class Cluster:
    url: str
    broker_port: int
    a: HubWorker
    b: HubWorker
    homes: list[Home]


async def _seed(url: str, key: str) -> list[Home]:
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            seeded = await seed_neighbourhood(
                session, KeySafeCipher(key), HOMES, machine_now(), seed=11
            )
            await session.commit()
            homes = []
            for home in seeded.homes:
                pendant = home.spec.find(DeviceType.PENDANT)
                assert pendant is not None
                homes.append(Home(home.home_id, home.resident_id, pendant.device_id))
            await _check_in_missed_a_minute_ago(session, homes[-1])
            await session.commit()
    finally:
        await engine.dispose()
    return homes


async def _check_in_missed_a_minute_ago(session: Any, home: Home) -> None:
    """The last resident's "I'm OK" deadline passed two minutes ago with no check-in,
    while no worker ran: both workers find the timer due as they start. (The workers are
    processes reading the machine's clock, so the deadline is taken from it too.)"""
    zone = ZoneInfo("Europe/Madrid")
    deadline = (machine_now().astimezone(zone) - timedelta(minutes=2)).replace(
        second=0, microsecond=0
    )
    plan = CarePlan(
        str(home.resident_id),
        inactivity=InactivitySettings(enabled=False),
        baseline=BaselineSettings(enabled=False),
        check_in=CheckInSettings(enabled=True, deadlines=(deadline.time(),)),
    )
    state = initial_state(
        plan, str(home.home_id), (deadline - timedelta(minutes=1)).astimezone(UTC)
    )
    due = next_deadline(plan, state)
    assert due is not None
    assert due <= deadline.astimezone(UTC)
    now = machine_now()
    await store.save_plan(session, plan, EscalationPolicy(), now)
    await store.save_state(session, state, due, now)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("fanout")
    name = create_pg_database()
    url = pg_url(name)
    with running_mosquitto(work) as broker:
        env = cluster_env(url, broker.port)
        homes = asyncio.run(_seed(url, env["TELEASSIST_HUB__KEYSAFE_KEY"]))
        a = HubWorker("a", env, work, ingest=False)
        b = HubWorker("b", env, work)
        try:
            # Together: both look for due timers at the same moment.
            with ThreadPoolExecutor(2) as pool:
                for started in [pool.submit(a.start), pool.submit(b.start)]:
                    started.result()
            yield Cluster(url, broker.port, a, b, homes)
        finally:
            a.stop()
            b.stop()
            drop_pg_database(name)


def _press(port: int, device: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{device}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        msg = protocol.envelope(
            protocol.Panic(), id=protocol.new_message_id(), ts=machine_now(), seq=1
        )
        client.publish(
            protocol.device_topic(device, protocol.Channel.EVENT), protocol.encode(msg), qos=1
        ).wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()


async def _login(http: aiohttp.ClientSession, worker: HubWorker, username: str) -> str:
    async with http.post(
        f"{worker.url}/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def _frame(ws: aiohttp.ClientWebSocketResponse, wanted: Callable[[Frame], bool]) -> Frame:
    """The next frame ``wanted`` accepts (others are skipped)."""
    async with asyncio.timeout(WAIT_S):
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame: Frame = json.loads(message.data)
            if wanted(frame):
                return frame
    raise AssertionError("the socket closed before the frame came")


def _about(
    kind: str, *, home: int | None = None, alarm: str | None = None
) -> Callable[[Frame], bool]:
    def wanted(frame: Frame) -> bool:
        found = frame.get("alarm") or {}
        return (
            frame.get("type") == kind
            and (home is None or found.get("home_id") == str(home))
            and (alarm is None or found.get("id") == alarm)
        )

    return wanted


async def test_alarms_raised_and_changed_anywhere_reach_every_workers_sockets(
    cluster: Cluster,
) -> None:
    a, b, home = cluster.a, cluster.b, cluster.homes[0]
    async with aiohttp.ClientSession() as http:
        token = await _login(http, a, "operadora")
        family = await _login(http, a, "familia")  # linked to the first home, alarms consent
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            http.ws_connect(f"{a.url}/api/alarms/live", headers=headers) as on_a,
            http.ws_connect(f"{b.url}/api/alarms/live", headers=headers) as on_b,
            http.ws_connect(
                f"{a.url}/api/family/ws", headers={"Authorization": f"Bearer {family}"}
            ) as family_on_a,
        ):
            await _frame(on_a, lambda f: f["type"] == "snapshot")
            await _frame(on_b, lambda f: f["type"] == "snapshot")
            await asyncio.to_thread(_press, cluster.broker_port, home.pendant)
            raised = await _frame(on_a, _about("alarm.raised", home=home.home_id))
            alarm_id = raised["alarm"]["id"]
            await _frame(on_b, _about("alarm.raised", alarm=alarm_id))
            notice = await _frame(family_on_a, lambda f: f.get("type") == "alarm.notice")
            assert notice["notice"]["alarm_ref"] == alarm_id
            assert notice["notice"]["state"] == "open"
            # Handled through worker A: worker B's operators see each step.
            async with http.post(
                f"{a.url}/api/alarms/{alarm_id}/accept", headers=headers
            ) as response:
                assert response.status == 200, await response.text()
            accepted = await _frame(on_b, _about("alarm.accepted", alarm=alarm_id))
            assert accepted["by"]["name"] == "operadora"
            async with http.post(
                f"{a.url}/api/alarms/{alarm_id}/resolve",
                json={"outcome": "resident_fine", "notes": "tot bé"},
                headers=headers,
            ) as response:
                assert response.status == 200, await response.text()
            resolved = await _frame(on_b, _about("alarm.resolved", alarm=alarm_id))
            assert resolved["alarm"]["state"] == "resolved"
            # The notice is sent again as the alarm progresses (accepted, …); wait for the close.
            closed = await _frame(
                family_on_a,
                lambda f: f.get("type") == "alarm.notice" and f["notice"]["state"] == "closed",
            )
            assert closed["notice"]["alarm_ref"] == alarm_id


async def test_a_killed_listener_comes_back_and_nothing_is_missed(cluster: Cluster) -> None:
    a, home = cluster.a, cluster.homes[1]
    before = await asyncio.to_thread(a.metric, "teleassist_alarm_fanout_reconnects")
    async with aiohttp.ClientSession() as http:
        token = await _login(http, a, "operadora")
        headers = {"Authorization": f"Bearer {token}"}
        async with http.ws_connect(f"{a.url}/api/alarms/live", headers=headers) as on_a:
            await _frame(on_a, lambda f: f["type"] == "snapshot")
            admin = await asyncpg.connect(asyncpg_dsn(make_url(cluster.url)))
            try:
                # This cluster's database only: worker names (and so listener names) repeat
                # in other clusters on the same server (the fan-out benchmark's, another
                # pytest-xdist worker's), and their listeners are not this test's to end.
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = $1 AND datname = current_database()",
                    a.listener_name,
                )
            finally:
                await admin.close()
            assert killed == 1
            # Pressed at once: committed by B while A reconnects (A reads it back), or just
            # after (signalled); "alarm.raised" either way.
            await asyncio.to_thread(_press, cluster.broker_port, home.pendant)
            await _frame(on_a, _about("alarm.raised", home=home.home_id))
    async with asyncio.timeout(WAIT_S):
        while await asyncio.to_thread(a.metric, "teleassist_alarm_fanout_reconnects") <= before:
            await asyncio.sleep(0.2)
    assert await asyncio.to_thread(a.metric, "teleassist_alarm_fanout_listening") == 1


async def test_a_missed_check_in_with_two_workers_raises_one_alarm(cluster: Cluster) -> None:
    home = cluster.homes[-1]
    # Both workers have finished a timer pass since they started (after the deadline).
    async with asyncio.timeout(WAIT_S):
        for worker in (cluster.a, cluster.b):
            while await asyncio.to_thread(worker.metric, "teleassist_alarm_timer_passes") < 1:
                await asyncio.sleep(0.2)
    engine = make_engine(cluster.url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.scalars(
                    select(AlarmRow).where(AlarmRow.resident_id == str(home.resident_id))
                )
            ).all()
    finally:
        await engine.dispose()
    alarms = [alarm_from_json(row.data) for row in rows]
    assert [alarm.rule for alarm in alarms] == [RuleKind.MISSED_CHECK_IN]
    (alarm,) = alarms
    detections = alarm.entries(Action.RAISED) + alarm.entries(Action.EVENT_ATTACHED)
    assert len(detections) == 1
