"""An operator cannot write in an alarm another person holds (issue 19, medium).
Real hub, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_notes_only_by_the_holder_or_a_supervisor(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    rid = demo.residents[0]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    anna = await auth_headers(Role.OPERATOR, username="op-note-a")
    biel = await auth_headers(Role.OPERATOR, username="op-note-b")
    laia = await auth_headers(Role.SUPERVISOR, username="sup-note")
    url = f"/api/alarms/{alarm}/notes"
    # Nobody holds it yet: any operator may note something.
    assert (await hub_client.post(url, json={"text": "first look"}, headers=biel)).status == 200
    accepted = await hub_client.post(f"/api/alarms/{alarm}/accept", headers=anna)
    assert accepted.status == 200
    refused = await hub_client.post(url, json={"text": "I think she fell"}, headers=biel)
    assert refused.status == 409
    assert (await refused.json())["error"] == "already_claimed"
    assert (await hub_client.post(url, json={"text": "calling"}, headers=anna)).status == 200
    assert (await hub_client.post(url, json={"text": "checked"}, headers=laia)).status == 200
    detail = await (await hub_client.get(f"/api/alarms/{alarm}", headers=anna)).json()
    notes = [h for h in detail["history"] if h["action"] == "note"]
    assert [n["detail"]["text"] for n in notes] == ["first look", "calling", "checked"]
