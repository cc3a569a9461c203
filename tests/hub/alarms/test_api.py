"""The alarms API end to end on a running hub (SQLite and PostgreSQL): an event raises an
alarm, operators see it live, accept it, call, escalate to 112, resolve; roles enforced;
every action in the history and the audit log."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from aiohttp import web
from sqlalchemy import select

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.models import AlarmEffectRow
from hub.alarms.views import AlarmCodes, AlarmView
from hub.auth import Role
from hub.db.models import AuditEntry, Home, Resident
from protocol import Fall, Motion, Panic
from tests.alerts.centre import ReceivingCentre

_ids = itertools.count()


@pytest.fixture
async def centre(aiohttp_server, monkeypatch):
    """A local 112 receiving centre the hub is configured to use."""
    receiving = ReceivingCentre()
    server = await aiohttp_server(receiving.app())
    monkeypatch.setenv("TELEASSIST_ALARMS__EMERGENCY_URL", str(server.make_url("/incidents")))
    monkeypatch.setenv("TELEASSIST_ALARMS__EMERGENCY_ATTEMPTS", "2")
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    return receiving


async def _home(sessionmaker) -> tuple[str, str]:
    async with sessionmaker() as session:
        home = Home(address="Carrer de Provença 100, 3r 2a, Barcelona", lat=41.3889, lon=2.1527)
        session.add(home)
        await session.flush()
        resident = Resident(home_id=home.id, name="Rosa Puig", language="ca")
        session.add(resident)
        await session.commit()
        return str(home.id), str(resident.id)


def _event(home: str, resident: str, body: Any, at) -> HomeEvent:
    return HomeEvent(
        home_id=home,
        resident_id=resident,
        device_id=f"{home}-pendant",
        device_type=DeviceType.PENDANT,
        message_id=f"msg{next(_ids)}",
        at=at,
        body=body,
    )


async def _next(socket, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive_json()
            if message["type"] == kind:
                return message


async def test_panic_to_resolution_through_the_api(
    centre, hub_client, hub_sessionmaker, token_for, hub_clock
) -> None:
    home, resident = await _home(hub_sessionmaker)
    anna = await token_for(Role.OPERATOR, username="anna", language="en")
    biel = await token_for(Role.OPERATOR, username="biel")
    social = await token_for(Role.SOCIAL_WORKER)

    def h(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    socket_a = await hub_client.ws_connect("/api/alarms/live", headers=h(anna))
    socket_b = await hub_client.ws_connect("/api/alarms/live", headers=h(biel))
    assert (await _next(socket_a, "snapshot"))["alarms"] == []
    await _next(socket_b, "snapshot")

    engine = hub_client.app[ALARM_ENGINE]
    changes = await engine.handle_event(_event(home, resident, Panic(), hub_clock()))
    (change,) = changes
    alarm_id = change.alarm.id
    raised = await _next(socket_a, "alarm.raised")
    assert raised["alarm"]["id"] == alarm_id
    assert raised["alarm"]["rule_label"] == "Help button"
    assert (await _next(socket_b, "alarm.raised"))["alarm"]["rule_label"] == "Botó d'ajuda"

    listed = await (await hub_client.get("/api/alarms", headers=h(social))).json()
    assert [a["id"] for a in listed["alarms"]] == [alarm_id]
    # A social worker reads but cannot act.
    refused = await hub_client.post(f"/api/alarms/{alarm_id}/accept", headers=h(social))
    assert refused.status == 403

    hub_clock.advance(timedelta(seconds=12))
    accepted = await hub_client.post(f"/api/alarms/{alarm_id}/accept", headers=h(anna))
    assert accepted.status == 200, await accepted.text()
    taken = await _next(socket_b, "alarm.accepted")
    assert taken["by"]["name"] == "anna"
    second = await hub_client.post(f"/api/alarms/{alarm_id}/accept", headers=h(biel))
    assert second.status == 409
    assert (await second.json())["error"] == "already_claimed"

    attempt = await hub_client.post(
        f"/api/alarms/{alarm_id}/contact-attempts",
        json={"party": "resident", "result": "no_answer", "notes": "no answer"},
        headers=h(anna),
    )
    assert attempt.status == 200
    assert (await attempt.json())["state"] == "in_contact"
    bad = await hub_client.post(
        f"/api/alarms/{alarm_id}/contact-attempts",
        json={"party": "resident", "result": "maybe"},
        headers=h(anna),
    )
    assert bad.status == 400
    await hub_client.post(
        f"/api/alarms/{alarm_id}/notes", json={"text": "neighbour has a key"}, headers=h(anna)
    )
    preview = await hub_client.get(
        f"/api/alarms/{alarm_id}/emergency-payload?format=cap", headers=h(anna)
    )
    assert preview.status == 200
    assert preview.content_type == "application/cap+xml"
    assert "Carrer de Provença" in (await preview.read()).decode()

    escalated = await hub_client.post(
        f"/api/alarms/{alarm_id}/escalations", json={"target": "emergency_112"}, headers=h(anna)
    )
    assert escalated.status == 200, await escalated.text()
    body = await escalated.json()
    assert body["emergency"]["delivered"] is True
    assert body["emergency"]["reference"] == "112-CAT-1001"
    assert body["alarm"]["state"] == "escalated"
    (payload,) = centre.received
    person = payload["personComponent"][0]["ncPersonComponent"]
    assert person["name"] == [{"personFullName": [{"value": "Rosa Puig"}]}]
    assert payload["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Active"]

    no_outcome = await hub_client.post(
        f"/api/alarms/{alarm_id}/resolve", json={"notes": "x"}, headers=h(anna)
    )
    assert no_outcome.status == 422
    assert (await no_outcome.json())["error"] == "outcome_required"
    not_holder = await hub_client.post(
        f"/api/alarms/{alarm_id}/resolve", json={"outcome": "ambulance"}, headers=h(biel)
    )
    assert not_holder.status == 409
    done = await hub_client.post(
        f"/api/alarms/{alarm_id}/resolve",
        json={"outcome": "ambulance", "notes": "taken to hospital"},
        headers=h(anna),
    )
    assert done.status == 200
    assert (await _next(socket_b, "alarm.resolved"))["alarm"]["outcome"] == "ambulance"
    # 112 has the incident: it is told of the close, as an update of the same incident.
    assert len(centre.received) == 2
    closed = centre.received[1]["incidentComponent"]
    assert closed["$id"] == payload["incidentComponent"]["$id"]
    assert closed["incidentStatusCommonRegistryText"] == ["Closed"]
    assert closed["dispositionComponent"][0]["dispositionCommonRegistryCode"] == "ambulance"
    await socket_a.close()
    await socket_b.close()

    detail = await (await hub_client.get(f"/api/alarms/{alarm_id}", headers=h(biel))).json()
    # The answer is the struct the OpenAPI document describes it from.
    assert msgspec.convert(detail, AlarmView).history
    codes = await (await hub_client.get("/api/alarms/codes", headers=h(biel))).json()
    assert "gas" in [c.code for c in msgspec.convert(codes, AlarmCodes).rules]
    too_many = await hub_client.get("/api/alarms?limit=5000", headers=h(biel))
    assert too_many.status == 400
    actions = [e["action"] for e in detail["history"]]
    assert actions == [
        "raised",
        "presented",
        "accepted",
        "contact_attempt",
        "note",
        "escalated",
        "resolved",
        "note",
    ]
    assert detail["history"][-1]["detail"]["delivered"] == "True"
    assert detail["emergency"]["reference"] == "112-CAT-1001"
    async with hub_sessionmaker() as session:
        audit = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    for action in (
        "alarm.accept",
        "alarm.contact_attempt",
        "alarm.note",
        "alarm.escalate",
        "alarm.resolve",
    ):
        assert action in audit
    assert (await (await hub_client.get("/api/alarms", headers=h(anna))).json())["alarms"] == []


async def test_gateway_failure_is_shown_to_the_operator(
    centre, hub_client, hub_sessionmaker, token_for, hub_clock
) -> None:
    home, resident = await _home(hub_sessionmaker)
    centre.fail_first = 10  # the centre is down
    token = await token_for(Role.SUPERVISOR)
    headers = {"Authorization": f"Bearer {token}"}
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home, resident, Fall(), hub_clock()))
    response = await hub_client.post(
        f"/api/alarms/{change.alarm.id}/escalations",
        json={"target": "emergency_112"},
        headers=headers,
    )
    assert response.status == 502
    body = await response.json()
    assert body["error"] == "emergency_gateway_failed"
    assert body["attempts"] == 2
    history = body["alarm"]["history"]
    assert history[-2]["detail"]["delivered"] == "False"
    assert history[-1]["action"] == "note"
    assert "112 hand-off failed" in history[-1]["detail"]["text"]


@pytest.fixture
async def cap_centre(centre, monkeypatch):
    """The local 112 centre, configured as a CAP 1.2 endpoint."""
    monkeypatch.setenv("TELEASSIST_ALARMS__EMERGENCY_FORMAT", "cap")
    return centre


def _cap(raw: bytes) -> dict[str, Any]:
    from tests.alerts.centre import cap_fields

    return cap_fields(raw)


@pytest.mark.parametrize(
    ("outcome", "close_type", "response"),
    [("false_alarm", "Cancel", "None"), ("fire_brigade", "Update", "AllClear")],
)
async def test_112_gets_one_thread_alert_update_and_close(
    cap_centre, hub_client, hub_sessionmaker, auth_headers, hub_clock, outcome, close_type, response
) -> None:
    centre = cap_centre
    home, resident = await _home(hub_sessionmaker)
    headers = await auth_headers(Role.SUPERVISOR)
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home, resident, Panic(), hub_clock()))
    url = f"/api/alarms/{change.alarm.id}"
    for _ in range(2):
        hub_clock.advance(timedelta(seconds=30))
        sent = await hub_client.post(
            f"{url}/escalations", json={"target": "emergency_112"}, headers=headers
        )
        assert sent.status == 200, await sent.text()
    hub_clock.advance(timedelta(minutes=5))
    closed = await hub_client.post(f"{url}/resolve", json={"outcome": outcome}, headers=headers)
    assert closed.status == 200, await closed.text()
    # Every message passed the OASIS schema and the CAP rules at the centre.
    assert centre.rejected == []
    first, second, close = (_cap(raw) for raw in centre.received)
    assert [first["msgType"], second["msgType"], close["msgType"]] == [
        "Alert",
        "Update",
        close_type,
    ]
    assert first["references"] == []
    assert second["references"] == [centre.cap_messages[0]]
    assert close["references"] == centre.cap_messages[:2]
    assert set(close["responseTypes"]) == {response}
    assert len({m["identifier"] for m in (first, second, close)}) == 3
    assert all(m["sent"].endswith("-00:00") for m in (first, second, close))
    history = (await closed.json())["history"]
    assert history[-1]["action"] == "note"
    assert history[-1]["detail"]["msg_type"] == close_type
    assert history[-1]["detail"]["delivered"] == "True"


async def test_a_close_that_112_never_had_sends_nothing(
    cap_centre, hub_client, hub_sessionmaker, auth_headers, hub_clock
) -> None:
    home, resident = await _home(hub_sessionmaker)
    headers = await auth_headers(Role.SUPERVISOR)
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home, resident, Panic(), hub_clock()))
    cap_centre.fail_first = 10  # the hand-off fails: 112 never received the incident
    url = f"/api/alarms/{change.alarm.id}"
    failed = await hub_client.post(
        f"{url}/escalations", json={"target": "emergency_112"}, headers=headers
    )
    assert failed.status == 502
    calls = cap_centre.calls
    closed = await hub_client.post(
        f"{url}/resolve", json={"outcome": "false_alarm"}, headers=headers
    )
    assert closed.status == 200
    assert cap_centre.calls == calls  # nothing to cancel at 112
    assert (await closed.json())["history"][-1]["action"] == "resolved"


async def test_a_close_112_could_not_hear_is_shown_to_the_operator(
    cap_centre, hub_client, hub_sessionmaker, auth_headers, hub_clock
) -> None:
    home, resident = await _home(hub_sessionmaker)
    headers = await auth_headers(Role.SUPERVISOR)
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home, resident, Panic(), hub_clock()))
    url = f"/api/alarms/{change.alarm.id}"
    sent = await hub_client.post(
        f"{url}/escalations", json={"target": "emergency_112"}, headers=headers
    )
    assert sent.status == 200
    cap_centre.fail_first = cap_centre.calls + 10  # 112 goes down before the close
    closed = await hub_client.post(
        f"{url}/resolve", json={"outcome": "false_alarm"}, headers=headers
    )
    assert closed.status == 200
    note = (await closed.json())["history"][-1]
    assert note["detail"]["delivered"] == "False"
    assert "112 NOT told of the close (Cancel)" in note["detail"]["text"]
    async with hub_sessionmaker() as session:
        ledger = list(await session.scalars(select(AlarmEffectRow)))
    close = [row for row in ledger if row.key == "close-112"]
    assert len(close) == 1
    assert close[0].done_at is not None


@pytest.fixture
async def slow_centre(aiohttp_server, monkeypatch):
    """A receiving centre that holds each incident until ``gate`` is set."""
    receiving = ReceivingCentre()
    arrived = asyncio.Event()
    gate = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await gate.wait()
        return await receiving.handle(request)

    app = web.Application()
    app.router.add_post("/incidents", held)
    server = await aiohttp_server(app)
    monkeypatch.setenv("TELEASSIST_ALARMS__EMERGENCY_URL", str(server.make_url("/incidents")))
    monkeypatch.setenv("TELEASSIST_ALARMS__EMERGENCY_ATTEMPTS", "1")
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    return receiving, arrived, gate


async def test_the_same_112_request_twice_calls_112_once(
    slow_centre, hub_client, hub_sessionmaker, token_for, hub_clock
) -> None:
    centre, arrived, gate = slow_centre
    home, resident = await _home(hub_sessionmaker)
    headers = {"Authorization": f"Bearer {await token_for(Role.SUPERVISOR)}"}
    engine = hub_client.app[ALARM_ENGINE]
    (change,) = await engine.handle_event(_event(home, resident, Fall(), hub_clock()))
    url = f"/api/alarms/{change.alarm.id}/escalations"
    body = {"target": "emergency_112"}
    first = asyncio.create_task(hub_client.post(url, json=body, headers=headers))
    async with asyncio.timeout(30):
        await arrived.wait()  # the first hand-off is at the centre
    # A double click (or a second supervisor) while it is out: refused, nothing sent.
    async with asyncio.timeout(30):  # (without the claim it would wait at the centre)
        again = await hub_client.post(url, json=body, headers=headers)
    assert again.status == 409
    assert (await again.json())["error"] == "emergency_in_progress"
    gate.set()
    done = await first
    assert done.status == 200, await done.text()
    assert len(centre.received) == 1
    # Asked again once the first is on record: a deliberate second hand-off goes out.
    later = await hub_client.post(url, json=body, headers=headers)
    assert later.status == 200, await later.text()
    assert len(centre.received) == 2
    async with hub_sessionmaker() as session:
        ledger = list(await session.scalars(select(AlarmEffectRow)))
    assert sorted(row.key for row in ledger) == ["112-manual:0", "112-manual:1"]
    assert all(row.done_at is not None for row in ledger)


async def test_related_events_attach_and_redelivery_is_ignored(
    centre, hub_client, hub_sessionmaker, auth_headers, hub_clock
) -> None:
    home, resident = await _home(hub_sessionmaker)
    engine = hub_client.app[ALARM_ENGINE]
    first = _event(home, resident, Panic(), hub_clock())
    (raised,) = await engine.handle_event(first)
    assert await engine.handle_event(first) == []  # broker redelivery
    hub_clock.advance(timedelta(seconds=5))
    (attached,) = await engine.handle_event(_event(home, resident, Fall(), hub_clock()))
    assert attached.alarm.id == raised.alarm.id
    assert await engine.handle_event(_event(home, resident, Motion(), hub_clock())) == []
    headers = await auth_headers(Role.OPERATOR)
    listed = await (await hub_client.get("/api/alarms", headers=headers)).json()
    assert len(listed["alarms"]) == 1
    assert listed["alarms"][0]["rules"] == ["panic", "fall"]


async def test_unknown_alarm_and_anonymous_access(centre, hub_client, auth_headers) -> None:
    headers = await auth_headers(Role.OPERATOR)
    assert (await hub_client.get("/api/alarms/nope", headers=headers)).status == 404
    assert (await hub_client.post("/api/alarms/nope/accept", headers=headers)).status == 404
    assert (await hub_client.get("/api/alarms")).status == 401
    family = await auth_headers(Role.FAMILY)
    assert (await hub_client.get("/api/alarms", headers=family)).status == 403


def test_routes_are_registered() -> None:
    from hub.app import ROUTE_MODULES

    assert "hub.alarms.app" in ROUTE_MODULES
    assert isinstance(ALARM_ENGINE, web.AppKey)
