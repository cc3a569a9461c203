"""A real alarm from the alarm engine reaches the circle; "I'm on my way" lands on the alarm."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from alerts import DeviceType, HomeEvent
from hub.alarms.routes import ALARM_ENGINE
from hub.clock import ManualClock
from hub.db.models import Resident
from protocol import Panic
from tests.family.conftest import World


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == kind:
                return frame


async def test_panic_alarm_notifies_the_circle_and_the_answer_reaches_the_alarm(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["alarms"])
    await world.link(maria, pere, consent=[])
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
            device_type=DeviceType.PENDANT, message_id="family-bridge-1", at=hub_clock(),
            body=Panic(),
        )  # fmt: skip
        (change,) = await engine.handle_event(event)
        notice = (await _next(anna_ws, "alarm.notice"))["notice"]
        assert notice["alarm_ref"] == change.alarm.id
        assert notice["event_type"] == "panic"
        # Pere has not been given the "alarms" consent: nothing reaches him.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_next(pere_ws, "alarm.notice"), 1.5)
    answered = await world.client.post(
        f"/api/family/alarm-notices/{notice['id']}/on-my-way", headers=anna.headers
    )
    assert (await answered.json())["on_alarm"] is True
    alarm = await (
        await world.client.get(f"/api/alarms/{change.alarm.id}", headers=world.operator)
    ).json()
    notes = [h for h in alarm["history"] if h["action"] == "note"]
    assert notes[-1]["actor"] == {"kind": "contact", "id": anna.party, "name": "Anna"}
    assert "on my way" in notes[-1]["detail"]["text"]
