"""Two hub workers' reminder passes send each agenda reminder once; a failed send is
given back and sent by a later pass."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.clock import ManualClock
from hub.family.live import LiveHub
from hub.family.reminders import REMINDERS, ReminderService
from protocol import CommandBody
from tests.family.conftest import World


@pytest.fixture(autouse=True)
def _no_reminder_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hub's own loop passes at start-up, then not again during the test.
    monkeypatch.setenv("TELEASSIST_FAMILY__REMINDER_POLL_S", "86400")


class Recorder:
    """The command port: records what was sent, or fails while ``failing``."""

    connected = True  # a worker with a broker connection (hub.ingest.commands)

    def __init__(self) -> None:
        self.sent: list[tuple[str, CommandBody]] = []
        self.failing = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def send(
        self, device_id: str, body: CommandBody, now: object = None, message_id: object = None
    ) -> str:
        self.entered.set()
        await self.release.wait()
        if self.failing:
            raise OSError("broker unreachable")
        self.sent.append((device_id, body))
        return f"m{len(self.sent)}"


async def _due_item(world: World, hub_clock: ManualClock) -> int:
    maria = await world.resident()
    resp = await world.client.post(
        f"/api/family/residents/{maria.resident_id}/agenda",
        json={
            "title": "Podòleg",
            "starts_at": (hub_clock() + timedelta(hours=2)).isoformat(),
            "remind_before_s": 3600,
        },
        headers=maria.headers,
    )
    assert resp.status == 201, await resp.text()
    hub_clock.advance(timedelta(hours=1, seconds=1))
    return int((await resp.json())["id"])


def _worker(world: World, sender: Recorder) -> ReminderService:
    service = ReminderService(LiveHub(), sender)
    service.sessionmaker = world.sessionmaker
    return service


async def test_two_workers_send_a_reminder_once(world: World, hub_clock: ManualClock) -> None:
    item = await _due_item(world, hub_clock)
    sender = Recorder()
    sender.release.clear()  # the first worker is still sending when the second looks
    first, second = _worker(world, sender), _worker(world, sender)
    running = asyncio.create_task(first.run_due(hub_clock()))
    await sender.entered.wait()
    async with asyncio.timeout(30):  # the second must not wait to send it too
        assert await second.run_due(hub_clock()) == 0
    sender.release.set()
    assert await running == 1
    assert [body.reminder_id for _, body in sender.sent] == [f"agenda-{item}"]  # type: ignore[attr-defined]
    assert await world.client.app[REMINDERS].run_due(hub_clock()) == 0


async def test_a_failed_send_is_tried_again(world: World, hub_clock: ManualClock) -> None:
    item = await _due_item(world, hub_clock)
    sender = Recorder()
    sender.failing = True
    worker = _worker(world, sender)
    assert await worker.run_due(hub_clock()) == 0
    assert sender.sent == []
    sender.failing = False
    hub_clock.advance(timedelta(seconds=30))
    assert await worker.run_due(hub_clock()) == 1
    assert [body.reminder_id for _, body in sender.sent] == [f"agenda-{item}"]  # type: ignore[attr-defined]
