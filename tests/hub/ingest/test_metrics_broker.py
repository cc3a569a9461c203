"""``teleassist_mqtt_subscribed`` follows the broker: the alert on a lost subscription."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hub.auth import Role
from hub.ingest.app import MQTT_CLIENT
from teleassist.localbroker import MosquittoBroker
from tests.hub.ingest.conftest import IngestHub


async def _broker_figures(hub: IngestHub, headers: dict[str, str]) -> dict[str, float]:
    text = await (await hub.client.get("/metrics", headers=headers)).text()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in {"teleassist_mqtt_connected", "teleassist_mqtt_subscribed"}
    }


async def _until(condition: Any) -> None:
    """Wait for a state the client's own network thread sets (bounded by the test timeout)."""
    while not condition():
        await asyncio.sleep(0.02)


async def test_the_subscription_is_reported_lost_and_back(
    ingest_hub: IngestHub, mosquitto: MosquittoBroker, auth_headers: Any
) -> None:
    headers = await auth_headers(Role.SUPERVISOR)
    assert await _broker_figures(ingest_hub, headers) == {
        "teleassist_mqtt_connected": 1.0,
        "teleassist_mqtt_subscribed": 1.0,
    }
    client = ingest_hub.app[MQTT_CLIENT]
    mosquitto.stop()
    try:
        await asyncio.wait_for(_until(lambda: not client.connected.is_set()), 30)
        assert await _broker_figures(ingest_hub, headers) == {
            "teleassist_mqtt_connected": 0.0,
            "teleassist_mqtt_subscribed": 0.0,
        }
    finally:
        mosquitto.start()
    await asyncio.wait_for(client.subscribed.wait(), 30)
    assert (await _broker_figures(ingest_hub, headers))["teleassist_mqtt_subscribed"] == 1.0
