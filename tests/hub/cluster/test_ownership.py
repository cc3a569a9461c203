"""Partition leases in a real PostgreSQL and the ownership loop over them (docs/adr/0147).

A dead worker is simulated by back-dating its heartbeat and leases in the database (what the
database's clock would show ``ttl`` seconds after its last beat), never by waiting.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cluster import LeaseStore, Ownership, PartitionCountMismatch, holds

pytestmark = pytest.mark.postgres
PARTITIONS = 8


class Recorder:
    """A participant that remembers what it was told."""

    def __init__(self) -> None:
        self.owned: set[int] = set()
        self.log: list[tuple[str, int]] = []

    async def assign(self, partition: int) -> None:
        assert partition not in self.owned
        self.owned.add(partition)
        self.log.append(("assign", partition))

    async def revoke(self, partition: int) -> None:
        assert partition in self.owned
        self.owned.discard(partition)
        self.log.append(("revoke", partition))


def _worker(leases: LeaseStore, name: str) -> tuple[Ownership, Recorder]:
    recorder = Recorder()
    return Ownership(leases, name, PARTITIONS, [recorder], heartbeat_s=1.0, ttl_s=5.0), recorder


async def _die(sessions: async_sessionmaker[AsyncSession], worker: str) -> None:
    """What the database shows once ``worker`` has not beaten for longer than its TTL."""
    async with sessions() as session:
        await session.execute(
            text(
                "UPDATE hub_members SET seen_at = now() - interval '1 minute' WHERE worker_id = :w"
            ),
            {"w": worker},
        )
        await session.execute(
            text(
                "UPDATE hub_partitions SET expires_at = now() - interval '1 second' "
                "WHERE owner = :w"
            ),
            {"w": worker},
        )
        await session.commit()


def _disjoint_and_complete(*recorders: Recorder) -> bool:
    every = [p for r in recorders for p in r.owned]
    return sorted(every) == list(range(PARTITIONS))


async def test_a_lone_worker_owns_every_partition(leases: LeaseStore) -> None:
    a, ra = _worker(leases, "a")
    await a.beat()
    assert ra.owned == set(range(PARTITIONS))
    assert all(a.owns_home(home) for home in range(1, 20))
    assert set((await leases.owners()).values()) == {"a"}


async def test_a_joining_worker_gets_its_share_and_nobody_owns_twice(leases: LeaseStore) -> None:
    a, ra = _worker(leases, "a")
    b, rb = _worker(leases, "b")
    await a.beat()
    await b.beat()
    # B is a member now but A still holds everything: B claims nothing yet.
    assert rb.owned == set()
    assert _disjoint_and_complete(ra, rb)
    await a.beat()  # A sees B and gives up B's share
    assert len(ra.owned) == PARTITIONS // 2
    await b.beat()  # B claims it
    assert len(rb.owned) == PARTITIONS // 2
    assert _disjoint_and_complete(ra, rb)
    owners = await leases.owners()
    assert {p for p, o in owners.items() if o == "b"} == rb.owned
    # At every step each partition was held by at most one worker.
    for partition in rb.owned:
        assert ("revoke", partition) in ra.log


async def test_a_dead_workers_partitions_move_to_the_survivor(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, ra = _worker(leases, "a")
    b, rb = _worker(leases, "b")
    for worker in (a, b, a, b):
        await worker.beat()
    assert _disjoint_and_complete(ra, rb)
    assert rb.owned
    before = {p: b.owned[p] for p in rb.owned}
    await _die(sessions, "b")
    await a.beat()
    assert ra.owned == set(range(PARTITIONS))
    # Each taken partition has a new fencing token: B's writes with the old one fail.
    async with sessions() as session:
        for partition, epoch in before.items():
            assert not await holds(session, "b", partition, epoch)
            assert await holds(session, "a", partition, a.owned[partition])
        await session.commit()


async def test_a_worker_that_leaves_frees_its_partitions_at_once(leases: LeaseStore) -> None:
    a, ra = _worker(leases, "a")
    b, rb = _worker(leases, "b")
    for worker in (a, b, a, b):
        await worker.beat()
    await b.leave()
    assert rb.owned == set()
    await a.beat()  # no waiting for a TTL
    assert ra.owned == set(range(PARTITIONS))


async def test_a_worker_whose_lease_was_taken_stops_owning_it(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, ra = _worker(leases, "a")
    await a.beat()
    # Its lease ran out (a long pause) and another worker claimed partition 3.
    async with sessions() as session:
        await session.execute(
            text(
                "UPDATE hub_partitions SET expires_at = now() - interval '1 second' "
                "WHERE partition = 3"
            )
        )
        await session.commit()
    assert await leases.claim("x", {3}, 5.0) == {3: 2}
    await a.beat()
    assert 3 not in ra.owned
    assert ("revoke", 3) in ra.log
    assert not a.owns_partition(3)


async def test_a_worker_cut_off_from_the_database_drops_everything_before_its_leases_end(
    leases: LeaseStore,
) -> None:
    now = [100.0]
    recorder = Recorder()
    a = Ownership(
        leases, "a", PARTITIONS, [recorder], heartbeat_s=1.0, ttl_s=5.0, monotonic=lambda: now[0]
    )
    await a.beat()
    assert a.owns_home(5)

    async def unreachable(*args: object) -> tuple[list[str], set[int]]:
        raise ConnectionError("database gone")

    leases.beat = unreachable  # type: ignore[method-assign]
    task = asyncio.create_task(a.run())
    try:
        now[0] += 4.0  # within the lease: still the owner, while beats fail
        assert a.owns_home(5)
        now[0] += 1.0  # past it
        assert not a.owns_home(5)  # the queries answer no at once
        async with asyncio.timeout(10):
            while recorder.owned:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_write_that_passed_the_fence_commits_before_the_new_owner_claims(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert await leases.claim("a", {1}, 5.0) == {1: 1}
    async with sessions() as writer:
        assert await holds(writer, "a", 1, 1)
        # A's lease runs out while its write is still open; B expires and claims it.
        claim = asyncio.create_task(_claim_expired(leases, sessions))
        # The claim waits for the write's share lock (seen in pg_stat_activity).
        async with asyncio.timeout(30):
            while not await _waiting_on_a_lock(sessions):
                await asyncio.sleep(0.05)
        assert not claim.done()
        await writer.commit()
    assert await claim == {1: 2}


async def _claim_expired(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> dict[int, int]:
    # Expire and claim in one statement each; the expiry UPDATE itself waits for the lock.
    async with sessions() as session:
        await session.execute(
            text(
                "UPDATE hub_partitions SET expires_at = now() - interval '1 second' "
                "WHERE partition = 1"
            )
        )
        await session.commit()
    return await leases.claim("b", {1}, 5.0)


async def _waiting_on_a_lock(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        )
        return bool(count)


async def test_a_different_partition_count_is_refused(leases: LeaseStore) -> None:
    with pytest.raises(PartitionCountMismatch, match="same TELEASSIST_HUB__PARTITIONS"):
        await leases.ensure(PARTITIONS * 2)
    await leases.ensure(PARTITIONS)  # the same count again is fine


def test_a_lease_shorter_than_two_heartbeats_is_refused(leases: LeaseStore) -> None:
    with pytest.raises(ValueError, match="two heartbeats"):
        Ownership(leases, "a", PARTITIONS, [], heartbeat_s=1.0, ttl_s=2.0)


async def test_a_slow_worker_keeps_a_lease_that_ran_out_if_nobody_took_it(
    leases: LeaseStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, ra = _worker(leases, "a")
    await a.beat()
    epochs = dict(a.owned)
    # A's beats were late (a loaded machine): its leases ran out, nobody claimed them.
    async with sessions() as session:
        await session.execute(
            text("UPDATE hub_partitions SET expires_at = now() - interval '1 second'")
        )
        await session.commit()
    await a.beat()
    # Renewed with the same fencing tokens: no hand-over and back, no revoke, no replay.
    assert a.owned == epochs
    assert [entry for entry in ra.log if entry[0] == "revoke"] == []
    async with sessions() as session:
        assert await holds(session, "a", 0, epochs[0])
        await session.commit()


async def test_a_home_whose_lease_view_ran_out_waits_for_the_next_beat(leases: LeaseStore) -> None:
    now = [100.0]
    a = Ownership(
        leases, "a", PARTITIONS, [Recorder()], heartbeat_s=1.0, ttl_s=5.0, monotonic=lambda: now[0]
    )
    await a.beat()
    now[0] += 6.0  # a busy event loop held the beats back
    assert not a.owns_home(5)
    waiting = asyncio.create_task(a.still_owns_home(5, wait_s=30.0))
    await asyncio.sleep(0)
    assert not waiting.done()  # delayed, not refused
    await a.beat()  # renewed: still the owner
    assert await waiting
    # A partition it does not hold is refused at once.
    b = Ownership(leases, "b", PARTITIONS, [Recorder()], heartbeat_s=1.0, ttl_s=5.0)
    assert not await b.still_owns_home(5, wait_s=30.0)
