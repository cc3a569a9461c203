"""Alarm changes across hub workers (PostgreSQL LISTEN/NOTIFY), tested in one process with
two alarm engines on one database: what one engine commits reaches the other worker's
live subscribers; a listening connection killed by the server reconnects and catches up on
what was committed while it was down; a worker's own changes are published once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url

from alerts import SYSTEM, Actor, ActorKind, accept, add_note
from alerts.careplan import BaselineSettings, CarePlan, CheckInSettings, InactivitySettings
from alerts.escalation import EscalationPolicy
from hub.alarms import store
from hub.alarms.engine import AlarmEngine
from hub.alarms.fanout import (
    CATCH_UP_MARGIN,
    CHANNEL,
    AlarmFanout,
    AlarmSignal,
    BadSignal,
    Relay,
    asyncpg_dsn,
    connector,
    notify,
    send_resident_changed,
    send_signal,
)
from hub.alarms.live import AlarmLive, Subscription, live_message
from hub.alarms.models import RuleStateRow
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from protocol import Motion, Panic
from tests.hub.alarms.test_engine import NIGHT, Recorder, _event
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url

OPERATOR = Actor(ActorKind.OPERATOR, "9", "anna")


# ---------------------------------------------------------------- the signal itself


def test_a_signal_survives_its_payload() -> None:
    signal = AlarmSignal("a" * 32, 7, "alarm.updated", "event_attached")
    assert AlarmSignal.parse(signal.payload()) == signal
    assert len(signal.payload().encode()) < 8000
    assert AlarmSignal.parse('{"id":"x","v":1,"k":"alarm.raised"}').action is None


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"v": 1, "k": "alarm.raised"}',
        '{"id": "x", "v": "1", "k": "alarm.raised"}',
        '{"id": "x", "v": true, "k": "alarm.raised"}',
        '{"id": "x", "v": 0, "k": "alarm.raised"}',
        '{"id": "x", "v": 1, "k": "alarm.deleted"}',
        '{"id": "", "v": 1, "k": "alarm.raised"}',
        '{"id": "' + "x" * 65 + '", "v": 1, "k": "alarm.raised"}',
        '{"id": "x", "v": 1, "k": "alarm.updated", "a": 5}',
    ],
)
def test_a_bad_payload_is_refused(payload: str) -> None:
    with pytest.raises(BadSignal):
        AlarmSignal.parse(payload)


async def test_an_older_version_is_not_published_after_a_newer_one() -> None:
    live = AlarmLive()
    screen = live.subscribe()
    clock = ManualClock(NIGHT)
    raised = _raised(clock)
    accepted = accept(raised, OPERATOR, clock())
    assert live.publish(live_message("alarm.accepted", accepted, clock()), 3)
    assert not live.publish(live_message("alarm.raised", raised, clock()), 1)
    assert not live.publish(live_message("alarm.accepted", accepted, clock()), 3)
    assert screen.queue.qsize() == 1
    live.overflow_all()
    assert screen.overflowed.is_set()
    assert live.subscribers == 0


def _raised(clock: ManualClock):  # type: ignore[no-untyped-def]
    from alerts import apply_detection
    from alerts.model import Detection, Explanation, RuleKind

    detection = Detection(
        rule=RuleKind.PANIC, home_id="1", resident_id="10", at=clock(),
        explanation=Explanation.of("panic"), device_id="d",
    )  # fmt: skip
    change = apply_detection([], detection, clock(), "alarm-1")
    assert change is not None
    return change.alarm


# ---------------------------------------------------------------- two workers, one database


@pytest.fixture
def pg_database(_postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest schema (LISTEN/NOTIFY exists only there)."""
    name = create_pg_database(template=_postgres_template)
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


class Gate:
    """Connects at once the first time; later only when opened (a controlled outage)."""

    def __init__(self, url: str, name: str) -> None:
        self._connect = connector(make_url(url), name)
        self.name = name
        self.calls = 0
        self.open = asyncio.Event()

    async def __call__(self) -> asyncpg.Connection:
        self.calls += 1
        if self.calls > 1:
            await self.open.wait()
        return await self._connect()


async def _next(subscription: Subscription) -> dict[str, Any]:
    async with asyncio.timeout(30):
        return await subscription.queue.get()


@contextlib.asynccontextmanager
async def _workers(url: str) -> AsyncIterator[tuple[AlarmEngine, AlarmEngine, AlarmFanout, Gate]]:
    db = make_engine(url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    gate = Gate(url, f"test-fanout-{secrets.token_hex(4)}")
    a = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
    b = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
    fanout = AlarmFanout(gate, sessions, b.live, clock)
    task = asyncio.create_task(fanout.run())
    try:
        async with asyncio.timeout(30):
            await fanout.listening.wait()
        yield a, b, fanout, gate
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()


@pytest.mark.postgres
async def test_a_panic_on_one_worker_reaches_the_other_workers_screens(pg_database: str) -> None:
    async with _workers(pg_database) as (a, b, fanout, _):
        screen = b.live.subscribe()
        (change,) = await a.handle_event(_event(Panic(), NIGHT, home="3", resident="30"))
        message = await _next(screen)
        assert message["type"] == "alarm.raised"
        assert message["alarm"] == change.alarm
        # Worker A accepts it through its own engine: B's screen sees the claim.
        await a.act(
            change.alarm.id, lambda al: accept(al, OPERATOR, NIGHT),
            audit_actor="anna", audit_action="alarm.accept", live_kind="alarm.accepted",
        )  # fmt: skip
        message = await _next(screen)
        assert message["type"] == "alarm.accepted"
        assert message["by"] == {"kind": "operator", "id": "9", "name": "anna"}
        assert fanout.published == 2


@pytest.mark.postgres
async def test_a_workers_own_change_is_published_once(pg_database: str) -> None:
    async with _workers(pg_database) as (a, b, _, _):
        screen = b.live.subscribe()
        (change,) = await b.handle_event(_event(Panic(), NIGHT, home="4", resident="40"))
        assert (await _next(screen))["type"] == "alarm.raised"
        # A later change by A: B's listener has handled B's own signal before this one
        # (PostgreSQL delivers in commit order), so nothing else can be queued before it.
        await a.act(
            change.alarm.id, lambda al: add_note(al, SYSTEM, NIGHT, "x"),
            audit_actor="system", audit_action="alarm.note",
        )  # fmt: skip
        message = await _next(screen)
        assert (message["type"], message["action"]) == ("alarm.updated", "note")
        assert screen.queue.empty()


@pytest.mark.postgres
async def test_a_killed_listener_reconnects_and_catches_up(pg_database: str) -> None:
    async with _workers(pg_database) as (a, b, fanout, gate):
        screen = b.live.subscribe()
        admin = await asyncpg.connect(asyncpg_dsn(make_url(pg_database)))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                gate.name,
            )
            assert killed == 1
            async with asyncio.timeout(30):
                while fanout.listening.is_set() or gate.calls < 2:
                    await asyncio.sleep(0.05)
            # Committed while nobody listens on B's side: its signal is lost for good.
            (change,) = await a.handle_event(_event(Panic(), NIGHT, home="5", resident="50"))
            gate.open.set()
            message = await _next(screen)
        finally:
            await admin.close()
        assert message["alarm"].id == change.alarm.id
        assert message["type"] == "alarm.raised"  # read back at its first version
        assert (fanout.reconnects, fanout.caught_up) == (1, 1)


@pytest.mark.postgres
async def test_a_bad_notification_is_ignored(pg_database: str) -> None:
    async with _workers(pg_database) as (a, b, fanout, _):
        screen = b.live.subscribe()
        admin = await asyncpg.connect(asyncpg_dsn(make_url(pg_database)))
        try:
            await admin.execute(f"NOTIFY {CHANNEL}, 'garbage'")
            await admin.execute(
                f'NOTIFY {CHANNEL}, \'{{"id":"no-such-alarm","v":1,"k":"alarm.raised"}}\''
            )
        finally:
            await admin.close()
        (change,) = await a.handle_event(_event(Panic(), NIGHT, home="6", resident="60"))
        message = await _next(screen)
        assert message["alarm"].id == change.alarm.id
        assert fanout.signals >= 2


async def test_sqlite_sends_no_signal_and_serves_one_worker(database_url: str) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    try:
        async with sessions() as session:
            await send_signal(session, AlarmSignal("x", 1, "alarm.raised"))
            await session.commit()
        clock = ManualClock(NIGHT)
        engine = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        screen = engine.live.subscribe()
        (change,) = await engine.handle_event(_event(Panic(), NIGHT, home="2", resident="20"))
        assert (await _next(screen))["alarm"].id == change.alarm.id
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_a_plan_changed_on_one_worker_reaches_the_others_cache(pg_database: str) -> None:
    db = make_engine(pg_database)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)  # 03:00 in Barcelona
    gate = Gate(pg_database, f"test-fanout-{secrets.token_hex(4)}")
    a = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
    b = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
    fanout = AlarmFanout(gate, sessions, b.live, clock, on_resident=b.plan_changed_elsewhere)
    task = asyncio.create_task(fanout.run())
    try:
        async with asyncio.timeout(30):
            await fanout.listening.wait()
        # Worker B has the resident cached with the plan of before (no check-in).
        await b.handle_event(_event(Motion(room="hall"), NIGHT, home="9", resident="90"))
        # A coordinator switches a 03:30 check-in on through worker A.
        plan = CarePlan(
            "90",
            inactivity=InactivitySettings(enabled=False),
            baseline=BaselineSettings(enabled=False),
            check_in=CheckInSettings(enabled=True, deadlines=(time(3, 30),)),
        )
        async with sessions() as session:
            await store.save_plan(session, plan, EscalationPolicy(), clock())
            await send_resident_changed(session, "90")
            await session.commit()
        await a.reload_plan("90", "9")
        async with asyncio.timeout(30):
            while fanout.residents < 1:
                await asyncio.sleep(0.05)
        # What B writes next for the resident follows the new plan.
        clock.advance(timedelta(minutes=1))
        await b.handle_event(_event(Motion(room="hall"), clock(), home="9", resident="90"))
        await b.flush()
        async with sessions() as session:
            row = await session.get(RuleStateRow, "90")
        assert row is not None
        assert row.next_due == datetime(2026, 1, 13, 2, 30, tzinfo=UTC)  # 03:30 local
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()


# ---------------------------------------------------------------- other contexts' channels


class Recording:
    """A relay that records what it is handed."""

    channel = "test_relay"

    def __init__(self) -> None:
        self.items: asyncio.Queue[str | datetime] = asyncio.Queue()

    async def deliver(self, payload: str) -> None:
        if payload == "boom":
            raise RuntimeError("a relay's own failure")
        await self.items.put(payload)

    async def catch_up(self, since: datetime) -> None:
        await self.items.put(since)

    def relay(self) -> Relay:
        return Relay(self.channel, self.deliver, self.catch_up)

    async def next(self) -> str | datetime:
        async with asyncio.timeout(30):
            return await self.items.get()


@pytest.mark.postgres
async def test_a_relay_gets_its_channel_and_catches_up_after_an_outage(pg_database: str) -> None:
    db = make_engine(pg_database)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    gate = Gate(pg_database, f"test-fanout-{secrets.token_hex(4)}")
    recording = Recording()
    fanout = AlarmFanout(gate, sessions, AlarmLive(), clock, relays=[recording.relay()])
    task = asyncio.create_task(fanout.run())
    admin = await asyncpg.connect(asyncpg_dsn(make_url(pg_database)))
    try:
        async with asyncio.timeout(30):
            await fanout.listening.wait()
        async with sessions() as session:
            await notify(session, recording.channel, "boom")  # the relay fails: logged
            await notify(session, recording.channel, "first")
            await session.commit()
        assert await recording.next() == "first"
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            gate.name,
        )
        assert killed == 1
        async with asyncio.timeout(30):
            while fanout.listening.is_set() or gate.calls < 2:
                await asyncio.sleep(0.05)
        clock.advance(timedelta(minutes=5))
        async with sessions() as session:
            await notify(session, recording.channel, "lost")  # nobody listens: lost
            await session.commit()
        gate.open.set()
        # Told instead to read what changed since it was last heard (less a margin).
        assert await recording.next() == NIGHT - CATCH_UP_MARGIN
        async with sessions() as session:
            await notify(session, recording.channel, "after")
            await session.commit()
        assert await recording.next() == "after"
        assert fanout.relayed == 4
    finally:
        await admin.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()


async def test_a_payload_over_the_notify_limit_is_refused(database_url: str) -> None:
    db = make_engine(database_url)
    try:
        async with make_sessionmaker(db)() as session:
            with pytest.raises(ValueError, match="8000 bytes"):
                await notify(session, "test_relay", "é" * 4000)
            await notify(session, "test_relay", "x" * 7999)
    finally:
        await db.dispose()
