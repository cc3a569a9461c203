"""Per-device authorisation decided by the hub at run time, on every node of a RabbitMQ cluster
(issue 18 items 1 and 6d; docs/adr/0146).

A real ``teleassist hub serve`` with ``ingest_transport = rabbitmq`` answers the cluster's HTTP
auth backend. A device provisioned through the API while everything runs can connect to each
of the three nodes and publish its own topics (and the hub receives them through the device's
partition), but not another device's topic, nor with a wrong secret or another client id;
revoked, its live connection is closed and every node refuses it. No file, no reload.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

import protocol
from hub.console.demo_data import DEMO_PASSWORD
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from hub.db.models import Device
from teleassist.neighbourhood import seed_neighbourhood
from teleassist.workers import HubWorker, cluster_env
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import machine_now
from tests.scale.conftest import RabbitSetup

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

WAIT_S = 30.0


class Probe:
    """One MQTT 3.1.1 connection that does not reconnect by itself."""

    def __init__(self, port: int, username: str, password: str, client_id: str = "") -> None:
        self.port = port
        self.connack = threading.Event()
        self.disconnected = threading.Event()
        self.refused: bool | None = None
        self.subacks: list[list[Any]] = []
        self.suback = threading.Event()
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or username, protocol=paho.MQTTv311
        )
        client.username_pw_set(username, password)
        client.reconnect_delay_set(300, 600)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *a: self.disconnected.set()
        client.on_subscribe = self._on_subscribe
        self.client = client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.refused = bool(reason.is_failure)
        self.connack.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self.subacks.append(list(reasons))
        self.suback.set()

    def connect(self) -> bool:
        """True when the broker accepted the connection."""
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        if not self.connack.wait(WAIT_S) and not self.disconnected.is_set():
            raise TimeoutError("no CONNACK")
        return self.refused is False

    def publish(self, topic: str) -> bool:
        """True when the broker acknowledged a QoS 1 publish; False when it cut us off."""
        reading = protocol.Telemetry(kind="temperature", value=21.5, unit="C")
        payload = protocol.encode(
            protocol.envelope(reading, id=protocol.new_message_id(), ts=datetime.now(UTC), seq=1)
        )
        info = self.client.publish(topic, payload, qos=1)
        done = threading.Event()

        def wait() -> None:
            info.wait_for_publish(WAIT_S)
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        while not done.wait(0.05):
            if self.disconnected.is_set():
                return False
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Running:
    setup: RabbitSetup
    worker: HubWorker
    url: str
    home_id: int


async def _seed(url: str, key: str) -> int:
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            seeded = await seed_neighbourhood(session, KeySafeCipher(key), 1, machine_now(), seed=5)
            await session.commit()
            return seeded.homes[0].home_id
    finally:
        await engine.dispose()


@pytest.fixture
def running(rabbit_setup: RabbitSetup, tmp_path: Path) -> Iterator[Running]:
    name = create_pg_database()
    url = pg_url(name)
    env = cluster_env(url, rabbit_setup.balancer.port, **rabbit_setup.hub_env())
    home_id = asyncio.run(_seed(url, env["TELEASSIST_HUB__KEYSAFE_KEY"]))
    worker = HubWorker("auth", env, tmp_path)
    try:
        worker.start()
        rabbit_setup.relay.targets = [worker.url]
        yield Running(rabbit_setup, worker, url, home_id)
    finally:
        worker.stop()
        drop_pg_database(name)


async def _admin(http: aiohttp.ClientSession, worker: HubWorker) -> dict[str, str]:
    async with http.post(
        f"{worker.url}/api/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}
    ) as response:
        response.raise_for_status()
        return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def _provision(
    http: aiohttp.ClientSession, run: Running, auth: dict[str, str], device_id: str
) -> str:
    async with http.post(
        f"{run.worker.url}/api/devices",
        json={"id": device_id, "home_id": run.home_id, "type": "gateway"},
        headers=auth,
    ) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["secret"])


async def _last_seen(url: str, device_id: str) -> object:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(Device.last_seen).where(Device.id == device_id))
    finally:
        await engine.dispose()


def _connects(port: int, username: str, password: str, client_id: str = "") -> bool:
    probe = Probe(port, username, password, client_id)
    try:
        return probe.connect()
    finally:
        probe.close()


async def test_provision_and_revoke_take_effect_on_every_node(running: Running) -> None:
    nodes = running.setup.cluster.mqtt_ports
    async with aiohttp.ClientSession() as http:
        auth = await _admin(http, running.worker)
        secret = await _provision(http, running, auth, "rt-gw1")
        other_secret = await _provision(http, running, auth, "rt-gw2")

        for port in nodes:
            # Its own credentials, its own topics: accepted on every node at once.
            probe = Probe(port, "rt-gw1", secret)
            assert await asyncio.to_thread(probe.connect)
            assert await asyncio.to_thread(probe.publish, "ta/v1/d/rt-gw1/telemetry")
            await asyncio.to_thread(probe.close)
            # A wrong secret, or its credentials under another client id: refused.
            assert not await asyncio.to_thread(_connects, port, "rt-gw1", other_secret)
            assert not await asyncio.to_thread(_connects, port, "rt-gw1", secret, "rt-gw2")
            assert not await asyncio.to_thread(_connects, port, "nobody", secret)

        # Another device's topic: the broker refuses the publish by closing the connection.
        probe = Probe(nodes[1], "rt-gw1", secret)
        assert await asyncio.to_thread(probe.connect)
        assert not await asyncio.to_thread(probe.publish, "ta/v1/d/rt-gw2/event")
        await asyncio.to_thread(probe.close)
        # …or another device's commands: no subscription granted.
        probe = Probe(nodes[2], "rt-gw1", secret)
        assert await asyncio.to_thread(probe.connect)
        probe.client.subscribe("ta/v1/c/rt-gw2/#", qos=1)
        await asyncio.to_thread(lambda: probe.suback.wait(WAIT_S) or probe.disconnected.wait(1))
        granted = [r for reasons in probe.subacks for r in reasons if not r.is_failure]
        assert not granted
        await asyncio.to_thread(probe.close)

        # The hub heard the device through its home's partition (bound while running).
        async with asyncio.timeout(WAIT_S):
            while await _last_seen(running.url, "rt-gw1") is None:
                await asyncio.sleep(0.2)

        # Revoked while connected: the live connection is closed, and no node lets it in.
        live = Probe(nodes[0], "rt-gw1", secret)
        assert await asyncio.to_thread(live.connect)
        async with http.post(
            f"{running.worker.url}/api/devices/rt-gw1/revoke", json={}, headers=auth
        ) as response:
            assert response.status == 200, await response.text()
        assert await asyncio.to_thread(live.disconnected.wait, WAIT_S)
        await asyncio.to_thread(live.close)
        for port in nodes:
            assert not await asyncio.to_thread(_connects, port, "rt-gw1", secret)
            # The other device is untouched.
            assert await asyncio.to_thread(_connects, port, "rt-gw2", other_secret)
