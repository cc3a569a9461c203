"""Tablet pairing at the hub: setup codes and ``POST /api/tablet/pair``, every bad path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role
from hub.auth.service import create_user, issue_tokens
from hub.clock import ManualClock
from hub.db.models import AuditEntry, Device
from hub.registry.credentials import verify_mosquitto_hash
from hub.registry.models import TabletSetupCode
from hub.registry.pairing_routes import device_broker
from hub.settings import HubSettings
from teleassist.config import MqttSettings
from tests.hub.ingest.helpers import seed_home

Headers = Callable[..., Awaitable[dict[str, str]]]
Client = TestClient[Any, Any]


@pytest.fixture
async def resident(hub_sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    _, resident_id = await seed_home(hub_sessionmaker, {})
    return resident_id


async def new_code(client: Client, headers: dict[str, str], resident_id: int) -> str:
    resp = await client.post(f"/api/residents/{resident_id}/tablet-setup-codes", headers=headers)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["code"])


async def pair(client: Client, body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/tablet/pair", json=body)
    return resp.status, await resp.json()


async def test_a_code_pairs_a_tablet_once(
    hub_client: Client,
    hub_clock: ManualClock,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: Headers,
    resident: int,
) -> None:
    installer = await auth_headers(Role.INSTALLER, username="ines")
    resp = await hub_client.post(f"/api/residents/{resident}/tablet-setup-codes", headers=installer)
    assert resp.status == 201
    issued = await resp.json()
    code = issued["code"]
    assert len(code) == 8
    assert code.isdigit()
    assert issued["resident_id"] == resident
    assert datetime.fromisoformat(issued["expires_at"]) == hub_clock() + timedelta(hours=24)

    status, body = await pair(hub_client, {"code": code})
    assert status == 200, body
    device_id = body["device_id"]
    assert device_id == f"tab-{resident:04d}"
    assert body["resident_id"] == resident
    assert body["hub_url"] == str(hub_client.make_url("")).rstrip("/")
    assert body["api_token"].startswith("tab_")
    mqtt = body["mqtt"]
    assert mqtt["username"] == device_id
    assert (mqtt["host"], mqtt["port"], mqtt["tls"]) == ("127.0.0.1", 1883, False)

    # The tablet is a device of the resident's home, with a working broker secret…
    async with hub_sessionmaker() as session:
        device = await session.get(Device, device_id)
        assert device is not None
        assert (device.type, device.resident_id) == ("tablet", resident)
        assert device.secret_hash
        assert verify_mosquitto_hash(device.secret_hash, mqtt["password"])
        stored = (await session.scalars(select(TabletSetupCode))).one()
        assert stored.digest != code  # only an HMAC is kept
        assert (stored.used_at, stored.device_id) == (hub_clock(), device_id)
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"tablet.setup_code", "tablet.pair", "device.provision", "family.tablet_issue"} <= (
        actions
    )
    # …and its family-API token is the resident's.
    token = {"Authorization": f"Bearer {body['api_token']}"}
    me = await hub_client.get("/api/family/me", headers=token)
    assert me.status == 200
    assert (await me.json())["resident_id"] == resident

    # Single use.
    assert await pair(hub_client, {"code": code}) == (
        410,
        {"error": "code_used", "message": "this setup code was already used; ask for a new one"},
    )

    # A second code (a replaced tablet) reuses the device with new secrets.
    status, again = await pair(
        hub_client, {"code": await new_code(hub_client, installer, resident)}
    )
    assert status == 200
    assert again["device_id"] == device_id
    assert again["mqtt"]["password"] != mqtt["password"]
    assert (await hub_client.get("/api/family/me", headers=token)).status == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": 12345678},
        {"code": "12345"},
        {"code": "1234567890123"},
        {"code": "1234a678"},
        {"code": "١٢٣٤٥٦٧٨"},
        {"code": None},
        ["12345678"],
    ],
)
async def test_malformed_requests_are_400(hub_client: Client, body: Any) -> None:
    status, answer = await pair(hub_client, body)
    assert status == 400
    assert answer["error"] in {"code_malformed", "invalid_json"}


async def test_not_json_is_400(hub_client: Client) -> None:
    resp = await hub_client.post("/api/tablet/pair", data=b"code=1", headers={"X": "y"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_json"


async def test_an_unknown_code_is_404(hub_client: Client) -> None:
    status, answer = await pair(hub_client, {"code": "00000000"})
    assert (status, answer["error"]) == (404, "code_unknown")


async def test_an_expired_code_is_410(
    hub_client: Client, hub_clock: ManualClock, auth_headers: Headers, resident: int
) -> None:
    code = await new_code(hub_client, await auth_headers(Role.OPERATOR), resident)
    hub_clock.advance(timedelta(hours=24))
    status, answer = await pair(hub_client, {"code": code})
    assert (status, answer["error"]) == (410, "code_expired")


async def test_the_lifetime_is_a_setting(
    aiohttp_client: Callable[..., Awaitable[Client]],
    hub_settings: HubSettings,
    hub_clock: ManualClock,
) -> None:
    settings = msgspec.structs.replace(hub_settings, tablet_code_ttl_s=600)
    client = await aiohttp_client(create_app(settings, clock=hub_clock))
    _, resident_id = await seed_home(client.app[SESSIONMAKER], {})
    async with client.app[SESSIONMAKER]() as session:
        user = await create_user(session, "admin1", "a long password", Role.ADMIN)
        tokens = await issue_tokens(session, user, client.app[SETTINGS], hub_clock())
        await session.commit()
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    resp = await client.post(f"/api/residents/{resident_id}/tablet-setup-codes", headers=headers)
    issued = await resp.json()
    assert datetime.fromisoformat(issued["expires_at"]) == hub_clock() + timedelta(minutes=10)
    hub_clock.advance(timedelta(minutes=10, seconds=-1))
    status, _ = await pair(client, {"code": issued["code"]})
    assert status == 200


async def test_too_many_wrong_codes_from_one_address_is_429(
    hub_client: Client, hub_clock: ManualClock, auth_headers: Headers, resident: int
) -> None:
    code = await new_code(hub_client, await auth_headers(Role.ADMIN), resident)
    wrong = "99999999" if code != "99999999" else "99999998"
    for _ in range(9):
        assert (await pair(hub_client, {"code": wrong}))[0] == 404
    assert (await pair(hub_client, {"code": "x"}))[0] == 400  # malformed tries count too
    resp = await hub_client.post("/api/tablet/pair", json={"code": code})
    assert resp.status == 429
    assert (await resp.json())["error"] == "too_many_attempts"
    assert 1 <= int(resp.headers["Retry-After"]) <= 15 * 60
    # The limit refuses even a good code; it lifts once the tries leave the window.
    hub_clock.advance(timedelta(minutes=15))
    status, body = await pair(hub_client, {"code": code})
    assert status == 200, body


async def test_the_limit_is_per_address_and_holds_under_parallel_tries(
    hub_client: Client, auth_headers: Headers, resident: int
) -> None:
    code = await new_code(hub_client, await auth_headers(Role.ADMIN), resident)
    wrong = "99999999" if code != "99999999" else "99999998"
    limit = hub_client.app[SETTINGS].tablet_pair_max_failures
    hub_client.app[SETTINGS].trusted_proxies.append("127.0.0.1")

    def tried_from(address: str) -> Any:
        return hub_client.post(
            "/api/tablet/pair", json={"code": wrong}, headers={"X-Forwarded-For": address}
        )

    statuses = sorted(
        r.status for r in await asyncio.gather(*[tried_from("10.0.0.1") for _ in range(40)])
    )
    assert statuses == [404] * limit + [429] * (40 - limit)
    good = await hub_client.post(
        "/api/tablet/pair", json={"code": code}, headers={"X-Forwarded-For": "10.0.0.2"}
    )
    assert good.status == 200


@pytest.mark.parametrize(
    "role", [Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.FAMILY, Role.FACILITATOR]
)
async def test_only_installers_and_staff_issue_codes(
    hub_client: Client, auth_headers: Headers, resident: int, role: Role
) -> None:
    url = f"/api/residents/{resident}/tablet-setup-codes"
    assert (await hub_client.post(url)).status == 401
    resp = await hub_client.post(url, headers=await auth_headers(role))
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INSTALLER, Role.COORDINATOR, Role.OPERATOR])
async def test_issuers_need_a_known_resident(
    hub_client: Client, auth_headers: Headers, role: Role
) -> None:
    headers = await auth_headers(role)
    for rid in ("9999", "abc"):
        resp = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=headers)
        assert resp.status == 404
        assert (await resp.json())["error"] == "resident_unknown"


def test_the_broker_a_tablet_is_told() -> None:
    settings = HubSettings()
    hub = MqttSettings(host="mosquitto", port=1883, username="hub", password="x")
    assert device_broker(settings, hub) == {"host": "mosquitto", "port": 1883, "tls": False}
    public = msgspec.structs.replace(
        settings, device_mqtt_host="mqtt.example", device_mqtt_tls=True
    )
    assert device_broker(public, hub) == {"host": "mqtt.example", "port": 8883, "tls": True}


async def test_two_tablets_racing_with_one_code_pair_once(
    hub_client: Client, auth_headers: Headers, resident: int
) -> None:
    code = await new_code(hub_client, await auth_headers(Role.INSTALLER), resident)
    answers = await asyncio.gather(*(pair(hub_client, {"code": code}) for _ in range(3)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 410, 410], answers
