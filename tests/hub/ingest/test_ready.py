"""``/readyz`` follows the broker: ready once subscribed, not ready while the broker is
down, ready again once the worker has reconnected and resubscribed by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hub.app import create_app
from hub.ingest.app import MQTT_CLIENT
from hub.settings import HubSettings
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config

pytestmark = pytest.mark.broker


async def _until(client: Any, status: int) -> dict[str, str]:
    for _ in range(600):
        resp = await client.get("/readyz")
        if resp.status == status:
            return dict(await resp.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status}")


async def test_readyz_follows_the_broker(
    aiohttp_client: Any, hub_settings: HubSettings, tmp_path: Path
) -> None:
    port = free_port()
    broker = MosquittoBroker(port, write_mosquitto_config(tmp_path, port))
    broker.start()
    try:
        settings = msgspec.structs.replace(
            hub_settings, ingest_client_id="hub-ready", ingest_share_group="gready"
        )
        app = create_app(settings, mqtt=MqttSettings(host="127.0.0.1", port=port))
        client = await aiohttp_client(app)
        await app[MQTT_CLIENT].subscribed.wait()
        assert await _until(client, 200) == {
            "status": "ok",
            "database": "ok",
            "broker": "subscribed",
            # Homes whose events stored before the start-up are still being applied (ADR 0184).
            "alarm_backlog": "0",
        }
        # /healthz is about the process and its database only: it stays 200.
        broker.kill()
        body = await _until(client, 503)
        assert body["broker"] == "disconnected"
        assert (await client.get("/healthz")).status == 200
        broker.start()
        assert (await _until(client, 200))["broker"] == "subscribed"
    finally:
        broker.stop()


async def test_readyz_without_ingestion_is_about_the_database(hub_client: Any) -> None:
    resp = await hub_client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok", "alarm_backlog": "0"}
