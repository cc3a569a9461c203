"""Pairing against a real HTTP server that checks what the tablet sends."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tablet_app.pairing import (
    DeviceCredentials,
    MqttCredentials,
    PairingError,
    credentials_json,
    load_credentials,
    pair,
    save_credentials,
)
from teleassist.localbroker import free_port

GOOD_CODE = "48213377"


def credentials_body(port: int = 1883) -> dict[str, Any]:
    return {
        "device_id": "tablet-42",
        "resident_id": 42,
        "hub_url": "http://hub.example",
        "api_token": "tab_secret",
        "mqtt": {"host": "127.0.0.1", "port": port, "username": "tablet-42", "password": "pw"},
    }


def pairing_app(seen: list[Any], answer: Any = None, status: int = 200) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        body = await request.json()
        seen.append(body)
        if set(body) != {"code"} or not isinstance(body["code"], str):
            return web.json_response({"error": "invalid_request"}, status=400)
        if body["code"] != GOOD_CODE:
            return web.json_response({"error": "code_unknown"}, status=404)
        if answer is not None:
            return web.Response(body=answer, status=status, content_type="application/json")
        return web.json_response(credentials_body())

    app = web.Application()
    app.router.add_post("/api/tablet/pair", handler)
    return app


async def test_a_good_code_gives_credentials() -> None:
    seen: list[Any] = []
    async with TestServer(pairing_app(seen)) as server:
        creds = await pair(str(server.make_url("/")), GOOD_CODE)
    assert seen == [{"code": GOOD_CODE}]
    assert creds.device_id == "tablet-42"
    assert creds.mqtt == MqttCredentials(host="127.0.0.1", username="tablet-42", password="pw")


async def test_a_wrong_code_is_a_bad_code() -> None:
    async with TestServer(pairing_app([])) as server:
        with pytest.raises(PairingError) as err:
            await pair(str(server.make_url("/")), "11111111")
    assert err.value.kind == "bad_code"


@pytest.mark.parametrize("code", ["", "12345", "1234567890123", "12a456", "١٢٣٤٥٦"])
async def test_malformed_codes_are_refused_before_sending(code: str) -> None:
    seen: list[Any] = []
    async with TestServer(pairing_app(seen)) as server:
        with pytest.raises(PairingError, match="digits"):
            await pair(str(server.make_url("/")), code)
    assert seen == []


@pytest.mark.parametrize(
    "answer",
    [b"not json", b"{}", json.dumps({**credentials_body(), "device_id": "bad/id"}).encode()],
)
async def test_a_strange_answer_is_reported(answer: bytes) -> None:
    async with TestServer(pairing_app([], answer=answer)) as server:
        with pytest.raises(PairingError) as err:
            await pair(str(server.make_url("/")), GOOD_CODE)
    assert err.value.kind == "bad_answer"


async def test_a_server_error_or_no_hub_is_no_hub() -> None:
    async with TestServer(pairing_app([], answer=b"oops", status=500)) as server:
        with pytest.raises(PairingError) as err:
            await pair(str(server.make_url("/")), GOOD_CODE)
    assert err.value.kind == "no_hub"
    with pytest.raises(PairingError) as err:
        await pair(f"http://127.0.0.1:{free_port()}", GOOD_CODE, timeout_s=5)
    assert err.value.kind == "no_hub"


def test_credentials_are_stored_privately_and_read_back(tmp_path: Path) -> None:
    assert load_credentials(tmp_path) is None
    creds = DeviceCredentials(
        device_id="tablet-42",
        hub_url="http://hub",
        mqtt=MqttCredentials(host="h", username="u", password="secret"),
        api_token="tab_x",
    )
    path = save_credentials(tmp_path, creds)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials(tmp_path) == creds
    shown = credentials_json(creds)
    assert "secret" not in shown
    assert "tab_x" not in shown
    path.write_text("{broken")
    with pytest.raises(ValueError, match="pair the tablet again"):
        load_credentials(tmp_path)
