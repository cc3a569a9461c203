"""The start-up backlog (ADR 0184): stored events the engine had not applied, applied home by
home in batches, leave exactly the state that applying them one by one leaves; and a live
event of a home with a backlog is applied after that home's backlog, which it applies at once,
ahead of the other homes'."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import HomeEvent
from hub.alarms.backlog import load_backlog
from hub.alarms.engine import AlarmEngine
from hub.alarms.live import AlarmLive
from hub.alarms.models import AlarmRow, ProcessedEventRow, RuleStateRow
from hub.alarms.sink import AlarmSink, home_event, rule_body
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.supervision.events import DeviceOffline, DeviceOnline
from protocol import (
    CheckIn,
    DoorClose,
    DoorOpen,
    EventBody,
    Motion,
    Panic,
    Temperature,
)
from tests.hub.ingest.helpers import eventually, seed_home

# 20:00 in Barcelona the evening before; the events run through the night into the morning.
START = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)
AFTER = START + timedelta(hours=16)
DEVICES = {"pendant": "pendant", "motion": "motion", "door": "door", "temp": "thermometer"}

# (minutes after START, device kind, body): per home, with the home's number shifting times so
# homes interleave in the stored order. Timers fire between events (night window, midnight,
# temperature held out of range), a door opens at night, a panic, a check-in, a device
# goes offline and comes back (supervision's own events, as stored).
SCRIPT: list[tuple[int, str, EventBody]] = [
    (0, "motion", Motion(room="hall")),
    (20, "temp", Temperature(celsius=34.0)),
    (95, "temp", Temperature(celsius=21.0)),
    (130, "temp", Temperature(celsius=35.5)),
    (300, "door", DoorOpen()),
    (302, "door", DoorClose()),
    (310, "motion", Motion(room="hall")),
    (400, "pendant", DeviceOffline(reason="will")),
    (460, "pendant", DeviceOnline()),
    (660, "pendant", CheckIn()),
    (700, "pendant", Panic()),
    (705, "motion", Motion(room="kitchen")),
    (720, "pendant", Panic()),
]


@dataclass
class _Db:
    sessions: async_sessionmaker[AsyncSession]
    engine: AlarmEngine
    homes: list[tuple[int, int]]  # (home id, resident id)


async def _db(template: Path, path: Path, homes: int) -> AsyncIterator[_Db]:
    shutil.copyfile(template, path)
    db = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessionmaker(db)
    ids = [
        await seed_home(sessions, {f"h{n}-{k}": t for k, t in DEVICES.items()})
        for n in range(homes)
    ]
    try:
        yield _Db(sessions, AlarmEngine(sessions, ManualClock(AFTER), AlarmLive()), ids)
    finally:
        await db.dispose()


@pytest.fixture
async def one_by_one(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[_Db]:
    async for db in _db(_sqlite_template, tmp_path / "a.sqlite", 3):
        yield db


@pytest.fixture
async def batched(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[_Db]:
    async for db in _db(_sqlite_template, tmp_path / "b.sqlite", 3):
        yield db


def _stored(homes: list[tuple[int, int]]) -> list[tuple[str, str, datetime, EventBody]]:
    """(device id, message id, time, body) of every home's script, in the order stored."""
    rows = [
        (f"h{n}-{kind}", f"m{n}-{i}", START + timedelta(minutes=minute + 7 * n), body)
        for n, _ in enumerate(homes)
        for i, (minute, kind, body) in enumerate(SCRIPT)
    ]
    return sorted(rows, key=lambda row: row[2])


def _home_event(db: _Db, device: str, message: str, at: datetime, body: EventBody) -> HomeEvent:
    n = int(device[1 : device.index("-")])
    kind = DEVICES[device.split("-", 1)[1]]
    home, resident = db.homes[n]
    return home_event(
        device_id=device,
        device_type=kind,
        home_id=home,
        resident_id=resident,
        message_id=message,
        at=at,
        body=rule_body(body),
    )


async def _store(db: _Db, rows: list[tuple[str, str, datetime, EventBody]]) -> None:
    async with db.sessions() as session:
        for seq, (device, message, at, body) in enumerate(rows):
            session.add(
                StoredEvent(
                    message_id=message,
                    device_id=device,
                    type=msgspec.to_builtins(body)["type"],
                    ts=at,
                    received_at=at,
                    seq=seq,
                    body=msgspec.to_builtins(body),
                )
            )
        await session.commit()


async def _outcome(db: _Db) -> dict[str, Any]:
    """Rule states, alarms (ids aside) and the applied ledger, as stored."""
    async with db.sessions() as session:
        states = {
            row.resident_id: (row.next_due, row.data)
            for row in await session.scalars(select(RuleStateRow))
        }
        alarms = sorted(
            (row.home_id, row.rule, row.is_open, tuple(row.data["event_ids"]), row.raised_at)
            for row in await session.scalars(select(AlarmRow))
        )
        applied = {
            (row.device_id, row.message_id)
            for row in await session.scalars(select(ProcessedEventRow))
        }
    return {"states": states, "alarms": alarms, "applied": applied}


async def test_a_batched_backlog_leaves_the_state_of_one_by_one_application(
    one_by_one: _Db, batched: _Db
) -> None:
    rows = _stored(one_by_one.homes)
    assert one_by_one.homes == batched.homes
    for device, message, at, body in rows:
        await one_by_one.engine.handle_event(_home_event(one_by_one, device, message, at, body))
    await one_by_one.engine.flush()

    await _store(batched, rows)
    # Small batches: several prefetches, homes split across them.
    backlog = await load_backlog(
        batched.engine, batched.sessions, AFTER, timedelta(days=1), batch=5
    )
    assert backlog.events == len(rows)
    assert backlog.homes_left == 3
    assert await backlog.run() == len(rows)
    assert backlog.homes_left == 0
    assert backlog.done.is_set()
    await batched.engine.flush()

    expected = await _outcome(one_by_one)
    # What the script is for: a timer fired between events (the temperature held out of range
    # raised its alarm at 19:50, no event's time), the night door and the panic detected (a
    # home's later detections attach to its open alarm), supervision's offline alarm.
    rules = {rule for _, rule, _, _, _ in expected["alarms"]}
    assert {"temperature", "device_offline"} <= rules
    assert ("1", "temperature") in {(h, r) for h, r, _, _, at in expected["alarms"]}
    assert START + timedelta(minutes=50) in {at for _, _, _, _, at in expected["alarms"]}
    attached = {m for _, _, _, ids, _ in expected["alarms"] for m in ids}
    assert {"m0-4", "m0-10", "m2-12"} <= attached
    assert len(expected["states"]) == 3
    assert len(expected["applied"]) == len(rows)
    assert await _outcome(batched) == expected


async def test_a_live_event_applies_its_homes_backlog_first_and_only_that_one(
    batched: _Db,
) -> None:
    rows = _stored(batched.homes)
    await _store(batched, rows)
    backlog = await load_backlog(batched.engine, batched.sessions, AFTER, timedelta(days=1))
    sink = AlarmSink(workers=1)
    sink.gate = backlog.ready
    sink.start(batched.engine)
    try:
        # A panic of the last home, after the restart: its home's stored events go first.
        n = len(batched.homes) - 1
        live = _home_event(batched, f"h{n}-pendant", "live-panic", AFTER, Panic())
        await sink.put(live)

        async def panic_applied() -> bool:
            async with batched.sessions() as session:
                row = await session.get(ProcessedEventRow, (f"h{n}-pendant", "live-panic"))
                return row is not None

        await eventually(panic_applied, timeout=30)
        assert backlog.homes_left == len(batched.homes) - 1  # only that home's was applied
        outcome = await _outcome(batched)
        mine = {m for d, m in outcome["applied"] if d.startswith(f"h{n}-")}
        assert mine == {f"m{n}-{i}" for i in range(len(SCRIPT))} | {"live-panic"}
        assert not any(d.startswith("h0-") for d, _ in outcome["applied"])
        # The live panic came after the home's stored events (attached last).
        (ids,) = [ids for h, _, _, ids, _ in outcome["alarms"] if "live-panic" in ids]
        assert ids[-1] == "live-panic"
        assert len(ids) > 1
        assert await backlog.run() == len(rows)  # the other homes' now
        assert backlog.homes_left == 0
    finally:
        await sink.stop()
