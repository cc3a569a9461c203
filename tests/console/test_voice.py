"""Speak with the home: centre calls through the real hub, and their place in the alarm."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

import protocol
from hub.auth import Role
from hub.clock import ManualClock
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.console.residents import LOCAL_ZONE
from hub.family.access import may_contact
from hub.family.calls.signalling import CALL_OBSERVER, CallService
from hub.family.live import LIVE_HUB
from hub.family.models import CallRecord
from hub.family.ws import CALL_SERVICE

TIMEOUT = 30


async def _next(ws: ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of ``kind`` whose fields equal ``match`` (others are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame


class Home:
    """A demo resident with an open panic alarm, and two operators' headers."""

    def __init__(self, client: TestClient[Any, Any], rid: int, alarm: str) -> None:
        self.client = client
        self.rid = rid
        self.alarm = alarm
        self.tablet: dict[str, str] = {}
        self.op: dict[str, str] = {}
        self.op_id = 0
        self.other: dict[str, str] = {}
        self.supervisor: dict[str, str] = {}
        self.neighbour: dict[str, str] = {}  # another home's tablet

    async def history(self, action: str, count: int = 1) -> list[dict[str, Any]]:
        """The alarm's entries of ``action`` once there are ``count`` (they are written
        by the call service's observer task, just after the call's own change)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                got = await self.client.get(f"/api/alarms/{self.alarm}", headers=self.op)
                alarm = await got.json()
                found = [e for e in alarm["history"] if e["action"] == action]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.05)


@pytest.fixture
async def home(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
) -> Home:
    rid = demo.residents[0]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    h = Home(hub_client, rid, alarm)
    op_token = await token_for(Role.OPERATOR, username="op-anna", display_name="Anna Operadora")
    h.op = {"Authorization": f"Bearer {op_token}"}
    me = await (await hub_client.get("/api/family/me", headers=h.op)).json()
    h.op_id = int(me["party"][2:])
    other = await token_for(Role.OPERATOR, username="op-marc", display_name="Marc")
    h.other = {"Authorization": f"Bearer {other}"}
    h.supervisor = {"Authorization": f"Bearer {await token_for(Role.SUPERVISOR)}"}
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=h.op)
    assert code.status == 201, await code.text()
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    assert paired.status == 200, await paired.text()
    h.tablet = {"Authorization": f"Bearer {(await paired.json())['api_token']}"}
    other_rid = demo.residents[1]
    code = await hub_client.post(f"/api/residents/{other_rid}/tablet-setup-codes", headers=h.op)
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    h.neighbour = {"Authorization": f"Bearer {(await paired.json())['api_token']}"}
    accepted = await hub_client.post(f"/api/alarms/{alarm}/accept", headers=h.op)
    assert accepted.status == 200, await accepted.text()
    return h


async def test_the_operator_speaks_with_the_home_and_the_alarm_keeps_the_voice_contact(
    home: Home, hub_client: TestClient[Any, Any], hub_clock: ManualClock
) -> None:
    voice_url = f"/api/console/alarms/{home.alarm}/voice"
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
    ):
        started = await hub_client.post(voice_url, headers=home.op)
        assert started.status == 201, await started.text()
        call_id = (await started.json())["call_id"]
        ringing = await _next(console, "call.state", call_id=call_id)
        assert ringing["status"] == "ringing"
        incoming = await _next(tablet, "call.incoming", call_id=call_id)
        assert incoming["kind"] == "centre"
        assert incoming["alarm_ref"] == home.alarm
        assert incoming["caller_name"] == "Anna Operadora"

        # A second operator calling the home is told who holds it.
        second = await hub_client.post(
            f"/api/console/residents/{home.rid}/voice", headers=home.other
        )
        body = await second.json()
        assert second.status == 409
        assert body["error"] == "home_busy"
        assert body["held_by"]["name"] == "Anna Operadora"
        assert "Anna Operadora" in body["message"]

        hub_clock.advance(timedelta(seconds=4))
        await tablet.send_json({"type": "call.accept", "call_id": call_id})
        assert (await _next(console, "call.state", call_id=call_id))["status"] == "accepted"
        # The tablet cannot signal into a call it is not part of.
        await tablet.send_json({"type": "call.signal", "call_id": call_id + 99, "data": {}})
        refused = await _next(tablet, "error")
        assert refused["error"] == "call_unknown"
        # Nor can another home's tablet signal, answer or hang up this one.
        async with hub_client.ws_connect("/api/family/ws", headers=home.neighbour) as stranger:
            for frame in (
                {"type": "call.signal", "call_id": call_id, "data": {"sdp": {"type": "answer"}}},
                {"type": "call.connected", "call_id": call_id},
                {"type": "call.hangup", "call_id": call_id},
            ):
                await stranger.send_json(frame)
                assert (await _next(stranger, "error"))["error"] == "call_unknown"

        hub_clock.advance(timedelta(seconds=2))
        await console.send_json({"type": "call.connected", "call_id": call_id})
        connected = await _next(console, "call.state", call_id=call_id)
        assert connected["status"] == "connected"
        assert connected["call"]["status"] == "accepted"
        assert connected["call"]["connected_at"] == hub_clock().isoformat()
        connected_at = hub_clock()
        await tablet.send_json({"type": "call.connected", "call_id": call_id})  # a repeat
        # "Louder" reaches the tablet verbatim.
        await console.send_json(
            {"type": "call.signal", "call_id": call_id, "data": {"volume": "up"}}
        )
        assert (await _next(tablet, "call.signal"))["data"] == {"volume": "up"}

        hub_clock.advance(timedelta(seconds=35))
        await console.send_json({"type": "call.hangup", "call_id": call_id})
        ended = await _next(console, "call.state", call_id=call_id)
        assert ended["status"] == "ended"
        assert ended["call"]["duration_s"] == 37  # from the answer; the alarm counts voice

    [made] = await home.history("voice_connected")
    [call] = await home.history("voice_call")
    assert datetime.fromisoformat(made["at"]) == connected_at
    assert made["actor"]["name"] == "Anna Operadora"
    assert call["detail"]["result"] == "connected"
    assert call["detail"]["duration_s"] == "35"
    assert call["detail"]["ended_by"] == "Anna Operadora"
    alarm = await (await hub_client.get(f"/api/alarms/{home.alarm}", headers=home.op)).json()
    assert datetime.fromisoformat(alarm["voice_contact_at"]) == connected_at
    assert alarm["state"] == "in_contact"

    # The supervisor's figures: time to voice contact beside time to acceptance.
    day = hub_clock().astimezone(LOCAL_ZONE).date().isoformat()
    figures = await hub_client.get(
        "/api/console/figures", params={"from": day, "to": day}, headers=home.supervisor
    )
    f = await figures.json()
    assert f["median_accept_s"] == 0
    assert f["median_voice_s"] == 6
    assert f["speech_unit_alarms"] == 1
    assert f["answered_within_60s"] == 1.0
    exported = await hub_client.get(
        "/api/console/figures.csv", params={"from": day, "to": day}, headers=home.supervisor
    )
    assert "seconds_to_voice" in (await exported.text()).splitlines()[0]

    listed = await (await hub_client.get(voice_url, headers=home.other)).json()
    assert listed["active"] is None
    [shown] = listed["calls"]
    assert shown["status"] == "ended"
    assert shown["caller_name"] == "Anna Operadora"
    assert shown["connected_at"] == connected_at.isoformat()
    # Only then may another operator speak with the home.
    again = await hub_client.post(f"/api/console/residents/{home.rid}/voice", headers=home.other)
    assert again.status == 409
    assert (await again.json())["error"] == "tablet_offline"  # the tablet's socket closed


async def test_an_offline_tablet_fails_at_once_and_is_recorded(
    home: Home, hub_client: TestClient[Any, Any]
) -> None:
    started = await hub_client.post(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
    assert started.status == 409
    assert (await started.json())["error"] == "tablet_offline"
    [call] = await home.history("voice_call")
    assert call["detail"]["result"] == "failed"
    assert call["detail"]["failure"] == "tablet_offline"
    listed = await (
        await hub_client.get(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
    ).json()
    assert [c["status"] for c in listed["calls"]] == ["failed"]
    assert listed["tablet"] == {"paired": True, "online": False}
    async with hub_client.ws_connect("/api/family/ws", headers=home.tablet):
        url = f"/api/console/alarms/{home.alarm}/voice"
        listed = await (await hub_client.get(url, headers=home.op)).json()
        assert listed["tablet"] == {"paired": True, "online": True}
    missing = await hub_client.get("/api/console/alarms/nope/voice", headers=home.op)
    assert missing.status == 404


@pytest.mark.parametrize("answered", [False, True], ids=["no-answer", "media-never-connects"])
async def test_a_call_without_voice_ends_itself_and_is_recorded_failed(
    home: Home, hub_client: TestClient[Any, Any], answered: bool
) -> None:
    service = hub_client.app[CALL_SERVICE]
    service.ring_timeout_s = 0.2 if not answered else TIMEOUT
    service.media_timeout_s = 0.2
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
    ):
        started = await hub_client.post(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
        call_id = (await started.json())["call_id"]
        await _next(tablet, "call.incoming", call_id=call_id)
        assert (await _next(console, "call.state", call_id=call_id))["status"] == "ringing"
        if answered:
            await tablet.send_json({"type": "call.accept", "call_id": call_id})
            assert (await _next(console, "call.state", call_id=call_id))["status"] == "accepted"
        final = await _next(console, "call.state", call_id=call_id)
    wanted = ("failed", "media_failed") if answered else ("missed", "no_answer")
    assert (final["status"], final["call"]["failure"]) == wanted
    [call] = await home.history("voice_call")
    assert call["detail"]["result"] == "failed"
    assert call["detail"]["failure"] == wanted[1]
    assert not await home.history("voice_connected", count=0)


async def test_a_hub_restart_leaves_no_connected_call_on_the_card(
    home: Home, hub_client: TestClient[Any, Any], hub_sessionmaker: Any, hub_clock: ManualClock
) -> None:
    # What a process that stopped mid-call left behind: an answered, connected call.
    async with hub_sessionmaker() as session:
        row = CallRecord(
            caller=f"u:{home.op_id}", callee=f"r:{home.rid}", status="accepted",
            started_at=hub_clock(), answered_at=hub_clock(), connected_at=hub_clock(),
            kind="centre", alarm_ref=home.alarm,
        )  # fmt: skip
        session.add(row)
        await session.commit()
    hub_clock.advance(timedelta(seconds=50))
    app = hub_client.app
    fresh = CallService(
        hub_sessionmaker, app[LIVE_HUB], hub_clock, may_contact, 30.0, observer=app[CALL_OBSERVER]
    )
    try:
        assert await fresh.recover() == 1  # what the hub's start-up does
        await fresh.tell_recovered()
        [call] = await home.history("voice_call")
    finally:
        await fresh.close()
    assert call["detail"]["failure"] == "hub_restart"
    assert call["detail"]["result"] == "connected"  # voice had flowed before the restart
    listed = await (
        await hub_client.get(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
    ).json()
    assert listed["active"] is None
    assert listed["calls"][0]["status"] == "failed"


async def test_only_the_operator_handling_the_alarm_may_speak_about_it(
    home: Home,
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
) -> None:
    url = f"/api/console/alarms/{home.alarm}/voice"
    other = await hub_client.post(url, headers=home.other)
    assert other.status == 409
    assert (await other.json())["error"] == "already_claimed"
    family = {"Authorization": f"Bearer {await token_for(Role.FAMILY)}"}
    assert (await hub_client.post(url, headers=family)).status == 403
    assert (await hub_client.post(url, headers={})).status == 401
    missing = await hub_client.post("/api/console/alarms/nope/voice", headers=home.op)
    assert missing.status == 404
    nobody = await hub_client.post("/api/console/residents/999999/voice", headers=home.op)
    assert nobody.status == 404
    letters = await hub_client.post("/api/console/residents/abc/voice", headers=home.op)
    assert letters.status == 404
    # An alarm nobody accepted yet: accept it first.
    rid = demo.residents[1]
    [fresh] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    unclaimed = await hub_client.post(f"/api/console/alarms/{fresh}/voice", headers=home.op)
    assert unclaimed.status == 409
    assert (await unclaimed.json())["error"] == "not_claimed"
    # A resolved alarm is over.
    done = await hub_client.post(
        f"/api/alarms/{home.alarm}/resolve", json={"outcome": "false_alarm"}, headers=home.op
    )
    assert done.status == 200, await done.text()
    closed = await hub_client.post(url, headers=home.op)
    assert closed.status == 409
    assert (await closed.json())["error"] == "alarm_closed"


async def test_a_family_call_in_progress_gives_way_to_the_centre_at_an_alarm(
    home: Home, hub_client: TestClient[Any, Any], token_for: Callable[..., Awaitable[str]]
) -> None:
    daughter = {"Authorization": f"Bearer {await token_for(Role.FAMILY)}"}
    code = await hub_client.post(
        f"/api/family/residents/{home.rid}/linking-codes", json={}, headers=home.tablet
    )
    assert code.status == 201, await code.text()
    linked = await hub_client.post(
        "/api/family/links",
        json={"code": (await code.json())["code"], "relationship": "filla"},
        headers=daughter,
    )
    assert linked.status == 201, await linked.text()
    async with (
        hub_client.ws_connect("/api/family/ws", headers=daughter) as family,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
    ):
        await family.send_json({"type": "call.start", "callee": f"r:{home.rid}"})
        family_call = (await _next(tablet, "call.incoming"))["call_id"]
        await tablet.send_json({"type": "call.accept", "call_id": family_call})
        assert (await _next(family, "call.state", status="accepted"))["call_id"] == family_call

        started = await hub_client.post(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
        assert started.status == 201, await started.text()
        centre_call = (await started.json())["call_id"]
        ended = await _next(family, "call.state", call_id=family_call)
        assert ended["status"] == "ended"
        # the tablet hears of the family call's end before the centre rings
        await _next(tablet, "call.state", call_id=family_call, status="ended")
        incoming = await _next(tablet, "call.incoming")
        assert (incoming["call_id"], incoming["kind"]) == (centre_call, "centre")
        assert (await _next(console, "call.state", call_id=centre_call))["status"] == "ringing"


async def test_two_operators_at_once_get_one_call_and_one_clear_refusal(
    home: Home, hub_client: TestClient[Any, Any]
) -> None:
    url = f"/api/console/residents/{home.rid}/voice"
    async with hub_client.ws_connect("/api/family/ws", headers=home.tablet):
        first, second = await asyncio.gather(
            hub_client.post(url, headers=home.op), hub_client.post(url, headers=home.other)
        )
        statuses = sorted([first.status, second.status])
        assert statuses == [201, 409]
        refused = first if first.status == 409 else second
        body = await refused.json()
        assert body["error"] == "home_busy"
        assert body["held_by"]["name"] in ("Anna Operadora", "Marc")
