"""Two hub processes share one broker (shared subscription) and one PostgreSQL database:
the load is split, each alarm is raised once, and a worker killed with SIGKILL in the
middle of the stream loses nothing once it is back (its broker session kept its messages).
The alarm timers are on (explicitly: a test runner's environment must not switch them off).
One owner per home with three and four workers: ``test_home_owners.py``."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.fernet import Fernet
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

import protocol
from firmware_sim import DeviceType
from hub.alarms.models import AlarmRow
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.crypto import KeySafeCipher
from hub.db.models import StoredEvent
from teleassist.localbroker import MosquittoBroker, free_port, wait_for_port
from teleassist.neighbourhood import seed_neighbourhood
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import machine_now

ROOT = Path(__file__).resolve().parents[2]
HOMES = 30
pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]


class Worker:
    """One ``teleassist hub`` process."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {
            **env,
            "TELEASSIST_HUB__HTTP_PORT": str(self.port),
            "TELEASSIST_HUB__DATA_DIR": str(tmp / name),
            "TELEASSIST_HUB__INGEST_CLIENT_ID": f"hub-{name}",
        }
        self.log = tmp / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "teleassist", "hub", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        wait_for_port("127.0.0.1", self.port, timeout=120)
        # The port opens before the broker acknowledges the shared subscription; a worker
        # that is not yet in the group gets no share of what is published meanwhile.
        _wait(self.ready, 60, f"worker {self.name} to be ready")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=10):
                return True
        except OSError:  # HTTPError (503) included: not subscribed yet
            return False

    def received(self) -> float:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/metrics",
            headers={"Authorization": f"Bearer {self.env['TELEASSIST_HUB__METRICS_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http://127.0.0.1)
            for line in reply.read().decode().splitlines():
                if line.startswith("teleassist_ingest_received_total"):
                    return float(line.split()[-1])
        return 0.0

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, str, dict[str, str]]]:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # Persistent sessions: a worker that comes back gets what was queued for it.
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 100000\nlog_type error\n",
        encoding="utf-8",
    )
    broker = MosquittoBroker(port, conf)
    broker.start()
    name = create_pg_database()
    env = {
        **os.environ,
        "TELEASSIST_MQTT__PORT": str(port),
        "TELEASSIST_HUB__DATABASE_URL": pg_url(name),
        "TELEASSIST_HUB__JWT_SECRET": secrets.token_urlsafe(32),
        "TELEASSIST_HUB__KEYSAFE_KEY": Fernet.generate_key().decode(),
        "TELEASSIST_HUB__METRICS_TOKEN": secrets.token_urlsafe(16),
        # The alarm timers run in both workers (issue 18: never tested with them off).
        "TELEASSIST_ALARMS__SCHEDULER": "true",
    }
    try:
        yield broker, pg_url(name), env
    finally:
        broker.stop()
        drop_pg_database(name)


async def _seed(url: str, key: str) -> list[tuple[str, str]]:
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            seeded = await seed_neighbourhood(
                session, KeySafeCipher(key), HOMES, machine_now(), seed=7
            )
            await session.commit()
    finally:
        await engine.dispose()
    pairs = []
    for home in seeded.homes:
        pendant = home.spec.find(DeviceType.PENDANT)
        assert pendant is not None
        pairs.append((home.spec.gateway.device_id, pendant.device_id))
    return pairs


async def _count(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            alarms = await session.scalar(select(func.count()).select_from(AlarmRow))
            homes = await session.scalar(select(func.count(func.distinct(AlarmRow.home_id))))
            panics = await session.scalar(
                select(func.count()).select_from(StoredEvent).where(StoredEvent.type == "panic")
            )
            return int(alarms or 0), int(homes or 0), int(panics or 0)
    finally:
        await engine.dispose()


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-homes")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _send(client: mqtt.Client, device: str, body: object, seq: int, qos: int) -> None:
    channel = (
        protocol.Channel.TELEMETRY
        if isinstance(body, protocol.Telemetry)
        else protocol.Channel.EVENT
    )
    msg = protocol.envelope(body, id=protocol.new_message_id(), ts=machine_now(), seq=seq)
    client.publish(
        protocol.device_topic(device, channel), protocol.encode(msg), qos=qos
    ).wait_for_publish(30)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_two_workers_split_the_load_and_lose_nothing(cluster, tmp_path: Path) -> None:
    broker, url, env = cluster
    devices = asyncio.run(_seed(url, env["TELEASSIST_HUB__KEYSAFE_KEY"]))
    pendants = [pendant for _, pendant in devices]
    assert all("pendant" in p for p in pendants)
    a, b = Worker("a", env, tmp_path), Worker("b", env, tmp_path)
    a.start()
    b.start()
    client = _publisher(broker.port)
    try:
        # Background telemetry from every gateway: both workers get a share.
        for seq in range(1, 11):
            for gateway, _ in devices:
                _send(
                    client,
                    gateway,
                    protocol.Telemetry(kind="rssi", value=-60.0 - seq, unit="dB"),
                    seq,
                    1,
                )
        sent = 10 * HOMES
        _wait(lambda: a.received() + b.received() >= sent, 60, "every telemetry message")
        split = (a.received(), b.received())
        assert min(split) / sum(split) > 0.2, split

        # Half the homes press the help button; then worker A dies without warning.
        half = HOMES // 2
        for pendant in pendants[:half]:
            _send(client, pendant, protocol.Panic(), 1, 1)
        a.kill()
        for pendant in pendants[half:]:
            _send(client, pendant, protocol.Panic(), 1, 1)
        # A comes back with the same client id and collects what the broker kept for it.
        a.start()
        _wait(lambda: asyncio.run(_count(url))[0] >= HOMES, 120, "every alarm")
        time.sleep(2)  # anything duplicated would show up by now
        alarms, homes, panics = asyncio.run(_count(url))
        assert panics == HOMES  # every press stored once
        assert alarms == HOMES  # one alarm per home, none twice
        assert homes == HOMES
    finally:
        client.loop_stop()
        client.disconnect()
        a.stop()
        b.stop()
