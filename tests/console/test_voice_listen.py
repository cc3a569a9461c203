"""A supervisor listens in to a centre call: who may, the hub's relaying, and the ends.

The media leg runs between the operator's and the supervisor's browsers (ADR 0100); here
the hub's side over real websockets. The sound itself: tests/console/test_listen_browser.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.appkeys import SESSIONMAKER
from hub.auth import Role
from hub.db.models import AuditEntry
from tests.console.test_voice import Home, _next, home  # noqa: F401  (the fixture)


async def _connected_call(
    client: TestClient[Any, Any],
    home: Home,  # noqa: F811
    console: ClientWebSocketResponse,
    tablet: ClientWebSocketResponse,
) -> int:
    started = await client.post(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
    assert started.status == 201, await started.text()
    call_id: int = (await started.json())["call_id"]
    await _next(tablet, "call.incoming", call_id=call_id)
    await tablet.send_json({"type": "call.accept", "call_id": call_id})
    await _next(console, "call.state", call_id=call_id, status="accepted")
    return call_id


async def test_a_supervisor_listens_in_through_the_operator_and_the_home_is_not_told(
    home: Home,  # noqa: F811
    hub_client: TestClient[Any, Any],
) -> None:
    listen_url = f"/api/console/alarms/{home.alarm}/voice/listen"
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
        hub_client.ws_connect("/api/family/ws", headers=home.supervisor) as supervisor,
    ):
        call_id = await _connected_call(hub_client, home, console, tablet)
        joined = await hub_client.post(listen_url, headers=home.supervisor)
        assert joined.status == 201, await joined.text()
        leg = await joined.json()
        assert leg["call_id"] == call_id
        assert leg["speaker"] == {"party": f"u:{home.op_id}", "name": "Anna Operadora"}
        listen_id = leg["listen_id"]

        told = await _next(console, "listen.joined", listen_id=listen_id)
        assert told["listener"] == leg["listener"]
        # The card says who listens to the call going on.
        voice = await (await hub_client.get(f"/api/console/alarms/{home.alarm}/voice",
                                            headers=home.op)).json()  # fmt: skip
        assert voice["active"]["listeners"] == [leg["listener"]]

        # The operator's browser offers, the supervisor's answers: relayed verbatim.
        offer = {"sdp": {"type": "offer", "sdp": "v=0 offer"}}
        await console.send_json({"type": "listen.signal", "listen_id": listen_id, "data": offer})
        relayed = await _next(supervisor, "listen.signal", listen_id=listen_id)
        assert (relayed["data"], relayed["from"]) == (offer, f"u:{home.op_id}")
        answer = {"sdp": {"type": "answer", "sdp": "v=0 answer"}}
        await supervisor.send_json(
            {"type": "listen.signal", "listen_id": listen_id, "data": answer}
        )
        assert (await _next(console, "listen.signal", listen_id=listen_id))["data"] == answer

        # Twice is refused; so is listening to a call one speaks in.
        again = await hub_client.post(listen_url, headers=home.supervisor)
        assert (again.status, (await again.json())["error"]) == (409, "already_listening")

        # The call ending ends the listen-in, for both ends.
        await console.send_json({"type": "call.hangup", "call_id": call_id})
        for ws in (console, supervisor):
            ended = await _next(ws, "listen.ended", listen_id=listen_id)
            assert ended["reason"] == "call_ended"
        # The tablet heard nothing of it: its frames are the call's only.
        await _next(tablet, "call.state", call_id=call_id, status="ended")
        await tablet.send_json({"type": "ping"})
        await tablet.send_json({"type": "listen.leave", "listen_id": listen_id})
        frame = await _next(tablet, "error")
        assert frame["error"] == "listen_unknown"

    # Hearing a home is audited like reading its card.
    async with hub_client.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "voice.listen"))
        )
    assert [(r.object, r.details["call"]) for r in rows] == [(f"alarm:{home.alarm}", call_id)]


@pytest.mark.parametrize(
    "role", [Role.OPERATOR, Role.COORDINATOR, Role.SOCIAL_WORKER, Role.ADMIN, Role.INSTALLER]
)
async def test_only_a_supervisor_may_listen_in(
    home: Home,  # noqa: F811
    hub_client: TestClient[Any, Any],
    token_for: Callable[..., Awaitable[str]],
    role: Role,
) -> None:
    headers = {"Authorization": f"Bearer {await token_for(role, username=f'who-{role.value}')}"}
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
    ):
        await _connected_call(hub_client, home, console, tablet)
        refused = await hub_client.post(
            f"/api/console/alarms/{home.alarm}/voice/listen", headers=headers
        )
        assert refused.status == 403
        assert (await refused.json())["error"] == "forbidden"


async def test_a_listen_in_without_a_call_or_to_ones_own_call_is_a_clear_refusal(
    home: Home,  # noqa: F811
    hub_client: TestClient[Any, Any],
) -> None:
    listen_url = f"/api/console/alarms/{home.alarm}/voice/listen"
    nothing = await hub_client.post(listen_url, headers=home.supervisor)
    body = await nothing.json()
    assert (nothing.status, body["error"]) == (409, "no_call")
    assert body["message"] == "nobody is speaking with this home now"
    unknown = await hub_client.post(
        "/api/console/alarms/no-such-alarm/voice/listen", headers=home.supervisor
    )
    assert unknown.status == 404
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.supervisor) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
    ):
        # A supervisor speaking with the home cannot also "listen in" to that call.
        started = await hub_client.post(
            f"/api/console/alarms/{home.alarm}/voice", headers=home.supervisor
        )
        call_id = (await started.json())["call_id"]
        await _next(tablet, "call.incoming", call_id=call_id)
        own = await hub_client.post(listen_url, headers=home.supervisor)
        assert (own.status, (await own.json())["error"]) == (409, "own_call")
        await console.send_json({"type": "call.hangup", "call_id": call_id})
        await _next(console, "call.state", call_id=call_id, status="missed")
    after = await hub_client.post(listen_url, headers=home.supervisor)
    assert (after.status, (await after.json())["error"]) == (409, "no_call")


async def test_listen_frames_are_refused_to_strangers_and_the_leg_ends_when_left(
    home: Home,  # noqa: F811
    hub_client: TestClient[Any, Any],
    token_for: Callable[..., Awaitable[str]],
) -> None:
    other_sup = {"Authorization": f"Bearer {await token_for(Role.SUPERVISOR, username='sup2')}"}
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
        hub_client.ws_connect("/api/family/ws", headers=home.supervisor) as supervisor,
        hub_client.ws_connect("/api/family/ws", headers=other_sup) as stranger,
    ):
        call_id = await _connected_call(hub_client, home, console, tablet)
        joined = await hub_client.post(
            f"/api/console/alarms/{home.alarm}/voice/listen", headers=home.supervisor
        )
        listen_id = (await joined.json())["listen_id"]
        await _next(console, "listen.joined", listen_id=listen_id)
        data = {"sdp": {"type": "answer", "sdp": "x"}}
        # Neither the home's tablet nor another supervisor is part of this leg.
        for ws in (tablet, stranger):
            for frame in (
                {"type": "listen.signal", "listen_id": listen_id, "data": data},
                {"type": "listen.leave", "listen_id": listen_id},
                {"type": "listen.signal", "listen_id": "1", "data": data},
            ):
                await ws.send_json(frame)
                refused = await _next(ws, "error")
                assert refused["error"] == "listen_unknown"
        # Bad data from a member of the leg.
        await supervisor.send_json({"type": "listen.signal", "listen_id": listen_id, "data": "x"})
        assert (await _next(supervisor, "error"))["error"] == "signal_invalid"
        big = {"sdp": {"type": "answer", "sdp": "a" * (70 * 1024)}}
        await supervisor.send_json({"type": "listen.signal", "listen_id": listen_id, "data": big})
        assert (await _next(supervisor, "error"))["error"] == "signal_too_large"

        # The supervisor leaves: both ends are told, the call goes on.
        await supervisor.send_json({"type": "listen.leave", "listen_id": listen_id})
        for ws in (console, supervisor):
            assert (await _next(ws, "listen.ended", listen_id=listen_id))["reason"] == "left"
        voice = await hub_client.get(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
        active = (await voice.json())["active"]
        assert (active["id"], active["status"], active["listeners"]) == (call_id, "accepted", [])

        # Listening again, then the supervisor's socket drops: the leg ends, the call stays.
        joined = await hub_client.post(
            f"/api/console/alarms/{home.alarm}/voice/listen", headers=home.supervisor
        )
        second = (await joined.json())["listen_id"]
        assert second != listen_id
        await _next(console, "listen.joined", listen_id=second)


async def test_a_dropped_supervisor_ends_the_leg_and_the_operator_is_told(
    home: Home,  # noqa: F811
    hub_client: TestClient[Any, Any],
) -> None:
    async with (
        hub_client.ws_connect("/api/family/ws", headers=home.op) as console,
        hub_client.ws_connect("/api/family/ws", headers=home.tablet) as tablet,
    ):
        call_id = await _connected_call(hub_client, home, console, tablet)
        async with hub_client.ws_connect("/api/family/ws", headers=home.supervisor) as supervisor:
            joined = await hub_client.post(
                f"/api/console/alarms/{home.alarm}/voice/listen", headers=home.supervisor
            )
            listen_id = (await joined.json())["listen_id"]
            await _next(console, "listen.joined", listen_id=listen_id)
            await supervisor.close()
        ended = await _next(console, "listen.ended", listen_id=listen_id)
        assert ended["reason"] == "disconnected"
        voice = await hub_client.get(f"/api/console/alarms/{home.alarm}/voice", headers=home.op)
        assert (await voice.json())["active"]["id"] == call_id
