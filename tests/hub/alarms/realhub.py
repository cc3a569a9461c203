"""A hub as a real process (``teleassist hub serve``) for reliability tests, and the API
calls those tests make against it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from teleassist.localbroker import MosquittoBroker
from tests.hub.fixtures import TEST_PASSWORD


def start_hub(
    database_url: str,
    data_dir: Path,
    broker: MosquittoBroker,
    port: int,
    tag: str,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a hub on ``port`` with its own MQTT client id and share group (``tag``)."""
    environment = dict(os.environ)
    environment.update(
        {
            "TELEASSIST_MQTT__HOST": broker.host,
            "TELEASSIST_MQTT__PORT": str(broker.port),
            "TELEASSIST_HUB__INGEST_CLIENT_ID": f"hub-kill-{tag}",
            "TELEASSIST_HUB__INGEST_SHARE_GROUP": f"g{tag}",
            "TELEASSIST_HUB__INGEST_FLUSH_INTERVAL_S": "0.05",
        }
    )
    environment.update(env or {})
    command = [sys.executable, "-m", "teleassist", "hub", "--database-url", database_url]
    command += ["--data-dir", str(data_dir), "--port", str(port), "serve"]
    return subprocess.Popen(
        command, env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def stop_hub(hub: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop: flush, ack, disconnect) and wait."""
    if hub.poll() is None:
        hub.terminate()
        await asyncio.to_thread(hub.wait, 30)


async def login(http: aiohttp.ClientSession, base: str, username: str) -> str:
    """An access token."""
    async with http.post(
        f"{base}/api/auth/login", json={"username": username, "password": TEST_PASSWORD}
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def all_alarms(http: aiohttp.ClientSession, base: str, token: str) -> list[dict[str, Any]]:
    """Every alarm, open or resolved."""
    async with http.get(
        f"{base}/api/alarms?status=all&limit=1000", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        response.raise_for_status()
        return list((await response.json())["alarms"])


async def wait_for_alarms(
    http: aiohttp.ClientSession, base: str, token: str, count: int, timeout: float = 90
) -> list[dict[str, Any]]:
    """Poll until at least ``count`` alarms exist."""
    alarms: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            alarms = await all_alarms(http, base, token)
            if len(alarms) >= count:
                return alarms
            await asyncio.sleep(0.3)


async def readiness(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """``GET /readyz`` (status code in ``"code"``); ``{"code": 0}`` if nothing answers."""
    try:
        async with http.get(f"{base}/readyz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return {"code": resp.status, **(await resp.json())}
    except (aiohttp.ClientError, TimeoutError):
        return {"code": 0}


async def wait_ready(
    http: aiohttp.ClientSession, base: str, want: dict[str, Any], timeout: float = 90
) -> dict[str, Any]:
    """Poll ``/readyz`` until its answer contains ``want``."""
    body: dict[str, Any] = {}
    async with asyncio.timeout(timeout):
        while True:
            body = await readiness(http, base)
            if all(body.get(k) == v for k, v in want.items()):
                return body
            await asyncio.sleep(0.2)
