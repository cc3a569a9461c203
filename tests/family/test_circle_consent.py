"""The resident's consent per circle member, changed on the tablet or by the centre: audited,
and in force at once on the member's open socket (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import ClientWebSocketResponse
from sqlalchemy import select

from hub.clock import ManualClock
from hub.db.models import AuditEntry
from tests.family.conftest import World

TIMEOUT = 30


async def _next(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next event other than a ping."""
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), TIMEOUT)
        if frame["type"] != "ping":
            return frame


async def _audit(world: World, action: str) -> list[AuditEntry]:
    async with world.sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def test_withdrawn_consent_stops_the_open_socket_at_once(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna, consent=["alarms", "agenda"])
    notices = f"/api/family/residents/{maria.resident_id}/alarm-notices"
    agenda = f"/api/family/residents/{maria.resident_id}/agenda"
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as ws:
        first = await world.client.post(
            notices, json={"alarm_ref": "A-1", "event_type": "panic"}, headers=world.operator
        )
        assert (await first.json())["pushed"] == 1
        assert (await _next(ws))["type"] == "alarm.notice"
        when = (hub_clock() + timedelta(days=1)).isoformat()
        own = await world.client.post(
            agenda, json={"title": "Metge", "starts_at": when}, headers=maria.headers
        )
        assert own.status == 201
        assert (await _next(ws))["type"] == "agenda.changed"

        # Maria, on her tablet, lets Anna see nothing more than messages and calls.
        changed = await world.client.patch(
            f"/api/family/links/{link['link_id']}", json={"consent": []}, headers=maria.headers
        )
        assert changed.status == 200, await changed.text()
        event = await _next(ws)
        assert (event["type"], event["consent"], event["removed"]) == (
            "circle.changed",
            [],
            False,
        )
        second = await world.client.post(
            notices, json={"alarm_ref": "A-2", "event_type": "fall"}, headers=world.operator
        )
        assert (await second.json())["pushed"] == 0
        again = await world.client.post(
            agenda, json={"title": "Perruqueria", "starts_at": when}, headers=maria.headers
        )
        assert again.status == 201
        # The next thing Anna's socket gets is a message from her mother: neither the
        # alarm nor the agenda change came through.
        chats = await (
            await world.client.get("/api/family/conversations", headers=maria.headers)
        ).json()
        [direct] = [c for c in chats if c["kind"] == "direct"]
        said = await world.client.post(
            f"/api/family/conversations/{direct['id']}/messages",
            json={"text": "Estic bé"},
            headers=maria.headers,
        )
        assert said.status == 201
        assert (await _next(ws))["type"] == "message.new"
    for path in (notices, agenda):
        refused = await world.client.get(path, headers=anna.headers)
        assert refused.status == 403
    [entry] = await _audit(world, "family.consent_change")
    assert entry.actor == f"tablet:{maria.device_id}"
    assert entry.details == {
        "consent": "",
        "before": "agenda,alarms",
        "on_behalf_of_resident": False,
    }


async def test_taking_someone_out_tells_their_socket_and_ends_their_access(
    world: World,
) -> None:
    maria = await world.resident("Maria")
    pau = await world.person(name="Pau")
    link = await world.link(maria, pau, consent=["alarms", "activity", "agenda"])
    async with world.client.ws_connect("/api/family/ws", headers=pau.headers) as ws:
        removed = await world.client.delete(
            f"/api/family/links/{link['link_id']}", headers=maria.headers
        )
        assert removed.status == 204
        event = await _next(ws)
        assert (event["type"], event["removed"], event["resident_id"]) == (
            "circle.changed",
            True,
            maria.resident_id,
        )
        posted = await world.client.post(
            f"/api/family/residents/{maria.resident_id}/alarm-notices",
            json={"alarm_ref": "A-3", "event_type": "panic"},
            headers=world.operator,
        )
        assert (await posted.json())["pushed"] == 0
    circle = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/circle", headers=pau.headers
    )
    assert circle.status == 403
    assert (await circle.json())["error"] == "not_linked"


async def test_staff_on_the_family_api_must_say_why(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna, consent=["alarms"])
    url = f"/api/family/links/{link['link_id']}"
    for body in ({"consent": []}, {"consent": [], "reason": "  no "}):
        refused = await world.client.patch(url, json=body, headers=world.operator)
        assert refused.status == 422
        assert (await refused.json())["error"] == "reason_required"
    bad = await world.client.patch(
        url, json={"consent": ["photos"], "reason": "asked by phone"}, headers=maria.headers
    )
    assert bad.status == 400
    assert (await bad.json())["error"] == "consent_invalid"
    ok = await world.client.patch(
        url,
        json={"consent": ["agenda"], "reason": "She asked by phone"},
        headers=world.operator,
    )
    assert ok.status == 200
    assert (await ok.json())["consent"] == ["agenda"]
    refused = await world.client.delete(url, headers=world.operator)
    assert refused.status == 422
    gone = await world.client.delete(
        url, json={"reason": "She asked by phone"}, headers=world.operator
    )
    assert gone.status == 204
    [change] = await _audit(world, "family.consent_change")
    assert change.details == {
        "consent": "agenda",
        "before": "alarms",
        "on_behalf_of_resident": True,
        "reason": "She asked by phone",
    }
    [removal] = await _audit(world, "family.link_remove")
    assert removal.details["reason"] == "She asked by phone"
    assert removal.details["on_behalf_of_resident"] is True


async def test_a_code_made_on_the_tablet_grants_what_it_says(world: World) -> None:
    maria = await world.resident("Maria")
    made = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/linking-codes",
        json={"consent": ["alarms", "agenda"]},
        headers=maria.headers,
    )
    assert made.status == 201
    code = await made.json()
    assert code["consent"] == ["agenda", "alarms"]
    jordi = await world.person(name="Jordi")
    joined = await world.client.post(
        "/api/family/links",
        json={"code": code["code"], "relationship": "nét"},
        headers=jordi.headers,
    )
    assert joined.status == 201
    assert (await joined.json())["consent"] == ["agenda", "alarms"]
    agenda = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/agenda", headers=jordi.headers
    )
    assert agenda.status == 200


async def test_the_agenda_page_says_when_it_is_not_shared(world: World) -> None:
    maria = await world.resident("Maria")
    josep = await world.resident("Josep")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(josep, anna, consent=["agenda"])
    page = await world.client.get("/family/agenda?lang=en", headers=anna.headers)
    html = await page.text()
    assert "Maria does not share their agenda with you." in html
    assert f'class="card agenda" data-resident="{josep.resident_id}"' in html
    assert f'class="card agenda" data-resident="{maria.resident_id}"' not in html
