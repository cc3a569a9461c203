"""Served over HTTPS (issue 19, medium): sign-in cookies are Secure and browsers are told
to keep to HTTPS (HSTS); over plain HTTP in development neither. Real hub."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.app import create_app
from hub.auth import Role
from hub.clock import ManualClock
from hub.settings import HubSettings
from tests.hub.fixtures import TEST_PASSWORD, MakeUser


async def _sign_in(client: TestClient[Any, Any]) -> Any:
    return await client.post(
        "/api/auth/login", json={"username": "tere", "password": TEST_PASSWORD}
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_plain_http_in_development(
    hub_client: TestClient[Any, Any], make_user: MakeUser
) -> None:
    await make_user(Role.OPERATOR, username="tere")
    resp = await _sign_in(hub_client)
    assert resp.status == 200
    assert "Strict-Transport-Security" not in resp.headers
    assert all("Secure" not in c for c in resp.headers.getall("Set-Cookie"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_https_public_url_means_secure_cookies_and_hsts(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock, make_user: Any
) -> None:
    settings = msgspec.structs.replace(hub_settings, public_url="https://hub.example")
    app: web.Application = create_app(settings, clock=hub_clock)
    client = await aiohttp_client(app)
    from hub.app import SESSIONMAKER
    from hub.auth.service import create_user

    async with client.app[SESSIONMAKER]() as session:
        await create_user(session, "tere", TEST_PASSWORD, Role.OPERATOR)
        await session.commit()
    resp = await _sign_in(client)
    assert resp.status == 200
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = resp.headers.getall("Set-Cookie")
    assert len(cookies) == 2
    assert all("Secure" in c for c in cookies)
    # Every answer says it, errors and pages too.
    missing = await client.get("/api/no-such-thing")
    assert missing.headers["Strict-Transport-Security"] == "max-age=31536000"
