"""Provisioning API: homes, devices, credentials, revocation; broker files follow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select

from hub.app import KEYSAFE, SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role
from hub.auth.service import create_user, issue_tokens
from hub.clock import ManualClock
from hub.db.models import AuditEntry, Device, Home
from hub.registry.credentials import verify_mosquitto_hash
from hub.registry.sync import BROKER_SYNC
from hub.settings import HubSettings
from tests.hub.ingest.helpers import eventually


async def test_provisioning_flow(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock, tmp_path: Path
) -> None:
    passwd, acl = tmp_path / "broker" / "passwd", tmp_path / "broker" / "acl"
    settings = msgspec.structs.replace(
        hub_settings, mosquitto_passwd_file=str(passwd), mosquitto_acl_file=str(acl)
    )
    client = await aiohttp_client(create_app(settings, clock=hub_clock))
    headers: dict[Role, dict[str, str]] = {}
    async with client.app[SESSIONMAKER]() as session:
        for role in (Role.ADMIN, Role.INSTALLER, Role.OPERATOR):
            user = await create_user(session, f"u-{role.value}", "a long password", role)
            pair = await issue_tokens(session, user, client.app[SETTINGS], hub_clock())
            headers[role] = {"Authorization": f"Bearer {pair.access_token}"}
        await session.commit()

    home_body = {"address": "Carrer Major 3", "abss_area": "BCN-2", "key_safe_code": "9876"}
    denied = await client.post("/api/homes", json=home_body, headers=headers[Role.OPERATOR])
    assert denied.status == 403
    resp = await client.post("/api/homes", json=home_body, headers=headers[Role.ADMIN])
    assert resp.status == 201
    home_id = (await resp.json())["id"]
    async with client.app[SESSIONMAKER]() as session:
        home = await session.get(Home, home_id)
        assert home is not None
        assert home.key_safe_code(client.app[KEYSAFE]) == "9876"

    bad = [
        ({"id": "bad/id", "home_id": home_id, "type": "pendant"}, 400, "invalid_device_id"),
        ({"id": "x1", "home_id": 999, "type": "pendant"}, 404, "not_found"),
        ({"id": "x1", "home_id": home_id}, 400, "invalid_request"),
        ({"id": "x1", "home_id": "1", "type": "pendant"}, 400, "invalid_request"),
    ]
    for body, status, code in bad:
        r = await client.post("/api/devices", json=body, headers=headers[Role.INSTALLER])
        assert r.status == status, body
        assert (await r.json())["error"] == code

    r = await client.post(
        "/api/devices",
        json={"id": "h9-gw", "home_id": home_id, "type": "gateway"},
        headers=headers[Role.INSTALLER],
    )
    assert r.status == 201
    gw = await r.json()
    r = await client.post(
        "/api/devices",
        json={"id": "h9-pir", "home_id": home_id, "type": "motion", "gateway_id": "h9-gw"},
        headers=headers[Role.INSTALLER],
    )
    assert r.status == 201
    again = await client.post(
        "/api/devices",
        json={"id": "h9-gw", "home_id": home_id, "type": "gateway"},
        headers=headers[Role.INSTALLER],
    )
    assert again.status == 409
    async with client.app[SESSIONMAKER]() as session:
        stored = await session.get(Device, "h9-gw")
        assert stored is not None
        assert stored.secret_hash is not None
        assert verify_mosquitto_hash(stored.secret_hash, gw["secret"])

    sync = client.app[BROKER_SYNC]
    await eventually(
        lambda: (
            passwd.exists()
            and "h9-pir:" in passwd.read_text()
            and "user h9-gw\ntopic write ta/v1/d/h9-pir/telemetry" in acl.read_text()
        )
    )

    r = await client.post(
        "/api/devices/h9-gw/revoke", json={"reason": "returned"}, headers=headers[Role.INSTALLER]
    )
    assert r.status == 403
    r = await client.post(
        "/api/devices/h9-gw/revoke", json={"reason": "returned"}, headers=headers[Role.ADMIN]
    )
    assert r.status == 200
    await sync.done.wait()
    assert "h9-gw:" not in passwd.read_text()
    r = await client.post("/api/devices/h9-gw/credentials", headers=headers[Role.ADMIN])
    assert r.status == 409
    r = await client.post("/api/devices/nope/revoke", headers=headers[Role.ADMIN])
    assert r.status == 404
    async with client.app[SESSIONMAKER]() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"home.create", "device.provision", "device.revoke"} <= set(actions)


async def test_a_single_password_file_is_warned_about(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    hub_clock: ManualClock,
    tmp_path: Path,
    caplog: Any,
) -> None:
    """Without hub.mosquitto_hub_passwd_file the hub's account sits with the devices' on one
    listener: the hub says so at start (docs/adr/0013); with it, it does not."""
    single = msgspec.structs.replace(hub_settings, mosquitto_passwd_file=str(tmp_path / "p1"))
    with caplog.at_level("WARNING", logger="hub.registry.app"):
        await aiohttp_client(create_app(single, clock=hub_clock))
    assert "mosquitto_hub_passwd_file is not set" in caplog.text
    caplog.clear()
    split = msgspec.structs.replace(
        single, mosquitto_hub_passwd_file=str(tmp_path / "p2"), data_dir=str(tmp_path / "d2")
    )
    with caplog.at_level("WARNING", logger="hub.registry.app"):
        await aiohttp_client(create_app(split, clock=hub_clock))
    assert "mosquitto_hub_passwd_file" not in caplog.text


async def test_a_home_with_control_characters_is_refused(
    hub_client: Any, auth_headers: Any, hub_sessionmaker: Any
) -> None:
    headers = await auth_headers(Role.ADMIN)
    for field, value in (
        ("address", "Carrer Major 3\x0b"),
        ("address", "Carrer \x1b[31mMajor 3"),
        ("access_notes", "Key with the neighbour \ufffe"),
        ("abss_area", "BCN\x072"),
    ):
        body = {"address": "Carrer Major 3", field: value}
        resp = await hub_client.post("/api/homes", json=body, headers=headers)
        assert resp.status == 400, (field, value)
        reply = await resp.json()
        assert reply["error"] == "invalid_request"
        assert field in reply["message"]
    async with hub_sessionmaker() as session:
        assert list(await session.scalars(select(Home))) == []
    # A field the body does not define is refused, not lost quietly.
    typo = {"address": "Carrer Major 3", "acces_notes": "ring twice"}
    resp = await hub_client.post("/api/homes", json=typo, headers=headers)
    assert resp.status == 400
    assert "acces_notes" in (await resp.json())["message"]
    # Line breaks and tabs are text, not control characters to refuse.
    body = {"address": "Carrer Major 3", "access_notes": "Ring twice\n\tthen wait"}
    assert (await hub_client.post("/api/homes", json=body, headers=headers)).status == 201
