"""A real alarm from the alarm engine reaches the circle; "I'm on my way" lands on the alarm."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, select

from alerts import DeviceType, HomeEvent
from alerts.alarm import AlarmState
from hub.alarms.keys import ALARM_ENGINE
from hub.alarms.live import AlarmLive
from hub.appkeys import WRITE_GATE
from hub.clock import ManualClock
from hub.db.models import Resident
from hub.db.writegate import WriteGate
from hub.family.alarm_bridge import AlarmBridge, notice_for_alarm
from hub.family.live import LIVE_HUB
from hub.family.models import AlarmNotice
from protocol import Fall, Panic
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


async def test_after_the_resident_withdraws_alarms_on_the_tablet_the_next_alarm_reaches_no_one(
    world: World, hub_clock: ManualClock
) -> None:
    """The issue's loop: a panic reaches Anna; Maria, on her tablet, stops sharing alarms
    with her; the next alarm (a fall) reaches nobody of the family, and Anna's open socket
    gets nothing of it — the next thing on it is Maria's message."""
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna, consent=["alarms"])
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    engine = world.client.app[ALARM_ENGINE]

    def event(kind: DeviceType, body: Any, message_id: str) -> HomeEvent:
        return HomeEvent(
            home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-{kind}",
            device_type=kind, message_id=message_id, at=hub_clock(), body=body,
        )  # fmt: skip

    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as ws:
        (panic,) = await engine.handle_event(event(DeviceType.PENDANT, Panic(), "withdraw-1"))
        assert (await _next(ws, "alarm.notice"))["notice"]["event_type"] == "panic"
        # The centre handles it and closes it; Anna is told that too.
        base = f"/api/alarms/{panic.alarm.id}"
        for path, body in (("/accept", {}), ("/resolve", {"outcome": "false_alarm"})):
            done = await world.client.post(base + path, json=body, headers=world.operator)
            assert done.status == 200, await done.text()
        while (await _next(ws, "alarm.notice"))["notice"]["state"] != "closed":
            pass
        changed = await world.client.patch(
            f"/api/family/links/{link['link_id']}", json={"consent": []}, headers=maria.headers
        )
        assert changed.status == 200
        assert (await _next(ws, "circle.changed"))["consent"] == []
        (fall,) = await engine.handle_event(event(DeviceType.FALL_DETECTOR, Fall(), "withdraw-2"))
        assert fall.alarm.rule.value == "fall"
        chats = await (
            await world.client.get("/api/family/conversations", headers=maria.headers)
        ).json()
        [direct] = [c for c in chats if c["kind"] == "direct"]
        said = await world.client.post(
            f"/api/family/conversations/{direct['id']}/messages",
            json={"text": "He caigut però estic bé"},
            headers=maria.headers,
        )
        assert said.status == 201
        async with asyncio.timeout(30):
            while True:
                frame = await ws.receive_json()
                if frame["type"] != "ping":
                    break
        assert frame["type"] == "message.new"
    notices = await world.client.get(
        f"/api/family/residents/{maria.resident_id}/alarm-notices", headers=anna.headers
    )
    assert notices.status == 403


class _WatchedGate(WriteGate):
    """A write gate (exclusive, as on SQLite) that says when a routine writer asks for it."""

    def __init__(self) -> None:
        super().__init__(exclusive=True)
        self.asked = asyncio.Event()

    @contextlib.asynccontextmanager
    async def routine(self, what: str = "routine") -> AsyncIterator[None]:
        self.asked.set()
        async with super().routine(what):
            yield


async def _notice_state(world: World, alarm_id: str) -> str | None:
    async with world.sessionmaker() as session:
        return await session.scalar(
            select(AlarmNotice.state).where(AlarmNotice.alarm_ref == alarm_id)
        )


async def test_the_notice_is_written_after_a_panics_write_and_still_told_once(
    world: World, hub_clock: ManualClock
) -> None:
    """Alarms first (ADR 0159): the family notice reads what it needs, then waits at the
    write gate while a panic's write holds it (on SQLite it would otherwise hold the only
    write lock the panic needs); once the panic's write is done the notice is written, its
    circle told and its change pushed, once."""
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    engine = world.client.app[ALARM_ENGINE]
    event = HomeEvent(
        home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-pendant",
        device_type=DeviceType.PENDANT, message_id="alarms-first-1", at=hub_clock(),
        body=Panic(),
    )  # fmt: skip
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws:
        (panic,) = await engine.handle_event(event)
        await _next(anna_ws, "alarm.notice")  # the hub's own bridge wrote the open notice
        resolved = dataclasses.replace(panic.alarm, state=AlarmState.RESOLVED)
        live = world.client.app[LIVE_HUB]
        gate = _WatchedGate()
        told: list[str] = []

        async def on_change(notice: Any, watchers: list[str], now: Any) -> None:
            told.append(notice.state)

        async def worker_sees_it_resolved() -> str | None:
            async with world.sessionmaker() as session:
                return await notice_for_alarm(session, live, resolved, hub_clock(), on_change, gate)

        async with gate.urgent():  # a panic's write in progress
            task = asyncio.create_task(worker_sees_it_resolved())
            await gate.asked.wait()  # everything read; the write waits for the panic's
            assert await _notice_state(world, panic.alarm.id) == "open"
            assert told == []
        assert await task == "closed"
        assert await _notice_state(world, panic.alarm.id) == "closed"
        assert told == ["closed"]
        assert (await _next(anna_ws, "alarm.notice"))["notice"]["state"] == "closed"


async def test_a_notice_the_hub_never_wrote_is_written_by_the_next_start(
    world: World, hub_clock: ManualClock
) -> None:
    """Deferred is not lost: an alarm committed when the hub stopped before its notice was
    written (the notice row is not there) gets its notice from the catch-up pass a starting
    hub's bridge runs over the stored alarms."""
    maria = await world.resident("Maria")
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    app = world.client.app
    event = HomeEvent(
        home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-pendant",
        device_type=DeviceType.PENDANT, message_id="alarms-first-2", at=hub_clock(),
        body=Panic(),
    )  # fmt: skip
    (panic,) = await app[ALARM_ENGINE].handle_event(event)
    async with asyncio.timeout(30):  # the running hub's bridge writes it
        while await _notice_state(world, panic.alarm.id) is None:
            await asyncio.sleep(0.05)
    async with world.sessionmaker() as session:  # as if the hub had died before that write
        await session.execute(delete(AlarmNotice).where(AlarmNotice.alarm_ref == panic.alarm.id))
        await session.commit()
    restarted = AlarmBridge(
        AlarmLive(), world.sessionmaker, app[LIVE_HUB], hub_clock, gate=app[WRITE_GATE]
    )
    await restarted.catch_up()
    assert await _notice_state(world, panic.alarm.id) == "open"
