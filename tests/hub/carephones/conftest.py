"""A hub with ingestion (a private Mosquitto) and its DC-09 receiver on free ports."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aioice.ice
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.carephones.app import DC09_RECEIVER, DC09_SERVERS
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.ingest.app import MQTT_CLIENT
from hub.settings import HubSettings
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, running_mosquitto
from tests.hub.carephones.transmitter import Unit
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import eventually, seed_home

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc's peers gather host candidates on the loopback only."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with running_mosquitto(tmp_path_factory.mktemp("dc09-mqtt")) as broker:
        yield broker


@dataclass
class Dc09Hub:
    """A running hub, its clock, an installer's and an operator's headers."""

    client: TestClient[Any, Any]
    clock: ManualClock
    installer: dict[str, str]
    operator: dict[str, str]
    supervisor: dict[str, str]
    tag: str

    @property
    def app(self) -> web.Application:
        app: web.Application = self.client.app
        return app

    @property
    def tcp_port(self) -> int:
        port = self.app[DC09_SERVERS].tcp_port
        assert port is not None
        return port

    @property
    def udp_port(self) -> int:
        port = self.app[DC09_SERVERS].udp_port
        assert port is not None
        return port

    @property
    def refused(self) -> dict[str, int]:
        return dict(self.app[DC09_RECEIVER].stats.refused)

    async def register(self, unit: Unit, **extra: Any) -> tuple[str, int]:
        """A home with a resident and ``unit`` in it; returns (device id, home id)."""
        engine = make_engine(self.app[SETTINGS].database_url)
        try:
            home_id, _ = await seed_home(make_sessionmaker(engine), {})
        finally:
            await engine.dispose()
        device_id = f"{self.tag}-{unit.prefix}-{unit.account}"
        body = {
            "id": device_id,
            "home_id": home_id,
            "account": unit.account,
            "prefix": unit.prefix,
            **extra,
        }
        if unit.receiver:
            body["receiver"] = unit.receiver
        if unit.key:
            body["key"] = unit.key.hex()
        response = await self.client.post("/api/carephones", json=body, headers=self.installer)
        assert response.status == 201, await response.text()
        return device_id, home_id

    async def alarms(self, home_id: int | None = None) -> list[dict[str, Any]]:
        response = await self.client.get("/api/alarms?status=all&limit=1000", headers=self.operator)
        assert response.status == 200
        listed = (await response.json())["alarms"]
        return [a for a in listed if home_id is None or a["home_id"] == str(home_id)]

    async def wait_alarms(self, home_id: int, count: int = 1) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def enough() -> bool:
            nonlocal found
            found = await self.alarms(home_id)
            return len(found) >= count

        await eventually(enough, timeout=60)
        return found


async def _headers(
    app: web.Application, clock: ManualClock, role: Role, name: str
) -> dict[str, str]:
    async with app[SESSIONMAKER]() as session:
        user = await create_user(session, name, TEST_PASSWORD, role)
        await session.commit()
        pair = await issue_tokens(session, user, app[SETTINGS], clock())
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def start_dc09_hub(
    aiohttp_client: Any,
    settings: HubSettings,
    broker: MosquittoBroker,
    clock: ManualClock,
    tag: str,
    **overrides: Any,
) -> Dc09Hub:
    """Start a hub with the receiver (ports chosen by the system)."""
    settings = msgspec.structs.replace(
        settings,
        ingest_client_id=f"hub-{tag}",
        ingest_share_group=f"g{tag}",
        ingest_flush_interval_s=0.05,
        supervision_check_s=0.1,
        dc09_enabled=True,
        dc09_tcp_port=0,
        dc09_udp_port=0,
    )
    settings = msgspec.structs.replace(settings, **overrides)
    app = create_app(settings, clock=clock, mqtt=MqttSettings(host=broker.host, port=broker.port))
    client = await aiohttp_client(app)
    await app[MQTT_CLIENT].subscribed.wait()
    installer = await _headers(app, clock, Role.INSTALLER, f"inst-{secrets.token_hex(3)}")
    operator = await _headers(app, clock, Role.OPERATOR, f"op-{secrets.token_hex(3)}")
    supervisor = await _headers(app, clock, Role.SUPERVISOR, f"sup-{secrets.token_hex(3)}")
    return Dc09Hub(client, clock, installer, operator, supervisor, tag)


@pytest.fixture
async def dc09_hub(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> Dc09Hub:
    return await start_dc09_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"d{secrets.token_hex(3)}"
    )


@pytest.fixture
def speech_hub(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Any
) -> Callable[..., Awaitable[Any]]:
    """Start a hub taking speech calls, with a unit and its alarm: ``await speech_hub(**kw)``
    gives a ``sipunit.SpeechHub`` (``kw``: ``accepted``, ``prefix`` or hub settings)."""
    # Imported here: the helpers import this module's names.
    from tests.hub.carephones.sipunit import start_speech_hub

    def start(**overrides: Any) -> Awaitable[Any]:
        return start_speech_hub(aiohttp_client, hub_settings, mosquitto, tmp_path, **overrides)

    return start
