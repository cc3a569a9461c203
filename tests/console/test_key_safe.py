"""Key-safe codes only for the operator who holds an open alarm of the resident, or a
supervisor's flagged override; reveals limited, also under parallel requests; audited.
(Issue 19, high 3.) On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import protocol
from hub.app import SETTINGS
from hub.auth import Role
from hub.clock import ManualClock
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.db.models import AuditEntry
from hub.settings import HubSettings
from tests.hub.fixtures import TEST_PASSWORD

Headers = Callable[..., Awaitable[dict[str, str]]]
Client = TestClient[Any, Any]


@pytest.fixture
def hub_settings(hub_settings: HubSettings) -> HubSettings:
    """Four reveals an hour (three per alarm, the default) so the hourly limit is reachable."""
    return msgspec.structs.replace(hub_settings, keysafe_reveals_per_hour=4)


async def _panic(client: Client, demo: DemoIds, index: int = 0) -> str:
    rid = demo.residents[index]
    [alarm_id] = await raise_demo_alarm(
        client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    return alarm_id


async def _accept(client: Client, alarm_id: str, headers: dict[str, str]) -> None:
    resp = await client.post(f"/api/alarms/{alarm_id}/accept", headers=headers)
    assert resp.status == 200, await resp.text()


def _url(demo: DemoIds, index: int = 0) -> str:
    return f"/api/console/residents/{demo.residents[index]}/key-safe"


async def test_only_the_operator_holding_an_open_alarm_sees_the_code(
    hub_client: Client,
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    anna = await auth_headers(Role.OPERATOR, username="op-anna")
    biel = await auth_headers(Role.OPERATOR, username="op-biel")
    alarm = await _panic(hub_client, demo)
    other = await _panic(hub_client, demo, 1)
    # A free-text reason (the old API), an unknown alarm, an alarm nobody accepted.
    for body in ({"reason": "alarm:abc"}, {}, {"alarm_id": "nope"}, {"alarm_id": 7},
                 {"alarm_id": alarm}):  # fmt: skip
        refused = await hub_client.post(_url(demo), json=body, headers=anna)
        assert refused.status == 403, body
        assert (await refused.json())["error"] == "alarm_not_held"
    await _accept(hub_client, alarm, anna)
    await _accept(hub_client, other, biel)
    # Biel holds an alarm, but not this one; Anna's alarm is not of resident 1.
    assert (await hub_client.post(_url(demo), json={"alarm_id": alarm}, headers=biel)).status == 403
    wrong_home = await hub_client.post(_url(demo, 1), json={"alarm_id": alarm}, headers=anna)
    assert wrong_home.status == 403
    shown = await hub_client.post(_url(demo), json={"alarm_id": alarm}, headers=anna)
    assert shown.status == 200
    assert (await shown.json())["code"] == "4821"
    assert shown.headers["Cache-Control"] == "no-store"
    # An operator may not override; a social worker reads cards but never the key safe.
    override = {"override": True, "reason": "the neighbour called: smoke at the door"}
    assert (await hub_client.post(_url(demo), json=override, headers=biel)).status == 403
    social = await auth_headers(Role.SOCIAL_WORKER)
    assert (await hub_client.post(_url(demo), json=override, headers=social)).status == 403
    # Once resolved, the alarm no longer opens the key safe.
    resolved = await hub_client.post(
        f"/api/alarms/{alarm}/resolve", json={"outcome": "resident_fine"}, headers=anna
    )
    assert resolved.status == 200, await resolved.text()
    after = await hub_client.post(_url(demo), json={"alarm_id": alarm}, headers=anna)
    assert after.status == 403
    async with hub_sessionmaker() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "keysafe.reveal"))
        ).all()
    assert [(e.actor, e.details["alarm_id"]) for e in entries] == [("op-anna", alarm)]
    assert "4821" not in str(entries[0].details)


async def test_a_supervisor_override_needs_a_reason_and_is_flagged(
    hub_client: Client,
    auth_headers: Headers,
    demo: DemoIds,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    laia = await auth_headers(Role.SUPERVISOR, username="sup-laia")
    for reason in (None, "", "because", "x" * 201):
        bad = await hub_client.post(
            _url(demo), json={"override": True, "reason": reason}, headers=laia
        )
        assert bad.status == 400
        assert (await bad.json())["error"] == "reason_required"
    reason = "fire brigade at the door, no alarm raised"
    ok = await hub_client.post(_url(demo), json={"override": True, "reason": reason}, headers=laia)
    assert ok.status == 200
    no_safe = await hub_client.post(
        _url(demo, 1), json={"override": True, "reason": reason}, headers=laia
    )
    assert no_safe.status == 404
    async with hub_sessionmaker() as session:
        [entry] = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "keysafe.override"))
        ).all()
    assert entry.actor == "sup-laia"
    assert entry.details == {"resident_id": demo.residents[0], "reason": reason, "override": True}


async def test_parallel_reveals_stop_at_the_limit(
    hub_client: Client, auth_headers: Headers, demo: DemoIds
) -> None:
    anna = await auth_headers(Role.OPERATOR, username="op-par")
    alarm = await _panic(hub_client, demo)
    await _accept(hub_client, alarm, anna)
    limit = hub_client.app[SETTINGS].keysafe_reveals_per_alarm
    responses = await asyncio.gather(
        *[
            hub_client.post(_url(demo), json={"alarm_id": alarm}, headers=anna)
            for _ in range(limit + 7)
        ]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * limit + [429] * 7
    refused = next(r for r in responses if r.status == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert (await refused.json())["error"] == "too_many_reveals"


async def test_reveals_per_hour_are_limited_across_alarms(
    hub_client: Client, auth_headers: Headers, demo: DemoIds, hub_clock: ManualClock
) -> None:
    laia = await auth_headers(Role.SUPERVISOR, username="sup-rate")
    body = {"override": True, "reason": "checking the hourly limit of this test"}
    for _ in range(3):  # the per-alarm limit of one override scope
        assert (await hub_client.post(_url(demo), json=body, headers=laia)).status == 200
    assert (await hub_client.post(_url(demo), json=body, headers=laia)).status == 429
    alarm = await _panic(hub_client, demo)
    await _accept(hub_client, alarm, laia)
    held = {"alarm_id": alarm}
    assert (await hub_client.post(_url(demo), json=held, headers=laia)).status == 200
    # The fifth reveal of the hour is refused although this alarm was shown only once.
    hourly = await hub_client.post(_url(demo), json=held, headers=laia)
    assert hourly.status == 429
    wait = int(hourly.headers["Retry-After"])
    assert 0 < wait <= 3600
    hub_clock.advance(timedelta(seconds=wait))
    resp = await hub_client.post(
        "/api/auth/login", json={"username": "sup-rate", "password": TEST_PASSWORD}
    )
    laia = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    assert (await hub_client.post(_url(demo), json=held, headers=laia)).status == 200
