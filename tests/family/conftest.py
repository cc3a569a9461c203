"""Fixtures of the family network tests."""

from __future__ import annotations

import pytest

from tests.family.media_samples import Samples, make_samples


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Real small photo, video and voice files (encoded once per session)."""
    return make_samples(tmp_path_factory.mktemp("media"))


# ---------------------------------------------------------------- a hub with residents

import asyncio  # noqa: E402
import secrets  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from aiohttp.test_utils import TestClient  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from hub.auth import Role  # noqa: E402
from hub.db.models import Home, Resident  # noqa: E402
from tests.hub.fixtures import TEST_PASSWORD  # noqa: E402


@dataclass
class Person:
    """A user of the test hub with their headers and party key."""

    user_id: int
    headers: dict[str, str]
    name: str
    username: str = ""

    @property
    def party(self) -> str:
        return f"u:{self.user_id}"


@dataclass
class Tablet:
    """A resident with their tablet's headers."""

    resident_id: int
    headers: dict[str, str]
    name: str
    device_id: str = ""

    @property
    def party(self) -> str:
        return f"r:{self.resident_id}"


@dataclass
class World:
    """Factories over one running test hub."""

    client: TestClient[Any, Any]
    sessionmaker: async_sessionmaker[AsyncSession]
    make_user: Callable[..., Awaitable[Any]]
    token_for: Callable[..., Awaitable[str]]
    operator: dict[str, str] = field(default_factory=dict)

    async def person(self, role: Role = Role.FAMILY, name: str = "") -> Person:
        username = f"{role.value}-{secrets.token_hex(3)}"
        token = await self.token_for(role, username=username, display_name=name or username)
        headers = {"Authorization": f"Bearer {token}"}
        me = await self.client.get("/api/family/me", headers=headers)
        body = await me.json()
        return Person(int(body["party"][2:]), headers, body["name"], username)

    async def sign_in(self, person: Person) -> None:
        """Fresh tokens for ``person`` (after the test clock moved past their expiry)."""
        resp = await self.client.post(
            "/api/auth/login", json={"username": person.username, "password": TEST_PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        person.headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}

    async def resident(self, name: str = "Maria") -> Tablet:
        async with self.sessionmaker() as session:
            home = Home(address="C/ Major 1, Barcelona")
            session.add(home)
            await session.flush()
            resident = Resident(home_id=home.id, name=name, language="ca")
            session.add(resident)
            await session.commit()
            rid = resident.id
        paired = await self.pair_tablet(rid)
        token = paired["api_token"]
        return Tablet(rid, {"Authorization": f"Bearer {token}"}, name, paired["device_id"])

    async def pair_tablet(self, resident_id: int) -> dict[str, Any]:
        """Pair the resident's tablet as an installer would: a setup code, then the pad."""
        if not self.operator:
            self.operator = {"Authorization": f"Bearer {await self.token_for(Role.OPERATOR)}"}
        resp = await self.client.post(
            f"/api/residents/{resident_id}/tablet-setup-codes", headers=self.operator
        )
        assert resp.status == 201, await resp.text()
        code = (await resp.json())["code"]
        resp = await self.client.post("/api/tablet/pair", json={"code": code})
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    async def join_group(self, group_id: int, facilitator: Person, tablet: Tablet) -> None:
        """The facilitator asks the resident to join; the resident accepts on the tablet."""
        resp = await self.client.post(
            f"/api/family/groups/{group_id}/members",
            json={"resident_id": tablet.resident_id},
            headers=facilitator.headers,
        )
        assert resp.status == 202, await resp.text()
        resp = await self.client.post(
            f"/api/family/groups/{group_id}/respond",
            json={"answer": "accept"},
            headers=tablet.headers,
        )
        assert resp.status == 200, await resp.text()

    async def link(
        self, tablet: Tablet, person: Person, consent: list[str] | None = None
    ) -> dict[str, Any]:
        resp = await self.client.post(
            f"/api/family/residents/{tablet.resident_id}/linking-codes",
            json={"consent": consent or []},
            headers=tablet.headers,
        )
        assert resp.status == 201, await resp.text()
        code = (await resp.json())["code"]
        resp = await self.client.post(
            "/api/family/links",
            json={"code": code, "relationship": "daughter"},
            headers=person.headers,
        )
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


@pytest.fixture
def world(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    make_user: Callable[..., Awaitable[Any]],
    token_for: Callable[..., Awaitable[str]],
) -> World:
    """A running hub (SQLite and PostgreSQL) with factories for residents and people."""
    return World(hub_client, hub_sessionmaker, make_user, token_for)


async def frame_of(ws: Any, kind: str, timeout_s: float) -> dict[str, Any]:
    """The next frame of type ``kind`` on a family live socket (others are skipped)."""
    async with asyncio.timeout(timeout_s):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == kind:
                return frame
