"""``teleassist hub``: a real process that ingests, stops on SIGTERM flushing its batches,
and comes back with its state."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol import Channel, Motion, Panic, Status, Telemetry
from teleassist.localbroker import MosquittoBroker, free_port
from tests.hub.ingest.helpers import Publisher, eventually

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "teleassist", *args],
        env=env,
        cwd=ROOT,
        input=stdin.encode(),
        check=True,
        capture_output=True,
        timeout=300,
    )


async def _start_hub(env: dict[str, str], base: str, log: Path) -> subprocess.Popen[bytes]:
    """``teleassist hub`` in a process of its own, once it answers its health check."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "teleassist", "hub"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    async with aiohttp.ClientSession() as http:

        async def up() -> bool:
            try:
                async with http.get(f"{base}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        # A failure guard only: a loaded machine takes a minute or more to import the hub.
        await eventually(up, timeout=180)
    return proc


async def _api(http: aiohttp.ClientSession, base: str, path: str) -> Any:
    """GET ``path`` as the admin ``boss``."""
    async with http.post(
        f"{base}/api/auth/login", json={"username": "boss", "password": PASSWORD}
    ) as resp:
        token = (await resp.json())["access_token"]
    async with http.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
        return await r.json()


def _hub_env(tmp_path: Path, mosquitto: MosquittoBroker, port: int, tag: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEASSIST_MQTT__PORT": str(mosquitto.port),
        "TELEASSIST_HUB__DATA_DIR": str(tmp_path),
        "TELEASSIST_HUB__HTTP_PORT": str(port),
        "TELEASSIST_HUB__INGEST_CLIENT_ID": f"hub-serve-{tag}",
        "TELEASSIST_HUB__INGEST_SHARE_GROUP": f"s{tag}",
    }


async def test_serve_flushes_on_sigterm_and_restarts(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    port = free_port()
    tag = os.urandom(3).hex()
    env = {
        **_hub_env(tmp_path, mosquitto, port, tag),
        # Points stay in memory until the stop: only a graceful stop can store them.
        "TELEASSIST_HUB__INGEST_FLUSH_INTERVAL_S": "300",
    }
    _cli(env, "hub", "create-home", "--address", "Carrer Serve 1")
    _cli(env, "hub", "add-device", f"{tag}-temp", "--home", "1", "--type", "thermometer")
    _cli(env, "hub", "create-user", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    base = f"http://127.0.0.1:{port}"

    async def start() -> subprocess.Popen[bytes]:
        return await _start_hub(env, base, tmp_path / "hub.log")

    async def api(http: aiohttp.ClientSession, path: str) -> Any:
        return await _api(http, base, path)

    hub = await start()
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        async with aiohttp.ClientSession() as http:
            # The hub subscribes just after it connects: send until it hears us.
            async def hears() -> bool:
                publisher.send(f"{tag}-temp", Channel.STATUS, Status(state="online"))
                stats = await api(http, "/api/ingest/stats")
                return bool(stats.get("accepted", {}).get("status"))

            await eventually(hears, timeout=60)
            for value in range(20):
                publisher.send(f"{tag}-temp", Channel.TELEMETRY, Telemetry(kind="t", value=value))

            async def buffered() -> bool:
                stats = await api(http, "/api/ingest/stats")
                return stats["accepted"].get("telemetry") == 20

            await eventually(buffered, timeout=60)
            assert (await api(http, "/api/ingest/stats"))["points_written"] == 0
        hub.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(hub.wait, 60) == 0
        with sqlite3.connect(tmp_path / "timeseries.sqlite") as db:
            assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 20

        hub = await start()
        async with aiohttp.ClientSession() as http:
            device = await api(http, f"/api/devices/{tag}-temp")
        assert device["state"] == "online"
        assert device["last_values"][0]["value"] == 19.0
    finally:
        publisher.close()
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            await asyncio.to_thread(hub.wait, 60)


async def test_serve_exits_on_sigterm_while_devices_keep_sending(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    """SIGTERM while telemetry, motion and panics keep coming: the hub stops (exit status
    0, "hub stopped" in its log) instead of waiting on an await with no limit (ADR 0173).
    The bound below only keeps a hung hub from hanging the suite; it measures nothing."""
    port = free_port()
    tag = os.urandom(3).hex()
    env = _hub_env(tmp_path, mosquitto, port, tag)
    _cli(env, "hub", "create-home", "--address", "Carrer Serve 2")
    devices = {"temp": "thermometer", "pend": "pendant", "pir": "motion"}
    for name, kind in devices.items():
        _cli(env, "hub", "add-device", f"{tag}-{name}", "--home", "1", "--type", kind)
    _cli(env, "hub", "create-user", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "hub.log"
    hub = await _start_hub(env, base, log)
    publisher = Publisher(mosquitto.host, mosquitto.port)
    sending = threading.Event()
    sending.set()

    def keep_sending() -> None:
        value = 0
        while sending.is_set():
            value += 1
            reading = Telemetry(kind="t", value=value)
            publisher.send(f"{tag}-temp", Channel.TELEMETRY, reading, qos=0)
            if value % 10 == 0:
                publisher.send(f"{tag}-pir", Channel.EVENT, Motion())
            if value % 50 == 0:
                publisher.send(f"{tag}-pend", Channel.EVENT, Panic())

    sender = threading.Thread(target=keep_sending, daemon=True)
    try:
        async with aiohttp.ClientSession() as http:

            async def hears() -> bool:
                publisher.send(f"{tag}-temp", Channel.STATUS, Status(state="online"))
                stats = await _api(http, base, "/api/ingest/stats")
                return bool(stats.get("accepted", {}).get("status"))

            await eventually(hears, timeout=60)
            sender.start()

            async def busy() -> bool:
                stats = await _api(http, base, "/api/ingest/stats")
                return stats["accepted"].get("event", 0) >= 20

            await eventually(busy, timeout=120)
            hub.send_signal(signal.SIGTERM)
            exited = await asyncio.to_thread(_wait_or_none, hub, 120)
        assert exited == 0, log.read_text()[-4000:]
        assert "hub stopped" in log.read_text()
    finally:
        sending.clear()
        if sender.is_alive():
            await asyncio.to_thread(sender.join, 30)
        publisher.close()
        if hub.poll() is None:
            hub.kill()
            await asyncio.to_thread(hub.wait, 30)


def _wait_or_none(proc: subprocess.Popen[bytes], limit_s: float) -> int | None:
    try:
        return proc.wait(limit_s)
    except subprocess.TimeoutExpired:
        return None
