"""The alarm engine's write-behind is fenced like its alarms (docs/adr/0147, 0161).

A routine event only changes a resident's cached rule state; the engine writes it later (a
periodic flush, or when it gives the home's partition up). A worker that stalled past its
lease, and whose partition another worker claimed meanwhile, must not write that state over
the new owner's when it notices: its events are left unprocessed for the new owner to apply.
A worker that gives a partition up cleanly (lease still its own) writes as before, and so does
one whose lease ran out while nobody claimed it. Real PostgreSQL, real leases, real engines;
a stall is simulated by back-dating the lease, never by waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import ResidentState
from hub.alarms import store
from hub.alarms.engine import AlarmEngine
from hub.alarms.live import AlarmLive
from hub.alarms.ownership import EngineHomes
from hub.clock import ManualClock
from hub.cluster import LeaseStore, Ownership, held_epochs
from protocol import Motion
from tests.hub.alarms.test_engine import Recorder, _event

pytestmark = pytest.mark.postgres
PARTITIONS = 4  # home "7" is in partition 3
NOON = datetime(2026, 2, 3, 11, 0, tzinfo=UTC)


class Worker:
    """An alarm engine with its ownership loop, as one hub worker wires them."""

    def __init__(
        self, name: str, leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.clock = ManualClock(NOON)
        self.engine = AlarmEngine(sessions, self.clock, AlarmLive(), Recorder())
        self.homes = EngineHomes(self.engine, sessions, self.clock, PARTITIONS, lambda: self.own)
        self.own = Ownership(leases, name, PARTITIONS, [self.homes], heartbeat_s=1.0, ttl_s=5.0)
        self.homes.install()

    async def motion(self) -> tuple[str, str]:
        """A routine event of home 7 (cached, not written); its (device, message) key."""
        event = _event(Motion(), self.clock(), home="7", resident="70")
        assert await self.engine.handle_event(event) == []
        return event.device_id, event.message_id

    def cached(self) -> ResidentState | None:
        entry = self.engine._cache.get("70")
        return None if entry is None else entry.state


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> ResidentState | None:
    async with sessions() as session:
        return await store.load_state(session, "70")


async def _processed(sessions: async_sessionmaker[AsyncSession], key: tuple[str, str]) -> bool:
    async with sessions() as session:
        return await store.was_processed(session, *key)


async def _expire(sessions: async_sessionmaker[AsyncSession], partition: int) -> None:
    """What the database shows once the owner of ``partition`` stalled past its TTL."""
    async with sessions() as session:
        await session.execute(
            text(
                "UPDATE hub_partitions SET expires_at = now() - interval '1 second' "
                "WHERE partition = :p"
            ),
            {"p": partition},
        )
        await session.commit()


async def test_a_worker_whose_lease_was_taken_writes_nothing_over_the_new_owner(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    await a.own.beat()
    assert a.own.owns_home(7)
    # The first event of the resident writes its initial state (its row must exist).
    await a.motion()
    await a.engine.flush()
    a.clock.advance(timedelta(minutes=5))
    old_key = await a.motion()  # applied in A's cache only
    assert a.cached() != await _stored(sessions)

    # A stalls past its lease; B claims partition 3 and applies its own event of home 7.
    await _expire(sessions, 3)
    assert await leases.claim("b", {3}, 5.0) == {3: 2}
    b = Worker("b", leases, sessions)
    b.own.owned[3] = 2  # what B's own beat would have recorded
    await b.homes.assign(3)
    b.own._valid_until = float("inf")
    b.clock.advance(timedelta(minutes=7))
    await b.motion()
    await b.engine.flush()
    by_b = await _stored(sessions)
    assert by_b == b.cached()

    # A wakes up: its beat finds the lease gone, gives the partition up and flushes on the
    # way. Nothing of A's reaches the database, and A forgets the home.
    await a.own.beat()
    assert not a.own.owns_home(7)
    assert await _stored(sessions) == by_b
    assert a.cached() is None
    # A's unwritten event is not marked processed: B's replay (or a re-send) applies it.
    assert not await _processed(sessions, old_key)


async def test_the_periodic_flush_of_a_stolen_home_is_fenced_too(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    await a.own.beat()
    await a.motion()
    await a.engine.flush()
    stored = await _stored(sessions)
    a.clock.advance(timedelta(minutes=5))
    key = await a.motion()
    await _expire(sessions, 3)
    assert await leases.claim("b", {3}, 5.0) == {3: 2}
    # The flusher runs before A's next beat: the lease row names B now.
    assert await a.engine.flush() == 0
    assert await _stored(sessions) == stored
    assert a.cached() is None
    assert not await _processed(sessions, key)
    # Applied again here (the home came back, say): not skipped as already seen.
    assert key not in a.engine._recent


async def test_a_clean_hand_over_writes_the_cached_state(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    await a.own.beat()
    await a.motion()
    await a.engine.flush()
    a.clock.advance(timedelta(minutes=5))
    key = await a.motion()
    cached = a.cached()
    await a.own.leave()  # revokes (and flushes) before releasing the leases
    assert await _stored(sessions) == cached
    assert await _processed(sessions, key)


async def test_a_lease_that_ran_out_unclaimed_still_writes(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    await a.own.beat()
    await a.motion()
    await a.engine.flush()
    a.clock.advance(timedelta(minutes=5))
    key = await a.motion()
    cached = a.cached()
    # Slow past its TTL, but nobody claimed it: the row still names A with A's epoch, and
    # the share lock keeps a claim out until the write commits.
    await _expire(sessions, 3)
    assert await a.engine.flush() == 1
    assert await _stored(sessions) == cached
    assert await _processed(sessions, key)


async def test_the_fence_answers_nothing_for_nothing_and_before_ownership(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    async with sessions() as session:
        # No beat yet: no partition given, so no home is held.
        assert await a.homes.fence_homes(session, {"7", "8"}) == set()
        assert await held_epochs(session, "a", []) == {}
    await a.own.beat()
    async with sessions() as session:
        assert await a.homes.fence_homes(session, set()) == set()
        assert await a.homes.fence_homes(session, {"7", "8"}) == {"7", "8"}
        # Another worker's name holds nothing.
        assert await held_epochs(session, "someone-else", [0, 1, 2, 3]) == {}
    detached = EngineHomes(a.engine, sessions, a.clock, PARTITIONS, lambda: None)
    async with sessions() as session:
        assert await detached.fence_homes(session, {"7"}) == set()


async def test_a_fenced_home_of_two_residents_spread_over_flush_batches(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a = Worker("a", leases, sessions)
    await a.own.beat()
    for resident in ("70", "71"):
        await a.engine.handle_event(_event(Motion(), a.clock(), home="7", resident=resident))
    await a.engine.flush()
    a.clock.advance(timedelta(minutes=5))
    for resident in ("70", "71"):
        await a.engine.handle_event(_event(Motion(), a.clock(), home="7", resident=resident))
    await _expire(sessions, 3)
    assert await leases.claim("b", {3}, 5.0) == {3: 2}
    # One resident per transaction: the first finds the home fenced out and forgets both.
    assert await a.engine.flush(batch=1) == 0
    assert a.engine._cache == {}
