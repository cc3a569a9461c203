"""The ownership loop of one hub worker: which partitions of the homes it owns now.

Each beat (``heartbeat_s``, 1 s by default) the worker records itself alive, reads the live
workers, computes with :func:`~hub.cluster.partitions.assign` which partitions it should own,
**gives up** those it should not (its participants revoke them first: the transport stops
consuming, the alarm engine writes and forgets the homes' cached state), renews the leases
it keeps and **claims** the ones it should have that are free or expired (participants then
assign them). A worker that cannot renew in time stops owning anything on its own
(self-fencing), before its leases can run out in the database. docs/adr/0147.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from hub.cluster.leases import LeaseStore
from hub.cluster.partitions import assign, partition_of

_LOGGER = logging.getLogger(__name__)


class PartitionParticipant(Protocol):
    """Told when this worker starts or stops owning a partition (a transport consuming
    per partition, a cache of the homes' state). Calls for one partition never overlap."""

    async def assign(self, partition: int) -> None:
        """This worker owns ``partition`` from now on (its lease is won)."""

    async def revoke(self, partition: int) -> None:
        """This worker stops owning ``partition`` (return once nothing of it is in flight;
        its lease is released after)."""


class Ownership:
    """Which partitions this worker owns, kept by leases in PostgreSQL."""

    def __init__(
        self,
        store: LeaseStore,
        worker: str,
        partitions: int,
        participants: Sequence[PartitionParticipant],
        *,
        heartbeat_s: float = 1.0,
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 2 * heartbeat_s:
            raise ValueError("the lease must outlive at least two heartbeats")
        self.store = store
        self.worker = worker
        self.partitions = partitions
        self.participants = participants
        self.heartbeat_s = heartbeat_s
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self.owned: dict[int, int] = {}  # partition -> epoch (fencing token)
        self.members: list[str] = []
        # Until when (monotonic) the leases renewed last are surely still ours: the lease
        # was extended after the beat started, so the database's expiry is later than this.
        self._valid_until = 0.0
        self.beats = 0
        self.changes = 0  # partitions gained or given up since the start (metrics, tests)
        self.ready = asyncio.Event()  # set after the first complete beat
        self._beaten = asyncio.Event()  # set (and replaced) after every complete beat

    # ------------------------------------------------------------ queries (no I/O)

    def owns_partition(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` now (and its lease is surely valid)."""
        return partition in self.owned and self._monotonic() < self._valid_until

    async def still_owns_home(self, home_id: int | str, wait_s: float) -> bool:
        """Whether this worker owns the home, waiting up to ``wait_s`` for the next beat when
        the partition is held but this worker's view of its lease has run out (a beat held
        back by a busy event loop): an event is then delayed, not refused and re-sent."""
        partition = partition_of(int(home_id), self.partitions)
        if self.owns_partition(partition):
            return True
        if partition not in self.owned:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._beaten.wait()
        return self.owns_partition(partition)

    def owns_home(self, home_id: int | str) -> bool:
        """Whether this worker owns the home now."""
        return self.owns_partition(partition_of(int(home_id), self.partitions))

    def epoch_of(self, home_id: int | str) -> tuple[int, int] | None:
        """(partition, epoch) of the home's lease if this worker owns it, for fencing."""
        partition = partition_of(int(home_id), self.partitions)
        epoch = self.owned.get(partition)
        return None if epoch is None else (partition, epoch)

    # ------------------------------------------------------------ the loop

    async def beat(self) -> None:
        """One round: heartbeat and renewal first (one transaction, before any slow work of
        the participants), then give up, then claim."""
        started = self._monotonic()
        kept = set(self.owned)
        members, held = await self.store.beat(self.worker, kept, self.ttl_s)
        if kept:
            # Renewed after ``started``: the database's expiry is later than this.
            self._valid_until = started + self.ttl_s - self.heartbeat_s / 2
        if self.worker not in members:
            members = sorted({*members, self.worker})
        self.members = members
        if kept - held:
            await self._drop(kept - held, "lease lost")
        target = assign(self.partitions, members).get(self.worker, frozenset())
        surplus = set(self.owned) - target
        if surplus:
            await self._drop(surplus, "another worker's share now")
            await self.store.release(self.worker, surplus)
        wanted = target - set(self.owned)
        claimed = self._monotonic()
        taken = await self.store.claim(self.worker, wanted, self.ttl_s) if wanted else {}
        if taken:
            if not self.owned:
                self._valid_until = claimed + self.ttl_s - self.heartbeat_s / 2
            for partition in sorted(taken):
                self.owned[partition] = taken[partition]
                await self._tell(partition, gained=True)
            self.changes += len(taken)
            _LOGGER.info(
                "worker %s now owns %d partitions (+%d)", self.worker, len(self.owned), len(taken)
            )
        self.beats += 1
        self.ready.set()
        beaten, self._beaten = self._beaten, asyncio.Event()
        beaten.set()

    async def run(self) -> None:
        """Beat until cancelled; a failed beat is retried, and once the leases may have run
        out this worker drops every partition (until a beat succeeds again)."""
        while True:
            try:
                await self.beat()
            except Exception:  # the database may be back at the next beat
                _LOGGER.exception("ownership heartbeat of %s failed", self.worker)
                if self.owned and self._monotonic() >= self._valid_until:
                    await self._drop(set(self.owned), "leases may have run out")
            await asyncio.sleep(self.heartbeat_s)

    async def leave(self) -> None:
        """A clean stop: revoke everything here, then free the leases at once."""
        await self._drop(set(self.owned), "stopping")
        await self.store.leave(self.worker)

    async def _drop(self, partitions: set[int], why: str) -> None:
        _LOGGER.info("worker %s gives up %d partitions (%s)", self.worker, len(partitions), why)
        for partition in sorted(partitions):
            self.owned.pop(partition, None)
            await self._tell(partition, gained=False)
        self.changes += len(partitions)

    async def _tell(self, partition: int, *, gained: bool) -> None:
        for participant in self.participants:
            try:
                if gained:
                    await participant.assign(partition)
                else:
                    await participant.revoke(partition)
            except Exception:  # one participant's failure must not stop the others
                _LOGGER.exception(
                    "%s of partition %d failed in %r",
                    "assign" if gained else "revoke",
                    partition,
                    participant,
                )
