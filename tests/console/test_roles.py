"""docs/roles.md matches the router, and every role is tried against every endpoint."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from hub.auth import Role
from hub.console.roles import Endpoint, build_app, endpoints, markdown_table, parse_table
from hub.web.auth import REFUSAL_HEADER

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
REGENERATE = "run: python -m hub.console.roles docs/roles.md"


def _concrete(path: str) -> str:
    # Fill every {param} or {param:regex} with a plausible id.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_roles_doc_lists_every_endpoint_with_its_roles() -> None:
    app = build_app()
    generated = [(e.method, e.path, e.roles_text) for e in endpoints(app)]
    documented = parse_table(DOC.read_text(encoding="utf-8"))
    assert documented == generated, f"docs/roles.md is out of date; {REGENERATE}\n" + (
        markdown_table(endpoints(app))
    )


def test_the_table_parser_sees_a_change() -> None:
    table = markdown_table([Endpoint("/x", "GET", frozenset({Role.ADMIN}))])
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


async def _call(client: TestClient[Any, Any], e: Endpoint, token: str | None) -> ClientResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if e.method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return await asyncio.wait_for(client.request(e.method, _concrete(e.path), **kwargs), timeout=30)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_role_against_every_endpoint(
    hub_client: TestClient[Any, Any], token_for: Callable[..., Awaitable[str]]
) -> None:
    routes = endpoints(hub_client.app)
    # Sign-out revokes the token it is called with: call it last.
    routes.sort(key=lambda e: e.path == "/api/auth/logout")
    tokens = {role: await token_for(role) for role in Role}
    problems: list[str] = []
    for e in routes:
        if e.roles is not None:
            response = await _call(hub_client, e, None)
            location = response.headers.get("Location", "")
            if not (
                response.status == 401 or (response.status == 302 and location.startswith("/login"))
            ):
                problems.append(f"{e.method} {e.path} without a token: {response.status}")
        for role, token in tokens.items():
            response = await _call(hub_client, e, token)
            refused = await _refused_by_role(response)
            should_refuse = e.roles is not None and bool(e.roles) and role not in e.roles
            if response.status == 401 and e.roles is not None:
                problems.append(f"{e.method} {e.path} as {role}: 401 with a valid token")
            elif refused != should_refuse:
                verb = "refused" if refused else "let through"
                problems.append(f"{e.method} {e.path} as {role}: {verb} ({response.status})")
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
