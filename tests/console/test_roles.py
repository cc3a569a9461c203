"""docs/roles.md matches the router, and every role is tried against every endpoint."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import SETTINGS
from hub.auth import Role, requires
from hub.auth.service import issue_tokens
from hub.auth.web import Access, public
from hub.cli import routes_app
from hub.clock import ManualClock
from hub.console.roles import (
    Endpoint,
    endpoints,
    markdown_table,
    parse_table,
    undeclared,
    write_table,
)
from hub.db.models import User
from hub.family.principal import family_api
from hub.web.auth import REFUSAL_HEADER
from tests.family.conftest import World

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
REGENERATE = "run: teleassist hub roles-table docs/roles.md"


def _concrete(path: str) -> str:
    # Fill every {param} or {param:regex} with a plausible id.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_roles_doc_lists_every_endpoint_with_its_roles() -> None:
    app = routes_app()
    generated = [(e.method, e.path, e.roles_text) for e in endpoints(app)]
    documented = parse_table(DOC.read_text(encoding="utf-8"))
    assert documented == generated, f"docs/roles.md is out of date; {REGENERATE}\n" + (
        markdown_table(endpoints(app))
    )


def test_the_table_parser_sees_a_change() -> None:
    table = markdown_table([Endpoint("/x", "GET", Access.ROLES, frozenset({Role.ADMIN}))])
    doc = f"<!-- endpoints:begin -->\n{table}\n<!-- endpoints:end -->"
    assert parse_table(doc) == [("GET", "/x", "admin")]
    assert parse_table(doc.replace("admin", "operator")) != [("GET", "/x", "admin")]


async def _refused_by_role(response: ClientResponse) -> bool:
    if response.status != 403:
        return False
    if response.headers.get(REFUSAL_HEADER) == "role":
        return True
    if "json" in response.headers.get("Content-Type", ""):
        body = await response.json()
        return str(body.get("message", "")).startswith("role ")
    return False


def _sent_to_sign_in(response: ClientResponse) -> bool:
    return response.status == 302 and response.headers.get("Location", "").startswith("/login")


async def _call(client: TestClient[Any, Any], e: Endpoint, token: str | None) -> ClientResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if e.method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return await asyncio.wait_for(client.request(e.method, _concrete(e.path), **kwargs), timeout=30)


def test_every_route_declares_who_may_call_it() -> None:
    assert undeclared(endpoints(routes_app())) == []


def test_a_route_without_a_declaration_fails() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    @public("a test page")
    async def open_handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/forgotten", handler)
    app.router.add_get("/open", open_handler)
    app.router.add_get("/family", family_api(handler))
    app.router.add_get("/staff", requires(Role.ADMIN)(handler))
    assert undeclared(endpoints(app)) == ["GET /forgotten"]
    assert {e.path: e.access for e in endpoints(app)} == {
        "/family": Access.FAMILY, "/forgotten": Access.UNDECLARED,
        "/open": Access.PUBLIC, "/staff": Access.ROLES,
    }  # fmt: skip
    with pytest.raises(ValueError, match="why"):
        public(" ")


def test_the_table_is_not_rewritten_while_a_route_declares_nothing(tmp_path: Path) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    doc = tmp_path / "roles.md"
    doc.write_text("<!-- endpoints:begin -->\nold\n<!-- endpoints:end -->\n", encoding="utf-8")
    app = web.Application()
    app.router.add_get("/staff", requires(Role.ADMIN)(handler))
    assert write_table(doc, app) == []
    assert parse_table(doc.read_text(encoding="utf-8")) == [("GET", "/staff", "admin")]
    app.router.add_get("/forgotten", handler)
    before = doc.read_text(encoding="utf-8")
    assert write_table(doc, app) == ["GET /forgotten"]
    assert doc.read_text(encoding="utf-8") == before


async def _expired_and_revoked(
    client: TestClient[Any, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: Callable[..., Awaitable[User]],
    clock: ManualClock,
) -> tuple[str, str]:
    """An admin's access token past its expiry, and one whose sign-ins were all ended."""
    settings = client.app[SETTINGS]
    expired_user = await make_user(Role.ADMIN)
    revoked_user = await make_user(Role.ADMIN)
    long_ago = clock() - timedelta(seconds=settings.access_token_ttl_s + 60)
    async with sessionmaker() as session:
        expired = await issue_tokens(session, expired_user, settings, long_ago)
        revoked = await issue_tokens(session, revoked_user, settings, clock())
        await session.commit()
        # What a password reset, a disabled account or a new role does (hub.auth.service).
        await session.execute(
            update(User)
            .where(User.id == revoked_user.id)
            .values(token_version=User.token_version + 1)
        )
        await session.commit()
    return expired.access_token, revoked.access_token


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_caller_against_every_endpoint(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    make_user: Callable[..., Awaitable[User]],
    token_for: Callable[..., Awaitable[str]],
) -> None:
    """Each route answers each caller as its declared access says: every role, a resident's
    tablet, nobody, an expired token and a revoked one."""
    routes = endpoints(hub_client.app)
    # Renewing a tablet token replaces it, signing out revokes the token it is called
    # with: call them last, in that order.
    last = ["/api/family/tablet/token", "/api/auth/logout"]
    routes.sort(key=lambda e: last.index(e.path) if e.path in last else -1)
    tokens = {role: await token_for(role) for role in Role}
    world = World(hub_client, hub_sessionmaker, make_user, token_for)
    tablet = (await world.resident("Matrix")).headers["Authorization"].removeprefix("Bearer ")
    expired, revoked = await _expired_and_revoked(
        hub_client, hub_sessionmaker, make_user, hub_clock
    )
    problems: list[str] = []
    for e in routes:
        where = f"{e.method} {e.path}"
        for name, token in (("nobody", None), ("expired", expired), ("revoked", revoked)):
            response = await _call(hub_client, e, token)
            if response.status >= 500:
                problems.append(f"{where} as {name}: {response.status}")
            elif e.access is Access.PUBLIC:
                if _sent_to_sign_in(response) or await _refused_by_role(response):
                    problems.append(f"{where} (public) as {name}: {response.status}")
            elif not (response.status == 401 or _sent_to_sign_in(response)):
                problems.append(f"{where} as {name}: {response.status}, not refused")
        response = await _call(hub_client, e, tablet)
        tablet_refused = response.status == 401 or _sent_to_sign_in(response)
        if response.status >= 500:
            problems.append(f"{where} as a tablet: {response.status}")
        elif e.access is Access.FAMILY and tablet_refused:
            problems.append(f"{where} as a tablet: {response.status}, the tablet refused")
        elif e.access is Access.ROLES and not tablet_refused:
            problems.append(f"{where} as a tablet: {response.status}, let through")
        for role, token in tokens.items():
            response = await _call(hub_client, e, token)
            refused = await _refused_by_role(response)
            should_refuse = e.access is Access.ROLES and bool(e.roles) and role not in e.roles
            if response.status >= 500:
                problems.append(f"{where} as {role}: {response.status}")
            elif response.status == 401 and e.access is not Access.PUBLIC:
                problems.append(f"{where} as {role}: 401 with a valid token")
            elif refused != should_refuse:
                verb = "refused" if refused else "let through"
                problems.append(f"{where} as {role}: {verb} ({response.status})")
    assert problems == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_known_refusals(
    hub_client: TestClient[Any, Any], auth_headers: Callable[..., Awaitable[dict[str, str]]]
) -> None:
    # Spelled out so that a wrong table cannot hide them.
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.FAMILY):
        response = await hub_client.get("/api/admin/users", headers=await auth_headers(role))
        assert response.status == 403, role
    response = await hub_client.get("/api/admin/users", headers=await auth_headers(Role.ADMIN))
    assert response.status == 200
