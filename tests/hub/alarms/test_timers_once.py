"""Several hub workers (alarm engines) on one database: each due rule timer fires once.

The engine claims a resident's due timer in the database before it fires it
(``store.claim_due_state``); a worker that lost the race, or that looked at a due list
another worker has emptied meanwhile, does nothing — even when its cached state of the
resident says the timer is still ahead of it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from alerts import Action, RuleKind
from hub.alarms import store
from hub.alarms.engine import AlarmEngine
from hub.alarms.live import AlarmLive
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from protocol import BedExit
from tests.hub.alarms.test_engine import Recorder, _event

NIGHT = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)  # 03:00 in Barcelona


async def _bed_alarms(sessions) -> list:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        alarms = await store.list_alarms(session, status="all", category=None, limit=10)
    return [a for a in alarms if a.rule is RuleKind.BED_NOT_RETURNED]


def _detections(alarm) -> int:  # type: ignore[no-untyped-def]
    return len(alarm.entries(Action.RAISED)) + len(alarm.entries(Action.EVENT_ATTACHED))


async def test_two_workers_fire_a_due_timer_once(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        setup = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        await setup.handle_event(_event(BedExit(), clock()))
        clock.advance(timedelta(hours=1))
        a, b = (AlarmEngine(sessions, clock, AlarmLive(), Recorder()) for _ in range(2))
        await asyncio.gather(a.run_due(), b.run_due())
        (alarm,) = await _bed_alarms(sessions)
        assert _detections(alarm) == 1
    finally:
        await db.dispose()


async def test_a_worker_behind_does_not_fire_what_another_fired(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        effects = Recorder()
        # Worker B applied the bed exit itself: its cache says the timer is ahead.
        b = AlarmEngine(sessions, clock, AlarmLive(), effects)
        await b.handle_event(_event(BedExit(), clock(), home="8", resident="80"))
        clock.advance(timedelta(hours=1))
        a = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        # B read the due list, then A fired the timer before B got to it.
        async with sessions() as session:
            due = await store.due_residents(session, clock())
        assert due == ["80"]
        await a.run_due()
        await b.tick_resident("80")
        (alarm,) = await _bed_alarms(sessions)
        assert _detections(alarm) == 1
        # B dropped what it cached and goes on from the stored state.
        clock.advance(timedelta(minutes=5))
        await b.run_due()
        (alarm,) = await _bed_alarms(sessions)
        assert _detections(alarm) == 1
    finally:
        await db.dispose()
