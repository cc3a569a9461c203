"""Sign-in, refresh, sign-out, lock-out and role checks through the real HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.app import SESSIONMAKER as SESSIONMAKER_KEY
from hub.app import SETTINGS, create_app
from hub.auth import Role, current_user, required_roles, requires
from hub.clock import ManualClock
from hub.db.models import AuditEntry, User
from hub.settings import HubSettings
from tests.hub.fixtures import TEST_PASSWORD, MakeUser

Client = TestClient[Any, Any]


async def _login(client: Client, username: str, password: str = TEST_PASSWORD) -> Any:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_login_me_and_audit(hub_client: Client, make_user: MakeUser) -> None:
    await make_user(Role.OPERATOR, username="anna", display_name="Anna", language="es")
    resp = await _login(hub_client, "anna")
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["user"] == {
        "id": body["user"]["id"],
        "username": "anna",
        "role": "operator",
        "language": "es",
        "display_name": "Anna",
    }
    me = await hub_client.get(
        "/api/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status == 200
    assert (await me.json())["username"] == "anna"
    async with hub_client.app[SESSIONMAKER_KEY]() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "auth.login" in actions


async def test_cookie_sign_in_for_pages(hub_client: Client, make_user: MakeUser) -> None:
    await make_user(Role.SUPERVISOR, username="sue")
    assert (await _login(hub_client, "sue")).status == 200
    # The test client keeps cookies: the page-style request carries no header.
    me = await hub_client.get("/api/me")
    assert me.status == 200
    assert (await me.json())["role"] == "supervisor"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"username": "nobody", "password": TEST_PASSWORD}, "invalid_credentials"),
        ({"username": "bob", "password": "wrong password!"}, "invalid_credentials"),
    ],
)
async def test_bad_credentials(
    hub_client: Client, make_user: MakeUser, payload: dict[str, str], code: str
) -> None:
    await make_user(Role.OPERATOR, username="bob")
    resp = await hub_client.post("/api/auth/login", json=payload)
    assert resp.status == 401
    assert (await resp.json())["error"] == code


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"username": "x"}'])
async def test_malformed_login_is_400(hub_client: Client, body: bytes) -> None:
    resp = await hub_client.post("/api/auth/login", data=body)
    assert resp.status == 400
    assert (await resp.json())["error"] in {"invalid_json", "invalid_request"}


async def test_lock_out_after_failures(
    hub_client: Client, make_user: MakeUser, hub_clock: ManualClock
) -> None:
    await make_user(Role.OPERATOR, username="carla")
    limit = hub_client.app[SETTINGS].max_failed_logins
    for _ in range(limit):
        assert (await _login(hub_client, "carla", "bad password!!")).status == 401
    locked = await _login(hub_client, "carla")  # even the right password
    assert locked.status == 429
    assert (await locked.json())["error"] == "too_many_attempts"
    wait = int(locked.headers["Retry-After"])
    assert 0 < wait <= hub_client.app[SETTINGS].lockout_s
    hub_clock.advance(timedelta(seconds=wait))
    assert (await _login(hub_client, "carla")).status == 200
    # A good sign-in resets the count: five more tries before the next wait.
    for _ in range(limit - 1):
        assert (await _login(hub_client, "carla", "bad password!!")).status == 401
    assert (await _login(hub_client, "carla")).status == 200
    async with hub_client.app[SESSIONMAKER_KEY]() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("auth.fail") == 2 * limit - 1


async def test_disabled_account(hub_client: Client, make_user: MakeUser) -> None:
    user = await make_user(Role.OPERATOR, username="dan")
    async with hub_client.app[SESSIONMAKER_KEY]() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.active = False
        await session.commit()
    resp = await _login(hub_client, "dan")
    assert resp.status == 403
    assert (await resp.json())["error"] == "account_disabled"


async def test_refresh_rotates_and_reuse_revokes_family(
    hub_client: Client, make_user: MakeUser
) -> None:
    await make_user(Role.ADMIN, username="eva")
    first = await (await _login(hub_client, "eva")).json()
    hub_client.session.cookie_jar.clear()
    resp = await hub_client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert resp.status == 200
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    hub_client.session.cookie_jar.clear()
    # Replaying the spent token is refused and ends the whole sign-in...
    replay = await hub_client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status == 401
    assert (await replay.json())["error"] == "token_revoked"
    # ...so the newer refresh token is revoked too.
    later = await hub_client.post(
        "/api/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert later.status == 401


async def test_refresh_needs_a_refresh_token(hub_client: Client, make_user: MakeUser) -> None:
    await make_user(Role.ADMIN, username="fran")
    tokens = await (await _login(hub_client, "fran")).json()
    hub_client.session.cookie_jar.clear()
    missing = await hub_client.post("/api/auth/refresh")
    assert missing.status == 401
    assert (await missing.json())["error"] == "token_missing"
    wrong_type = await hub_client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert wrong_type.status == 401
    assert (await wrong_type.json())["error"] == "token_invalid"


async def test_logout_revokes_access_and_refresh(hub_client: Client, make_user: MakeUser) -> None:
    await make_user(Role.OPERATOR, username="gil")
    tokens = await (await _login(hub_client, "gil")).json()
    hub_client.session.cookie_jar.clear()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await hub_client.post("/api/auth/logout", headers=headers)).status == 204
    after = await hub_client.get("/api/me", headers=headers)
    assert after.status == 401
    assert (await after.json())["error"] == "token_revoked"
    refresh = await hub_client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status == 401


async def test_expired_access_token(
    hub_client: Client, token_for: Any, hub_clock: ManualClock
) -> None:
    token = await token_for(Role.OPERATOR)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await hub_client.get("/api/me", headers=headers)).status == 200
    hub_clock.advance(timedelta(seconds=hub_client.app[SETTINGS].access_token_ttl_s + 1))
    resp = await hub_client.get("/api/me", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["error"] == "token_expired"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_bad_tokens_are_401_json(hub_client: Client, token_for: Any) -> None:
    good = await token_for(Role.OPERATOR)
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, "another secret that is long enough for HS256!", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    cases = {
        "Bearer garbage": "token_invalid",
        f"Bearer {forged}": "token_invalid",
        f"Bearer {unsigned}": "token_invalid",
        f"Basic {good}": "token_invalid",
        "Bearer ": "token_invalid",
    }
    for header, code in cases.items():
        resp = await hub_client.get("/api/me", headers={"Authorization": header})
        assert resp.status == 401, header
        assert (await resp.json())["error"] == code, header
    missing = await hub_client.get("/api/me")
    assert missing.status == 401
    assert (await missing.json())["error"] == "token_missing"


async def test_api_not_found_is_json(hub_client: Client) -> None:
    resp = await hub_client.get("/api/no-such-thing")
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


@requires(Role.SUPERVISOR, Role.ADMIN)
async def _supervisors_only(request: web.Request) -> web.Response:
    return web.json_response({"who": current_user(request).username})


async def test_requires_role(
    aiohttp_client: Any, hub_settings: HubSettings, hub_clock: ManualClock
) -> None:
    app = create_app(hub_settings, clock=hub_clock)
    app.router.add_get("/api/test/supervisors", _supervisors_only)
    client = await aiohttp_client(app)
    assert required_roles(_supervisors_only) == {Role.SUPERVISOR, Role.ADMIN}
    from hub.auth.service import create_user, issue_tokens

    tokens = {}
    async with client.app[SESSIONMAKER_KEY]() as session:
        for role in (Role.OPERATOR, Role.SUPERVISOR):
            user = await create_user(session, f"u-{role.value}", TEST_PASSWORD, role)
            tokens[role] = (
                await issue_tokens(session, user, client.app[SETTINGS], hub_clock())
            ).access_token
        await session.commit()
    denied = await client.get(
        "/api/test/supervisors", headers={"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}
    )
    assert denied.status == 403
    assert (await denied.json())["error"] == "forbidden"
    allowed = await client.get(
        "/api/test/supervisors", headers={"Authorization": f"Bearer {tokens[Role.SUPERVISOR]}"}
    )
    assert allowed.status == 200
    assert (await allowed.json()) == {"who": "u-supervisor"}


async def test_healthz(hub_client: Client) -> None:
    resp = await hub_client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json()) == {"status": "ok"}
