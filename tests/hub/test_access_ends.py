"""Ending access ends access (issue 19, high 5): a password reset revokes refresh tokens,
a disabled or demoted account's access token stops at once (open family sockets:
tests/family/test_live_access.py). Real hub, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.db.models import Home, Resident
from tests.hub.fixtures import TEST_PASSWORD, MakeUser

Client = TestClient[Any, Any]


@pytest.fixture
async def demo_resident(hub_sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """A resident whose card (with medical notes) staff read."""
    async with hub_sessionmaker() as session:
        home = Home(address="C/ Major 1, Barcelona")
        session.add(home)
        await session.flush()
        resident = Resident(home_id=home.id, name="Rosa", medical_notes="insulina")
        session.add(resident)
        await session.commit()
        return resident.id


async def _sign_in(client: Client, username: str, password: str = TEST_PASSWORD) -> dict[str, Any]:
    resp = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _admin(client: Client, make_user: MakeUser) -> dict[str, str]:
    await make_user(Role.ADMIN, username="root")
    return _bearer((await _sign_in(client, "root"))["access_token"])


async def _patch(client: Client, admin: dict[str, str], uid: int, **body: Any) -> None:
    resp = await client.patch(f"/api/admin/users/{uid}", json=body, headers=admin)
    assert resp.status == 200, await resp.text()


async def test_a_password_reset_ends_every_sign_in(hub_client: Client, make_user: MakeUser) -> None:
    admin = await _admin(hub_client, make_user)
    user = await make_user(Role.OPERATOR, username="sara")
    first, second = await _sign_in(hub_client, "sara"), await _sign_in(hub_client, "sara")
    await _patch(hub_client, admin, user.id, password="a brand new password")
    for pair in (first, second):
        refreshed = await hub_client.post(
            "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status == 401
        me = await hub_client.get("/api/me", headers=_bearer(pair["access_token"]))
        assert me.status == 401
        assert (await me.json())["error"] == "token_revoked"
    fresh = await _sign_in(hub_client, "sara", "a brand new password")
    assert (await hub_client.get("/api/me", headers=_bearer(fresh["access_token"]))).status == 200
    # Changing only the display name ends nothing.
    await _patch(hub_client, admin, user.id, display_name="Sara V.")
    assert (await hub_client.get("/api/me", headers=_bearer(fresh["access_token"]))).status == 200


async def test_a_disabled_or_demoted_account_stops_at_once(
    hub_client: Client, make_user: MakeUser, demo_resident: int
) -> None:
    admin = await _admin(hub_client, make_user)
    card = f"/api/console/residents/{demo_resident}/card"
    for change in ({"active": False}, {"role": "family"}):
        user = await make_user(Role.OPERATOR)
        pair = await _sign_in(hub_client, user.username)
        headers = _bearer(pair["access_token"])
        assert (await hub_client.get(card, headers=headers)).status == 200
        await _patch(hub_client, admin, user.id, **change)
        refused = await hub_client.get(card, headers=headers)
        assert refused.status == 401, change
        assert (await refused.json())["error"] == "token_revoked"
        again = await hub_client.post(
            "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert again.status == 401
