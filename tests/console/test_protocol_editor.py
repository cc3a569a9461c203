"""The centre edits its operator protocols (issue 22, item 6): its own steps replace the
shipped ones on the card and in the ticks, go back on reset, who may edit, bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.console.protocols import protocols
from hub.db.models import AuditEntry

Headers = Callable[..., Awaitable[dict[str, str]]]
OWN_FALL = [
    {"key": "speak", "ca": "Parleu-hi per l'altaveu", "es": "Háblele por el altavoz",
     "en": "Speak through the speaker"},
    {"key": "neighbour", "ca": "Truqueu a la veïna amb clau", "es": "Llame a la vecina con llave",
     "en": "Call the neighbour with the key"},
]  # fmt: skip


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_centre_s_own_protocol_is_used_until_it_is_reset(
    hub_client: TestClient[Any, Any],
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR, username="coord-p", language="en")
    listed = await (await hub_client.get("/api/console/protocols/edit", headers=coordinator)).json()
    fall = next(k for k in listed["kinds"] if k["kind"] == "fall")
    assert (fall["own"], fall["name"]) == (False, "Fall")
    assert [s["key"] for s in fall["steps"]] == [s.key for s in protocols()["fall"]]
    assert {k["kind"] for k in listed["kinds"]} >= {"default", "night_door", "flood"}
    assert "co" not in {k["kind"] for k in listed["kinds"]}  # follows smoke

    saved = await hub_client.put(
        "/api/console/protocols/fall", json={"steps": OWN_FALL}, headers=coordinator
    )
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["updated_by"] == "coord-p"
    # The console's card reads it, in the operator's language; a tick records its key.
    anna = await auth_headers(Role.OPERATOR, username="op-p", language="es")
    card = await (await hub_client.get("/api/console/protocols", headers=anna)).json()
    assert card["protocols"]["fall"] == [
        {"key": "speak", "text": "Háblele por el altavoz"},
        {"key": "neighbour", "text": "Llame a la vecina con llave"},
    ]
    rid = demo.residents[2]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][2], protocol.Fall(room="bathroom", confidence=0.9)
    )
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=anna)).status == 200
    url = f"/api/alarms/{alarm}/protocol-steps"
    ticked = await hub_client.post(url, json={"step": "neighbour"}, headers=anna)
    assert ticked.status == 200, await ticked.text()
    gone = await hub_client.post(url, json={"step": "conscious"}, headers=anna)  # shipped key
    assert (gone.status, (await gone.json())["error"]) == (400, "unknown_step")

    reset = await hub_client.delete("/api/console/protocols/fall", headers=coordinator)
    assert reset.status == 204
    again = await hub_client.delete("/api/console/protocols/fall", headers=coordinator)
    assert again.status == 404
    card = await (await hub_client.get("/api/console/protocols", headers=anna)).json()
    assert [s["key"] for s in card["protocols"]["fall"]] == [s.key for s in protocols()["fall"]]
    # A kind that had the default protocol gets its own.
    door = await hub_client.put(
        "/api/console/protocols/night_door", json={"steps": OWN_FALL[:1]}, headers=coordinator
    )
    assert door.status == 200
    card = await (await hub_client.get("/api/console/protocols", headers=anna)).json()
    assert card["protocols"]["night_door"] == [{"key": "speak", "text": "Háblele por el altavoz"}]
    async with hub_sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("protocol.%"))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["protocol.edit", "protocol.reset", "protocol.edit"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bad_protocols_are_refused(
    hub_client: TestClient[Any, Any], auth_headers: Headers, demo: DemoIds
) -> None:
    admin = await auth_headers(Role.ADMIN)

    async def put(kind: str, body: Any) -> tuple[int, str]:
        resp = await hub_client.put(f"/api/console/protocols/{kind}", json=body, headers=admin)
        return resp.status, (await resp.json()).get("error", "")

    step = OWN_FALL[0]
    assert await put("fall", {"steps": []}) == (400, "invalid_steps")
    assert await put("fall", {}) == (400, "invalid_steps")
    assert await put("fall", {"steps": [step] * 13}) == (400, "invalid_steps")
    assert await put("fall", {"steps": [{**step, "es": ""}]}) == (400, "invalid_steps")
    assert await put("fall", {"steps": [{k: v for k, v in step.items() if k != "en"}]}) == (
        400,
        "invalid_steps",
    )
    assert await put("fall", {"steps": [{**step, "key": "Not A Key"}]}) == (400, "invalid_steps")
    assert await put("fall", {"steps": [{**step, "fr": "x"}]}) == (400, "invalid_steps")
    assert await put("fall", {"steps": [step, step]}) == (400, "duplicate_step")
    assert await put("sneeze", {"steps": [step]}) == (404, "unknown_kind")
    assert await put("co", {"steps": [step]}) == (404, "unknown_kind")  # follows smoke
    listed = await (await hub_client.get("/api/console/protocols/edit", headers=admin)).json()
    assert not any(k["own"] for k in listed["kinds"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ADMIN, True),
        (Role.COORDINATOR, True),
        (Role.SUPERVISOR, False),
        (Role.OPERATOR, False),
        (Role.SOCIAL_WORKER, False),
    ],
)
async def test_who_may_edit_protocols(
    hub_client: TestClient[Any, Any], auth_headers: Headers, role: Role, allowed: bool
) -> None:
    headers = await auth_headers(role)
    listed = await hub_client.get("/api/console/protocols/edit", headers=headers)
    put = await hub_client.put(
        "/api/console/protocols/fall", json={"steps": OWN_FALL}, headers=headers
    )
    expected = (200, 200) if allowed else (403, 403)
    assert (listed.status, put.status) == expected
    page = await hub_client.get("/console/protocols", headers=headers, allow_redirects=False)
    assert (page.status == 200) is allowed
