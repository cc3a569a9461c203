"""User administration and each user's own language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.db.models import AuditEntry, User
from tests.hub.fixtures import TEST_PASSWORD

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_admin_creates_changes_and_unlocks_users(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin = await auth_headers(Role.ADMIN, username="root-admin")
    new = {
        "username": "marta",
        "password": "a long enough pass",
        "role": "operator",
        "language": "es",
    }
    response = await hub_client.post("/api/admin/users", json=new, headers=admin)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["role"] == "operator"
    assert "password" not in created
    assert "password_hash" not in created
    assert (await hub_client.post("/api/admin/users", json=new, headers=admin)).status == 409

    # Marta can sign in, fails five times, is locked, and the admin unlocks her.
    for _ in range(5):
        await hub_client.post(
            "/api/auth/login", json={"username": "marta", "password": "nope nope"}
        )
    locked = await hub_client.post(
        "/api/auth/login", json={"username": "marta", "password": "a long enough pass"}
    )
    assert locked.status == 429
    uid = created["id"]
    response = await hub_client.patch(
        f"/api/admin/users/{uid}", json={"unlock": True, "role": "supervisor"}, headers=admin
    )
    assert response.status == 200
    assert (await response.json())["role"] == "supervisor"
    ok = await hub_client.post(
        "/api/auth/login", json={"username": "marta", "password": "a long enough pass"}
    )
    assert ok.status == 200
    assert (await ok.json())["user"]["role"] == "supervisor"

    listing = await (await hub_client.get("/api/admin/users", headers=admin)).json()
    assert "marta" in [u["username"] for u in listing["users"]]

    async with hub_sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object == f"user:{uid}")
            )
        ).all()
        details = (
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.actor == "root-admin")
            )
        ).all()
    assert "user.create" in actions
    assert "user.update" in actions
    assert "a long enough pass" not in str(details)


async def test_admin_input_is_checked(
    hub_client: TestClient[Any, Any], auth_headers: Headers
) -> None:
    admin = await auth_headers(Role.ADMIN)
    bad = [
        ({"username": "x", "password": "short", "role": "operator"}, 400, "weak_password"),
        ({"username": "x", "password": "long enough pw", "role": "pilot"}, 400, "invalid_role"),
        (
            {"username": "", "password": "long enough pw", "role": "operator"},
            400,
            "invalid_request",
        ),
        (
            {"username": "x", "password": "long enough pw", "role": "operator", "language": "fr"},
            400,
            "invalid_language",
        ),
    ]
    for body, status, code in bad:
        response = await hub_client.post("/api/admin/users", json=body, headers=admin)
        assert response.status == status, body
        assert (await response.json())["error"] == code
    response = await hub_client.patch("/api/admin/users/999", json={"active": False}, headers=admin)
    assert response.status == 404
    response = await hub_client.patch("/api/admin/users/abc", json={"active": False}, headers=admin)
    assert response.status == 404
    response = await hub_client.patch("/api/admin/users/1", json={"colour": "red"}, headers=admin)
    assert response.status == 400
    # Nothing was created by the refused requests.
    listing = await (await hub_client.get("/api/admin/users", headers=admin)).json()
    assert [u["username"] for u in listing["users"]] != ["x"]
    assert "x" not in [u["username"] for u in listing["users"]]


async def test_an_admin_cannot_lock_themselves_out(
    hub_client: TestClient[Any, Any], make_user: Callable[..., Awaitable[User]]
) -> None:
    me = await make_user(Role.ADMIN, username="solo")
    login = await hub_client.post(
        "/api/auth/login", json={"username": "solo", "password": TEST_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    for change in ({"role": "operator"}, {"active": False}):
        response = await hub_client.patch(f"/api/admin/users/{me.id}", json=change, headers=headers)
        assert response.status == 409
        assert (await response.json())["error"] == "last_admin_guard"


async def test_users_choose_their_own_language(
    hub_client: TestClient[Any, Any],
    make_user: Callable[..., Awaitable[User]],
) -> None:
    await make_user(Role.FAMILY, username="pere", language="ca")
    login = await hub_client.post(
        "/api/auth/login", json={"username": "pere", "password": TEST_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    response = await hub_client.put("/api/me/language", json={"language": "en"}, headers=headers)
    assert response.status == 200
    me = await (await hub_client.get("/api/me", headers=headers)).json()
    assert me["language"] == "en"
    response = await hub_client.put("/api/me/language", json={"language": "de"}, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_language"
    hub_client.session.cookie_jar.clear()  # the sign-in also set cookies
    assert (await hub_client.put("/api/me/language", json={"language": "es"})).status == 401
