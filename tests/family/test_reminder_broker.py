"""Reminders go to the hub's own broker, not to whatever ``load_config()`` finds (issue 25).

The demo runs its hub on a private broker on a free port while the configuration's ``[mqtt]``
section is left at its defaults (127.0.0.1:1883): a reminder must reach the tablet on the
private broker and nothing may appear on 1883. Commands leave through the worker's ingest
connection (hub.ingest.commands), so a hub without ingestion (`--no-ingest`, its broker only in
the parsed configuration) sends nothing on either broker and claims no reminder.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import aiomqtt
import msgspec
import pytest
from aiohttp import web
from sqlalchemy import select

from hub.app import create_app
from hub.clock import ManualClock
from hub.family.models import TabletCredential
from hub.family.reminders import REMINDERS
from hub.settings import HubSettings
from protocol import Reminder, decode_command
from teleassist.config import Config, MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.family.conftest import World

pytestmark = pytest.mark.broker

SHARED = MqttSettings()  # the machine's broker, 127.0.0.1:1883: the configuration default
MARKER = b"end-of-test-marker"
# The background loop makes one pass at start-up (nothing is due yet) and then sleeps:
# the test's own pass is the one that sends, so nothing is in flight when it checks.
QUIET_FAMILY = {"reminder_poll_s": 3600}


@pytest.fixture(params=["ingest-broker", "configured-broker"])
def hub_app(
    request: pytest.FixtureRequest,
    hub_settings: HubSettings,
    hub_clock: ManualClock,
    mosquitto: MosquittoBroker,
) -> web.Application:
    """The hub on the private broker: given as ``mqtt`` (the demo), or only in the config."""
    private = {"host": mosquitto.host, "port": mosquitto.port}
    tag = secrets.token_hex(4)
    settings = msgspec.structs.replace(
        hub_settings, ingest_client_id=f"hub-{tag}", ingest_share_group=f"g{tag}"
    )
    if request.param == "ingest-broker":
        # As teleassist/demo.py builds it: [mqtt] untouched, the broker passed beside it.
        config = Config(sections={"family": QUIET_FAMILY})
        return create_app(settings, config=config, clock=hub_clock, mqtt=MqttSettings(**private))
    # As `teleassist hub --no-ingest` with [mqtt] pointing at the private broker.
    config = Config(sections={"family": QUIET_FAMILY, "mqtt": private})
    return create_app(settings, config=config, clock=hub_clock)


@asynccontextmanager
async def _listening(broker: MqttSettings, topic: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic, qos=1)
        yield client


async def _until_marker(client: aiomqtt.Client, broker: MqttSettings, topic: str) -> list[Any]:
    """Every message on ``topic`` before a marker the test publishes now.

    The reminder's publish was acknowledged before ``run_due`` returned, so a broker that
    got it routes it to this subscriber ahead of the marker: no guessed wait is needed.
    """
    async with aiomqtt.Client(broker.host, broker.port) as pub:
        await pub.publish(topic, MARKER, qos=1)
    seen: list[Any] = []
    async with asyncio.timeout(20):
        async for msg in client.messages:
            if bytes(msg.payload) == MARKER:  # type: ignore[arg-type]
                return seen
            seen.append(msg)
    return seen


async def test_reminder_goes_to_the_hubs_broker_only(
    world: World, hub_clock: ManualClock, mosquitto: MosquittoBroker
) -> None:
    maria = await world.resident()
    start = hub_clock() + timedelta(hours=2)
    resp = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/agenda",
        json={"title": "Metge", "starts_at": start.isoformat(), "remind_before_s": 3600},
        headers=maria.headers,
    )
    assert resp.status == 201, await resp.text()
    item = await resp.json()
    async with world.sessionmaker() as session:
        device = await session.scalar(
            select(TabletCredential.device_id).where(
                TabletCredential.resident_id == maria.resident_id
            )
        )
    assert device
    # The device id is unique to this test: other traffic on either broker cannot match.
    topic = f"ta/v1/c/{device}/#"
    marker_topic = f"ta/v1/c/{device}/test-marker"
    private = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    async with AsyncExitStack() as stack:
        on_private = await stack.enter_async_context(_listening(private, topic))
        on_shared = await stack.enter_async_context(_listening(SHARED, topic))
        hub_clock.advance(timedelta(hours=1, seconds=1))
        reminders = world.client.app[REMINDERS]
        if not reminders.sender.connected:  # --no-ingest: leaves it to an ingesting worker
            assert await reminders.run_due(hub_clock()) == 0
            assert await _until_marker(on_private, private, marker_topic) == []
            assert await _until_marker(on_shared, SHARED, marker_topic) == []
            return
        assert await reminders.run_due(hub_clock()) == 1
        # The command is queued on the hub's connection: wait for it, then make sure
        # nothing went to the shared broker either.
        async with asyncio.timeout(20):
            got = await anext(on_private.messages)
        strays = await _until_marker(on_shared, SHARED, marker_topic)
    assert strays == []
    command = decode_command(bytes(got.payload), now=hub_clock())  # type: ignore[arg-type]
    assert isinstance(command.body, Reminder)
    assert command.body.reminder_id == f"agenda-{item['id']}"
