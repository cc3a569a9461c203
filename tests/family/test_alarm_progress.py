"""The family notice shows how the centre handles an alarm, step by step, live (issue 21, 4)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.clock import ManualClock
from hub.db.models import Resident
from protocol import Panic
from tests.family.conftest import World
from tests.instants import DEFAULT_START


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


async def _notice(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == "alarm.notice":
                return frame["notice"]


def _at(minutes: int) -> str:
    return (DEFAULT_START + timedelta(minutes=minutes)).isoformat()


async def test_each_step_reaches_the_circle_live_without_the_centres_notes(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=["activity"])
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    engine = world.client.app[ALARM_ENGINE]
    async with (
        world.client.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
        world.client.ws_connect("/api/family/ws", headers=pere.headers) as pere_ws,
    ):
        event = HomeEvent(
            home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-pendant",
            device_type=DeviceType.PENDANT, message_id="progress-1", at=hub_clock(),
            body=Panic(),
        )  # fmt: skip
        (change,) = await engine.handle_event(event)
        assert (await _notice(anna_ws))["steps"] == []
        base = f"/api/alarms/{change.alarm.id}"

        async def operator(minutes: int, path: str, body: dict[str, Any]) -> None:
            hub_clock.advance(DEFAULT_START + timedelta(minutes=minutes) - hub_clock())
            done = await world.client.post(base + path, json=body, headers=world.operator)
            assert done.status in (200, 201), await done.text()

        await operator(1, "/accept", {})
        assert (await _notice(anna_ws))["steps"] == [{"kind": "accepted", "at": _at(1)}]
        # A call that got no answer, and the centre's own note, are nothing for the family.
        # (All within the operator token's lifetime: resolved at minute 12.)
        await operator(2, "/contact-attempts", {"party": "resident", "result": "no_answer"})
        await operator(3, "/notes", {"text": "Diabetic; check insulin"})
        await operator(4, "/contact-attempts", {"party": "resident", "result": "reached"})
        notice = await _notice(anna_ws)
        assert notice["state"] == "open"
        assert notice["steps"][1:] == [{"kind": "voice", "at": _at(4)}]
        await operator(6, "/escalations", {"target": "mobile_unit", "detail": "Van 3, Dr Puig"})
        notice = await _notice(anna_ws)
        assert notice["steps"][2:] == [{"kind": "help", "target": "mobile_unit", "at": _at(6)}]
        await operator(12, "/resolve", {"outcome": "resident_fine", "notes": "BP 150/90"})
        notice = await _notice(anna_ws)
        assert notice["state"] == "closed"
        assert [s["kind"] for s in notice["steps"]] == ["accepted", "voice", "help", "resolved"]
        assert notice["steps"][3] == {"kind": "resolved", "outcome": "resident_fine", "at": _at(12)}
        for secret in ("insulin", "Puig", "Van 3", "150/90", "operator"):
            assert secret not in str(notice)
        # Pere may see Maria's activity but not her alarms: no notice, no step.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_notice(pere_ws), 1.5)
    listed = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=anna.headers
    )
    assert (await listed.json())[0]["steps"] == notice["steps"]
    refused = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=pere.headers
    )
    assert refused.status == 403


async def test_a_staff_notice_without_an_engine_alarm_has_no_steps(world: World) -> None:
    maria = await world.resident("Maria")
    posted = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/alarm-notices",
        json={"alarm_ref": "no-such-alarm", "event_type": "panic"},
        headers=world.operator,
    )
    assert posted.status == 201, await posted.text()
    assert (await posted.json())["steps"] == []
