"""Operator protocols per alarm kind: the steps in the reader's language, a ticked step
recorded in the alarm's history (who, when, which step), and every bad request refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.console.protocols import protocol_for, protocols

Headers = Callable[..., Awaitable[dict[str, str]]]


def test_every_protocol_has_every_language_and_unique_keys() -> None:
    table = protocols()
    assert {"default", "fall", "panic", "medical", "smoke", "medication"} <= set(table)
    for kind, steps in table.items():
        assert len({s.key for s in steps}) == len(steps), kind
        for step in steps:
            assert all(step.texts[lang].strip() for lang in ("ca", "es", "en")), (kind, step.key)
    assert protocol_for("gas") == table["smoke"]
    assert protocol_for("night_door") == table["default"]


async def test_ticking_steps_of_a_fall(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    rid = demo.residents[2]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][2], protocol.Fall(room="bathroom", confidence=0.9)
    )
    anna = await auth_headers(Role.OPERATOR, username="op-proto-a", language="ca")
    listed = await (await hub_client.get("/api/console/protocols", headers=anna)).json()
    assert listed["protocols"]["fall"][2] == {
        "key": "pain",
        "text": "Té dolor, sang o no es pot moure? No la feu aixecar",
    }
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=anna)).status == 200
    url = f"/api/alarms/{alarm}/protocol-steps"
    resp = await hub_client.post(url, json={"step": "pain"}, headers=anna)
    assert resp.status == 200, await resp.text()
    steps = [h for h in (await resp.json())["history"] if "protocol_step" in h["detail"]]
    assert [(s["action"], s["detail"]["protocol_step"]) for s in steps] == [("note", "pain")]
    assert steps[0]["detail"]["text"] == "✓ Té dolor, sang o no es pot moure? No la feu aixecar"
    assert steps[0]["actor"]["name"] == "op-proto-a"
    # Another operator does not tick steps of an alarm anna holds.
    biel = await auth_headers(Role.OPERATOR, username="op-proto-b")
    refused = await hub_client.post(url, json={"step": "someone"}, headers=biel)
    assert refused.status == 409
    assert (await refused.json())["error"] == "already_claimed"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"step": "fire"}, 400, "unknown_step"),  # a smoke step, not a fall's
        ({"step": 3}, 400, "invalid_request"),
        ({"step": "pain", "done": True}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
    ],
)
async def test_bad_steps_are_refused(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    rid = demo.residents[2]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][2], protocol.Fall(room="bathroom", confidence=0.9)
    )
    anna = await auth_headers(Role.OPERATOR)
    resp = await hub_client.post(f"/api/alarms/{alarm}/protocol-steps", json=body, headers=anna)
    assert resp.status == status
    assert (await resp.json())["error"] == error


async def test_no_such_alarm_and_readers_only(
    hub_client: TestClient[Any, Any], auth_headers: Headers
) -> None:
    anna = await auth_headers(Role.OPERATOR)
    resp = await hub_client.post(
        "/api/alarms/nope/protocol-steps", json={"step": "identify"}, headers=anna
    )
    assert resp.status == 404
    installer = await auth_headers(Role.INSTALLER)
    assert (await hub_client.get("/api/console/protocols", headers=installer)).status == 403
