"""The alarm engine with one owner per home (docs/adr/0147): only the owner's timer loop looks
at a home's timers, an event of a home owned elsewhere is refused, a fenced write stores
nothing, and an alarm event another worker applied is not applied again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts import RuleKind
from hub.alarms import store
from hub.alarms.engine import AlarmEngine, NotOwner
from hub.alarms.live import AlarmLive
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from protocol import BedExit, Panic
from tests.hub.alarms.test_engine import Recorder, _event

NIGHT = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
PARTITIONS = 4  # home "7" is in partition 3


def _owning(engine: AlarmEngine, *partitions: int) -> AlarmEngine:
    engine.owns_home = lambda home: int(home) % PARTITIONS in partitions
    engine.owned_partitions = lambda: (PARTITIONS, partitions)
    return engine


async def _alarms(sessions, rule: RuleKind) -> list:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        alarms = await store.list_alarms(session, status="all", category=None, limit=10)
    return [a for a in alarms if a.rule is rule]


async def test_only_the_owners_timer_loop_fires_a_homes_timer(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        owner = _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder()), 3)
        await owner.handle_event(_event(BedExit(), clock()))
        clock.advance(timedelta(hours=1))
        other = _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder()), 0, 1, 2)
        assert await other.run_due() == 0
        assert await _alarms(sessions, RuleKind.BED_NOT_RETURNED) == []
        # Nothing owned at all (before the first beat): nothing looked at either.
        assert await _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder())).run_due() == 0
        await owner.run_due()
        assert len(await _alarms(sessions, RuleKind.BED_NOT_RETURNED)) == 1
    finally:
        await db.dispose()


async def test_an_event_of_a_home_owned_elsewhere_is_refused(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        engine = _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder()), 0)
        with pytest.raises(NotOwner):
            await engine.handle_event(_event(Panic(), clock()))
        assert await _alarms(sessions, RuleKind.PANIC) == []
    finally:
        await db.dispose()


async def test_a_fenced_write_stores_nothing(database_url) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        engine = _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder()), 3)

        async def lease_gone(session: object, home: str) -> bool:
            return False

        engine.fence = lease_gone
        panic = _event(Panic(), clock())
        with pytest.raises(NotOwner):
            await engine.handle_event(panic)
        assert await _alarms(sessions, RuleKind.PANIC) == []
        # The new owner applies it: one alarm.
        new_owner = _owning(AlarmEngine(sessions, clock, AlarmLive(), Recorder()), 3)
        await new_owner.handle_event(panic)
        assert len(await _alarms(sessions, RuleKind.PANIC)) == 1
    finally:
        await db.dispose()


async def test_an_alarm_event_applied_by_the_previous_owner_is_not_applied_again(
    database_url,
) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NIGHT)
    try:
        old = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        new = AlarmEngine(sessions, clock, AlarmLive(), Recorder())
        # The new owner has the resident cached already (an earlier event of the home).
        await new.handle_event(_event(BedExit(), clock()))
        panic = _event(Panic(), clock())
        await old.handle_event(panic)
        clock.advance(timedelta(seconds=1))
        # A copy of the same panic (replayed from the standby copy, or re-sent).
        assert await new.handle_event(replace(panic, at=clock())) == []
        (alarm,) = await _alarms(sessions, RuleKind.PANIC)
        assert alarm.rule is RuleKind.PANIC
    finally:
        await db.dispose()
