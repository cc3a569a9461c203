"""``teleassist hub``: a real process that ingests, stops on SIGTERM flushing its batches,
and comes back with its state."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol import Channel, Status, Telemetry
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
        timeout=120,
    )


async def test_serve_flushes_on_sigterm_and_restarts(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    port = free_port()
    tag = os.urandom(3).hex()
    env = {
        **os.environ,
        "TELEASSIST_MQTT__PORT": str(mosquitto.port),
        "TELEASSIST_HUB__DATA_DIR": str(tmp_path),
        "TELEASSIST_HUB__HTTP_PORT": str(port),
        "TELEASSIST_HUB__INGEST_CLIENT_ID": f"hub-serve-{tag}",
        "TELEASSIST_HUB__INGEST_SHARE_GROUP": f"s{tag}",
        # Points stay in memory until the stop: only a graceful stop can store them.
        "TELEASSIST_HUB__INGEST_FLUSH_INTERVAL_S": "300",
    }
    _cli(env, "hub", "create-home", "--address", "Carrer Serve 1")
    _cli(env, "hub", "add-device", f"{tag}-temp", "--home", "1", "--type", "thermometer")
    _cli(env, "hub", "create-user", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    base = f"http://127.0.0.1:{port}"

    async def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "teleassist", "hub"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "hub.log").open("ab"),
        )
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(up, timeout=60)
        return proc

    async def api(http: aiohttp.ClientSession, path: str) -> Any:
        async with http.post(
            f"{base}/api/auth/login", json={"username": "boss", "password": PASSWORD}
        ) as resp:
            token = (await resp.json())["access_token"]
        async with http.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
            return await r.json()

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
