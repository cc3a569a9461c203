"""hub.http.read_checked: the struct refuses, a field keeps its code, the handler gets the dict."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from msgspec import Meta

from hub.http import error_middleware, read_checked


class Body(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=5)]
    tags: list[Annotated[str, Meta(max_length=3)]] = []
    status: str = "open"


CODES = {
    "$.title>max": "text_too_long",
    "$.title!missing": "title_missing",
    "$.tags": "bad_tag",
}


async def _handler(request: web.Request) -> web.Response:
    refusal = (422, "domain_says_no") if request.query.get("domain") else (400, "invalid_request")
    data = await read_checked(request, Body, CODES, refusal)
    return web.json_response(data)  # the body as sent, defaults not filled in


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient[Any, Any]:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/x", _handler)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"title": "abcdef"}, 400, "text_too_long"),
        ({"title": ""}, 400, "invalid_request"),  # too short is not "too long"
        ({}, 400, "title_missing"),
        ({"title": "a", "tags": ["abcd"]}, 400, "bad_tag"),  # an item takes the list's code
        ({"title": "a", "extra": 1}, 400, "invalid_request"),
        ({"title": 3}, 400, "invalid_request"),
    ],
)
async def test_a_refused_body_has_the_field_s_code(
    client: TestClient[Any, Any], body: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post("/x", json=body)
    assert response.status == status
    answer = await response.json()
    assert answer["error"] == code
    assert "$" in answer["message"] or "field" in answer["message"]


async def test_the_domain_s_refusal_and_the_dict_passed_on(client: TestClient[Any, Any]) -> None:
    refused = await client.post("/x?domain=1", json={"title": 3})
    assert refused.status == 422
    assert (await refused.json())["error"] == "domain_says_no"
    ok = await client.post("/x", json={"title": "a"})
    assert ok.status == 200
    assert await ok.json() == {"title": "a"}
