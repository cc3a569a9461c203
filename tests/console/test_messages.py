"""Messages from the centre: shown and spoken on each resident's tablet (PlayMessage), in the
resident's language unless one is chosen; who has no tablet is said; audited; bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.channels import TabletChannel
from hub.alarms.keys import ALARM_EFFECTS
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry, Resident
from protocol import PlayMessage, decode_command
from tests.hub.alarms.test_tablet_settings import Sent
from tests.hub.ingest.helpers import seed_home

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_a_heat_warning_to_a_group(
    hub_client: TestClient[Any, Any],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    sent = Sent()
    hub_client.app[ALARM_EFFECTS].tablet = TabletChannel(sent)
    _, maria = await seed_home(hub_sessionmaker, {"tab-msg-1": "tablet"})
    _, joan = await seed_home(hub_sessionmaker, {"tab-msg-2": "tablet"})
    _, pere = await seed_home(hub_sessionmaker, {"pend-msg-3": "pendant"})  # no tablet
    async with hub_sessionmaker() as session:
        for rid, lang in ((maria, "ca"), (joan, "es")):
            resident = await session.get(Resident, rid)
            assert resident is not None
            resident.language = lang
        await session.commit()
    coordinator = await auth_headers(Role.COORDINATOR, username="coord-msg")
    body = {"resident_ids": [maria, joan, pere], "text": "Avís de calor:  beveu aigua"}
    resp = await hub_client.post("/api/console/messages", json=body, headers=coordinator)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"sent": sorted([maria, joan]), "no_tablet": [pere]}
    by_device = {
        topic: decode_command(payload, now=hub_clock()).body for topic, payload in sent.messages
    }
    assert by_device == {
        "ta/v1/c/tab-msg-1/play_message": PlayMessage(
            text="Avís de calor: beveu aigua", language="ca"
        ),
        "ta/v1/c/tab-msg-2/play_message": PlayMessage(
            text="Avís de calor: beveu aigua", language="es"
        ),
    }
    # One chosen language for everybody.
    sent.messages.clear()
    body = {"resident_ids": [joan], "text": "The nurse comes at 11", "language": "en"}
    resp = await hub_client.post(
        "/api/console/messages", json=body, headers=await auth_headers(Role.OPERATOR)
    )
    assert resp.status == 200
    [(_, payload)] = sent.messages
    assert decode_command(payload, now=hub_clock()).body == PlayMessage(
        text="The nurse comes at 11", language="en"
    )
    async with hub_sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.actor == "coord-msg", AuditEntry.action == "tablet.message"
            )
        )
    assert entry is not None
    assert entry.details == {
        "text": "Avís de calor: beveu aigua",
        "speak": True,
        "confirm": False,
        "sent": 2,
        "no_tablet": [pere],
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"resident_ids": [], "text": "hola"}, 400),
        ({"resident_ids": [1], "text": ""}, 400),
        ({"resident_ids": [1], "text": "x" * 501}, 400),
        ({"resident_ids": [1], "text": "hola", "language": "fr"}, 400),
        ({"resident_ids": ["1"], "text": "hola"}, 400),
        ({"resident_ids": [1], "text": "hola", "urgent": True}, 400),
        ({"resident_ids": [1], "text": "hola", "speak": "yes"}, 400),
        ({"resident_ids": [1], "text": "hola", "confirm": None}, 400),
        ({"resident_ids": [999999], "text": "hola"}, 404),
    ],
)
async def test_bad_messages_are_refused(
    hub_client: TestClient[Any, Any], auth_headers: Headers, body: dict[str, Any], status: int
) -> None:
    headers = await auth_headers(Role.SUPERVISOR)
    resp = await hub_client.post("/api/console/messages", json=body, headers=headers)
    assert resp.status == status


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "text_empty"),
        ("   ", "text_empty"),
        ("\x07", "text_empty"),
        ("x" * 501, "text_too_long"),
    ],
)
async def test_the_form_is_told_what_is_wrong_with_the_text(
    hub_client: TestClient[Any, Any], auth_headers: Headers, text: str, code: str
) -> None:
    headers = await auth_headers(Role.OPERATOR)
    resp = await hub_client.post(
        "/api/console/messages", json={"resident_ids": [1], "text": text}, headers=headers
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == code


async def test_who_may_send(hub_client: TestClient[Any, Any], auth_headers: Headers) -> None:
    for role in (Role.INSTALLER, Role.ADMIN, Role.SOCIAL_WORKER):
        headers = await auth_headers(role)
        resp = await hub_client.post(
            "/api/console/messages", json={"resident_ids": [1], "text": "hola"}, headers=headers
        )
        assert resp.status == 403, role
