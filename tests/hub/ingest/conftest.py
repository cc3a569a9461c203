"""A hub with ingestion from the session's Mosquitto, on both databases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import EVENT_SINKS, SESSIONMAKER, TIMESERIES, create_app
from hub.db import make_engine, make_sessionmaker
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.ingest.ingester import Ingester
from hub.settings import HubSettings
from hub.timeseries.port import TimeSeriesStore
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, running_mosquitto
from tests.hub.ingest.helpers import Publisher, RecordingSink, seed_home

DEVICES = {
    "pendant": "pendant",
    "door": "contact",
    "thermo": "thermometer",
    "gw": "gateway",
}


@dataclass
class IngestHub:
    """A running hub that ingests, with its seeded home and a recording sink."""

    client: TestClient[Any, Any]
    sink: RecordingSink
    home_id: int
    resident_id: int
    prefix: str

    @property
    def app(self) -> web.Application:
        app: web.Application = self.client.app
        return app

    @property
    def ingester(self) -> Ingester:
        return self.app[INGESTER]

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.app[SESSIONMAKER]

    @property
    def timeseries(self) -> TimeSeriesStore:
        return self.app[TIMESERIES]

    def dev(self, name: str) -> str:
        """The test's id for device ``name`` (ids are unique per test)."""
        return f"{self.prefix}-{name}"


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A private broker per module: ingestion counts every message it sees, so strays from
    other tests on the session broker (a heartbeat, a stale session) must not reach it."""
    with running_mosquitto(tmp_path_factory.mktemp("ingest-mqtt")) as broker:
        yield broker


@pytest.fixture
def publisher(mosquitto: MosquittoBroker) -> Iterator[Publisher]:
    pub = Publisher(mosquitto.host, mosquitto.port)
    yield pub
    pub.close()


@pytest.fixture
async def ingest_hub(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> IngestHub:
    prefix = f"t{secrets.token_hex(4)}"
    engine = make_engine(hub_settings.database_url)
    try:
        home_id, resident_id = await seed_home(
            make_sessionmaker(engine), {f"{prefix}-{k}": v for k, v in DEVICES.items()}
        )
    finally:
        await engine.dispose()
    settings = msgspec.structs.replace(
        hub_settings,
        ingest_client_id=f"hub-{prefix}",
        ingest_share_group=f"g{prefix}",
        ingest_flush_interval_s=0.05,
        # These tests send bursts from one device on purpose (ordering, back-pressure); the
        # device rate limit has tests of its own (test_flooding.py).
        ingest_device_events_per_s=1e9,
        ingest_device_events_burst=10**9,
        ingest_device_telemetry_per_s=1e9,
        ingest_device_telemetry_burst=10**9,
    )
    app = create_app(settings, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port))
    sink = RecordingSink()
    app[EVENT_SINKS].append(sink)
    client = await aiohttp_client(app)
    await app[MQTT_CLIENT].subscribed.wait()
    return IngestHub(client, sink, home_id, resident_id, prefix)
