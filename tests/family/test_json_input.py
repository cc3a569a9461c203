"""Hostile JSON gets 400, never 500 (issue 19): deep nesting, lone UTF-16 surrogates,
integers beyond 64 bits, NaN, NUL characters — over HTTP and on the family socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.auth import Role
from hub.http import MAX_JSON_DEPTH, JsonShapeError, parse_json
from tests.family.conftest import World

HOSTILE = [
    ("deep", b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("nested_just_too_deep", b'{"text": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"),
    ("lone_surrogate", b'{"text": "hola \\ud800"}'),
    ("surrogate_key", b'{"\\udfff": 1, "text": "x"}'),
    ("nul", b'{"text": "hola\\u0000adeu"}'),
    ("huge_int", b'{"text": "x", "resident_id": 18446744073709551616}'),
    ("nan", b'{"text": "x", "n": NaN}'),
    ("not_utf8", b'{"text": "\xff"}'),
]


@pytest.mark.parametrize(("name", "body"), HOSTILE, ids=[n for n, _ in HOSTILE])
async def test_hostile_json_is_a_400(world: World, name: str, body: bytes) -> None:
    maria = await world.resident()
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    laia = await world.person(Role.FACILITATOR)
    group = await (
        await world.client.post("/api/family/groups", json={"name": "g"}, headers=laia.headers)
    ).json()
    targets = [
        (f"/api/family/conversations/{link['conversation_id']}/messages", anna.headers),
        (f"/api/family/groups/{group['id']}/members", laia.headers),
        ("/api/auth/login", {}),
    ]
    for url, headers in targets:
        resp = await world.client.post(
            url, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert resp.status == 400, (url, await resp.text())
        assert (await resp.json())["error"] == "invalid_json"


async def test_a_huge_id_in_a_good_body_is_not_a_500(world: World) -> None:
    laia = await world.person(Role.FACILITATOR)
    group = await (
        await world.client.post("/api/family/groups", json={"name": "g"}, headers=laia.headers)
    ).json()
    resp = await world.client.post(
        f"/api/family/groups/{group['id']}/members",
        json={"resident_id": 2**63 - 1},
        headers=laia.headers,
    )
    assert resp.status == 400  # ids are 32-bit columns
    path = await world.client.delete(
        f"/api/family/groups/{group['id']}/members/{2**40}", headers=laia.headers
    )
    assert path.status == 404


async def test_hostile_frames_on_the_socket_get_an_error_frame(world: World) -> None:
    anna = await world.person()
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as ws:
        for _, body in HOSTILE[1:5]:  # (the 200 kB one is over the frame limit)
            await ws.send_str(body.decode("utf-8", "surrogatepass"))
            async with asyncio.timeout(10):
                while (reply := await ws.receive_json())["type"] == "ping":
                    pass
            assert reply["error"] == "invalid_json"


def test_parse_json_accepts_the_edges() -> None:
    ok: Any = parse_json(
        b'{"a": [' + b"[" * (MAX_JSON_DEPTH - 2) + b"]" * (MAX_JSON_DEPTH - 2) + b"]}"
    )
    assert isinstance(ok, dict)
    assert parse_json('{"n": -9223372036854775808, "m": 9223372036854775807, "t": "ß😀"}') == {
        "n": -(2**63),
        "m": 2**63 - 1,
        "t": "ß😀",
    }
    with pytest.raises(JsonShapeError):
        parse_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(JsonShapeError):
        parse_json('{"m": 9223372036854775808}')


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_cross_site_form_cannot_post_to_a_json_endpoint(
    world: World, content_type: str
) -> None:
    """What a page of another site can send without a CORS preflight is refused."""
    maria = await world.resident()
    anna = await world.person()
    link = await world.link(maria, anna)
    resp = await world.client.post(
        f"/api/family/conversations/{link['conversation_id']}/messages",
        data=b'{"text": "sent from evil.example"}',
        headers={**anna.headers, "Content-Type": content_type},
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_json"
    ok = await world.client.post(
        f"/api/family/conversations/{link['conversation_id']}/messages",
        data=b'{"text": "hola"}',
        headers={**anna.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status == 201
