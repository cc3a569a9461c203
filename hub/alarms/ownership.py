"""The alarm engine's part in one owner per home (docs/adr/0147).

- The engine handles events, and its timer loop claims due timers, only of homes in the
  partitions this worker owns; each commit re-checks the lease in its own transaction
  (fencing) and a fenced event is left to the new owner (:class:`~hub.alarms.engine.NotOwner`).
- A partition given up: the engine writes what it cached of those homes and forgets it —
  only while the lease row still names this worker with the epoch it applied those events
  under (:meth:`EngineHomes.fence_homes`); a lease another worker took meanwhile (this one
  stalled past its TTL) gets nothing written: the new owner applies those events again
  (docs/adr/0161).
- A partition taken over: the events stored there but not applied (the old owner died between
  storing and applying) are applied here, in a background task so the ownership beat is never
  held up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alarms.backlog import replay_unprocessed
from hub.alarms.engine import AlarmEngine
from hub.clock import Clock
from hub.cluster.leases import held_epochs, holds
from hub.cluster.owner import Ownership
from hub.cluster.partitions import partition_of

_LOGGER = logging.getLogger(__name__)


class EngineHomes:
    """A :class:`~hub.cluster.PartitionParticipant` for the alarm engine."""

    def __init__(
        self,
        engine: AlarmEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        partitions: int,
        ownership: Callable[[], Ownership | None],
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.partitions = partitions
        self._ownership = ownership
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[int] = set()
        self._replayer: asyncio.Task[None] | None = None
        # The epoch under which this engine works on each partition it was given: what the
        # write-behind's fence compares with the lease rows.
        self._epochs: dict[int, int] = {}

    @property
    def ownership(self) -> Ownership | None:
        """This worker's ownership loop (started after the engine)."""
        return self._ownership()

    # ---------------------------------------------------------------- engine hooks

    def owns_home(self, home_id: str) -> bool:
        """Whether this worker owns the home now (not before ownership has started)."""
        return self.ownership is not None and self.ownership.owns_home(home_id)

    def owned_partitions(self) -> tuple[int, Collection[int]]:
        """(partition count, partitions owned now) for the timer loop's claim."""
        ownership = self.ownership
        if ownership is None:
            return self.partitions, ()
        return self.partitions, [p for p in ownership.owned if ownership.owns_partition(p)]

    async def await_owner(self, home_id: str) -> bool:
        """Wait (up to one lease) for the next beat when the home's partition is held but
        this worker's view of the lease ran out; True if it is still the owner."""
        ownership = self.ownership
        return ownership is not None and await ownership.still_owns_home(home_id, ownership.ttl_s)

    async def fence(self, session: AsyncSession, home_id: str) -> bool:
        """Inside the caller's transaction: the lease of the home's partition is still ours."""
        ownership = self.ownership
        if ownership is None:
            return False
        lease = ownership.epoch_of(home_id)
        return lease is not None and await holds(session, ownership.worker, *lease)

    async def fence_homes(self, session: AsyncSession, homes: Collection[str]) -> set[str]:
        """Inside the caller's transaction: those of ``homes`` whose partition's lease still
        names this worker with the epoch the engine was given it under (rows share-locked
        until the transaction ends, so no claim slips in before the commit)."""
        ownership = self.ownership
        if ownership is None:
            return set()
        parts = {home: partition_of(int(home), self.partitions) for home in homes}
        mine = {p for p in parts.values() if p in self._epochs}
        held = await held_epochs(session, ownership.worker, mine)
        return {home for home, p in parts.items() if p in held and held[p] == self._epochs.get(p)}

    def install(self) -> None:
        """Set the engine's hooks."""
        self.engine.owns_home = self.owns_home
        self.engine.await_owner = self.await_owner
        self.engine.owned_partitions = self.owned_partitions
        self.engine.fence = self.fence
        self.engine.fence_homes = self.fence_homes

    # ---------------------------------------------------------------- participant

    async def assign(self, partition: int) -> None:
        """Apply what the old owner stored but did not apply; wake the timer loop. The
        partitions gained in one beat are replayed together (one registry load, one query)."""
        ownership = self.ownership
        epoch = None if ownership is None else ownership.owned.get(partition)
        if epoch is not None:
            self._epochs[partition] = epoch
        self._pending.add(partition)
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.create_task(self._replay(), name="replay-partitions")
            self._tasks.add(self._replayer)
            self._replayer.add_done_callback(self._tasks.discard)
        self.engine.wakeup.set()

    async def revoke(self, partition: int) -> None:
        """Write (fenced) and forget the cached state of the partition's homes."""
        try:
            count = await self.engine.release_homes(
                lambda home: partition_of(int(home), self.partitions) == partition
            )
        finally:
            self._epochs.pop(partition, None)
        _LOGGER.debug("partition %d given up: %d residents forgotten", partition, count)

    async def _replay(self) -> None:
        await asyncio.sleep(0)  # let the beat tell every partition it gained first
        while self._pending:
            batch, self._pending = self._pending, set()
            try:
                count = await replay_unprocessed(
                    self.engine,
                    self.sessionmaker,
                    self.clock(),
                    homes=self._in(batch),
                )
            except Exception:  # the next take-over (or a re-sent event) covers it
                _LOGGER.exception("replaying %d partitions failed", len(batch))
                continue
            if count:
                _LOGGER.info(
                    "%d partitions taken over: %d unapplied events applied", len(batch), count
                )

    def _in(self, partitions: set[int]) -> Callable[[int], bool]:
        return lambda home: partition_of(home, self.partitions) in partitions

    async def stop(self) -> None:
        """Cancel replays still running."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
