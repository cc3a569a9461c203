"""A flooding device through a private Mosquitto into a real hub (docs/adr/0116): its routine
messages past the contract's rate are dropped (acknowledged, never stored), a "device flooding"
technical alarm reaches the operator in their language, and a panic still passes.

Device timestamps are the hub clock's fixed instant plus offsets (the limit counts on the
device's own times), so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.settings import HubSettings
from protocol import Channel, DoorClose, DoorOpen, Panic, Telemetry
from protocol.ratelimit import HUB_EVENTS
from teleassist.config import MqttSettings
from teleassist.localbroker import running_mosquitto
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, eventually, seed_home

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CHATTER = 200  # door events within 2 s of the device's clock: 100 a second


async def test_a_chattering_door_is_throttled_and_raises_device_flooding(
    hub_settings: HubSettings, hub_clock: ManualClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    tag = f"fd{secrets.token_hex(3)}"
    door, pendant, thermo = f"{tag}-door", f"{tag}-pendant", f"{tag}-thermo"
    db = make_engine(hub_settings.database_url)
    try:
        home, _ = await seed_home(
            make_sessionmaker(db), {door: "contact", pendant: "pendant", thermo: "thermometer"}
        )
    finally:
        await db.dispose()
    with running_mosquitto(tmp_path) as broker:
        settings = msgspec.structs.replace(
            hub_settings,
            ingest_client_id=f"hub-{tag}",
            ingest_share_group=f"g{tag}",
            ingest_flush_interval_s=0.05,
        )
        app = create_app(
            settings, clock=hub_clock, mqtt=MqttSettings(host=broker.host, port=broker.port)
        )
        client = await aiohttp_client(app)
        async with asyncio.timeout(30):
            await app[MQTT_CLIENT].subscribed.wait()
        headers = {}
        for language in ("ca", "es", "en"):
            async with app[SESSIONMAKER]() as session:
                user = await create_user(
                    session, f"op-{language}-{tag}", TEST_PASSWORD, Role.OPERATOR,
                    language=language,
                )  # fmt: skip
                await session.commit()
                pair = await issue_tokens(session, user, app[SETTINGS], hub_clock())
                await session.commit()
            headers[language] = {"Authorization": f"Bearer {pair.access_token}"}
        ingester = app[INGESTER]
        publisher = Publisher(broker.host, broker.port)
        start = hub_clock()
        try:
            for i in range(CHATTER):
                body = DoorOpen(room="hall") if i % 2 == 0 else DoorClose(room="hall")
                publisher.send(door, Channel.EVENT, body, ts=start + timedelta(milliseconds=10 * i))
            for i in range(100):  # a thermometer gone mad: 100 readings in 1 s
                reading = Telemetry(kind="temperature", value=21.0, unit="C", room="hall")
                at = start + timedelta(milliseconds=10 * i)
                publisher.send(thermo, Channel.TELEMETRY, reading, qos=1, ts=at)
            # The pendant is a device of the same home: its panic is never held back.
            panic_id = publisher.send(pendant, Channel.EVENT, Panic(), ts=start)
            total = CHATTER + 100 + 1

            def all_seen() -> bool:
                stats = ingester.stats
                handled = stats.throttled + sum(stats.accepted.values())
                return handled >= total

            await eventually(all_seen)

            async def technical_alarms() -> list[str]:
                """Event ids of the home's technical alarms (flooding devices attach to one)."""
                response = await client.get("/api/alarms?status=all", headers=headers["en"])
                assert response.status == 200
                listed = await response.json()
                return [
                    event_id for a in listed["alarms"]
                    if a["home_id"] == str(home) and a["rule"] == "device_fault"
                    for event_id in a["event_ids"]
                ]  # fmt: skip

            async def flooding_raised() -> bool:
                # The door and the thermometer: one device_fault event each, on one alarm.
                return len(await technical_alarms()) >= 2

            await eventually(flooding_raised)
        finally:
            publisher.close()

        # Door chatter: at most the burst plus 2 a second over the 2 s got through, in each
        # of the door's two buckets (door_open is alarm-capable, door_close routine).
        async with app[SESSIONMAKER]() as session:
            stored_door = await session.scalar(
                select(func.count()).select_from(StoredEvent).where(StoredEvent.device_id == door)
            )
            panic_stored = await session.scalar(
                select(func.count())
                .select_from(StoredEvent)
                .where(StoredEvent.message_id == panic_id)
            )
        assert stored_door is not None
        assert HUB_EVENTS.burst <= stored_door <= 2 * (HUB_EVENTS.burst + 2 * HUB_EVENTS.per_s + 1)
        assert panic_stored == 1
        assert ingester.stats.throttled >= CHATTER - stored_door
        # Nothing lost without a count: every message was stored, dropped on purpose, or
        # (telemetry) written as a point.
        assert ingester.stats.throttled + sum(ingester.stats.accepted.values()) == total

        assert len(await technical_alarms()) == 2  # told once per device, not per drop
        async with app[SESSIONMAKER]() as session:
            faults = (
                await session.scalars(
                    select(StoredEvent.device_id).where(StoredEvent.type == "device_fault")
                )
            ).all()
        assert sorted(faults) == sorted([door, thermo])
        # The operator reads it in their language.
        words = {"ca": "massa missatges", "es": "demasiados mensajes", "en": "is flooding"}
        for language, expected in words.items():
            response = await client.get("/api/alarms?status=all", headers=headers[language])
            texts = [
                a["explanation_text"] for a in (await response.json())["alarms"]
                if a["rule"] == "device_fault"
            ]  # fmt: skip
            assert len(texts) == 1, language
            assert expected in texts[0], (language, texts[0])
