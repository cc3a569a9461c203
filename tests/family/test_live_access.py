"""Open family sockets close when access ends (issue 19, high 5): logout (that sign-in
only), a disabled account, a removed link, a revoked tablet. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hub.auth import Role
from hub.db.models import User
from tests.family.conftest import World
from tests.hub.fixtures import TEST_PASSWORD, MakeUser


async def _sign_in(world: World, username: str) -> dict[str, Any]:
    resp = await world.client.post(
        "/api/auth/login", json={"username": username, "password": TEST_PASSWORD}
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING):  # fmt: skip
                return True


async def test_family_sockets_close_when_access_ends(world: World, make_user: MakeUser) -> None:
    maria = await world.resident("Maria")
    await make_user(Role.ADMIN, username="root")
    admin = _bearer((await _sign_in(world, "root"))["access_token"])
    # Logout: only that sign-in's socket closes.
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    first = await _sign_in(world, anna.username)
    other = await _sign_in(world, anna.username)
    ws_first = await world.client.ws_connect(
        "/api/family/ws", headers=_bearer(first["access_token"])
    )
    ws_other = await world.client.ws_connect(
        "/api/family/ws", headers=_bearer(other["access_token"])
    )
    out = await world.client.post("/api/auth/logout", headers=_bearer(first["access_token"]))
    assert out.status == 204
    assert await _closed(ws_first)
    assert not ws_other.closed
    # Disabled: every socket of the account closes.
    async with world.sessionmaker() as session:
        anna_user = await session.get(User, anna.user_id)
        assert anna_user is not None
    disabled = await world.client.patch(
        f"/api/admin/users/{anna_user.id}", json={"active": False}, headers=admin
    )
    assert disabled.status == 200
    assert await _closed(ws_other)
    # Link removal: the removed member's socket closes.
    pere = await world.person(name="Pere")
    link = await world.link(maria, pere)
    ws_pere = await world.client.ws_connect("/api/family/ws", headers=pere.headers)
    gone = await world.client.delete(f"/api/family/links/{link['link_id']}", headers=maria.headers)
    assert gone.status == 204
    assert await _closed(ws_pere)
    # A revoked tablet's socket closes too.
    ws_tablet = await world.client.ws_connect("/api/family/ws", headers=maria.headers)
    operator = _bearer(await world.token_for(Role.OPERATOR))
    revoked = await world.client.delete(f"/api/family/tablets/{maria.device_id}", headers=operator)
    assert revoked.status == 204
    assert await _closed(ws_tablet)
    for ws in (ws_first, ws_other, ws_pere, ws_tablet):
        await ws.close()


async def test_a_socket_closes_when_another_worker_ended_the_access(
    world: World, monkeypatch: Any
) -> None:
    """No listener here knows (the change was made elsewhere): the ping check finds it."""
    from sqlalchemy import update

    import hub.family.ws

    monkeypatch.setattr(hub.family.ws, "PING_INTERVAL_S", 0.05)
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    ws = await world.client.ws_connect("/api/family/ws", headers=anna.headers)
    tablet_ws = await world.client.ws_connect("/api/family/ws", headers=maria.headers)
    async with asyncio.timeout(10):
        assert (await ws.receive_json())["type"] == "ping"  # still allowed: pings flow
    async with world.sessionmaker() as session:
        await session.execute(
            update(User).where(User.id == anna.user_id).values(token_version=User.token_version + 1)
        )
        from hub.family.models import TabletCredential

        await session.execute(
            update(TabletCredential)
            .where(TabletCredential.device_id == maria.device_id)
            .values(token_hash="0" * 64)
        )
        await session.commit()
    assert await _closed(ws)
    assert await _closed(tablet_ws)
    await ws.close()
    await tablet_ws.close()


async def test_a_socket_from_another_site_is_refused(world: World, token_for: Any) -> None:
    """Cross-site websocket hijacking: a browser page elsewhere cannot open our sockets."""
    anna = await world.person()
    staff = _bearer(await token_for(Role.OPERATOR))
    own = str(world.client.make_url("/")).rstrip("/")
    for url, headers in (("/api/family/ws", anna.headers), ("/api/alarms/live", staff)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await world.client.ws_connect(
                url, headers={**headers, "Origin": "https://evil.example"}
            )
        assert refused.value.status == 403
        async with world.client.ws_connect(url, headers={**headers, "Origin": own}) as ws:
            assert not ws.closed
        async with world.client.ws_connect(url, headers=headers) as ws:  # not a browser
            assert not ws.closed
