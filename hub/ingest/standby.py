"""Ownership over plain MQTT: every worker hears every home and keeps only its own.

With one owner per home (docs/adr/0147) and a broker without per-partition queues
(Mosquitto), each worker subscribes to every device topic without a shared group, and this
gate lets through only the messages of homes whose partition the worker owns. What it does
not own it keeps for ``retention_s`` (bounded per partition): when the worker takes a
partition over — its owner died or left — it replays those messages to itself, so the events
a dead owner had received but not stored reach the new owner. Replayed copies of what the
old owner did store are one row (the events table's unique key) and one alarm (the engine's
``processed_events``). Telemetry is not kept: a reading lost in a failover is replaced by
the next one, a duplicated one would skew averages.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hub.cluster.partitions import partition_of
from hub.ingest.registry import DeviceInfo
from protocol import Channel

MAX_KEPT_PER_PARTITION = 20_000


@dataclass(frozen=True, slots=True)
class Kept:
    """A message of a home this worker did not own when it arrived."""

    device: DeviceInfo
    channel: Channel
    topic: str
    payload: bytes
    received_at: datetime


class PartitionGate:
    """The partitions this worker owns (a :class:`~hub.cluster.PartitionParticipant`)."""

    def __init__(
        self,
        partitions: int,
        *,
        retention_s: float = 30.0,
        max_kept: int = MAX_KEPT_PER_PARTITION,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.partitions = partitions
        self.retention_s = retention_s
        self.owned: set[int] = set()
        self._kept: dict[int, collections.deque[tuple[float, Kept]]] = {}
        self._max_kept = max_kept
        self._monotonic = monotonic
        # Given what was kept of a partition when this worker takes it (the ingester).
        self.replay: Callable[[list[Kept]], None] | None = None
        self.replayed = 0

    def admit(self, item: Kept) -> bool:
        """True if the message's home is owned here; otherwise keep it (not telemetry)."""
        partition = partition_of(item.device.home_id, self.partitions)
        if partition in self.owned:
            return True
        if item.channel is not Channel.TELEMETRY:
            now = self._monotonic()
            kept = self._kept.get(partition)
            if kept is None:
                kept = self._kept[partition] = collections.deque(maxlen=self._max_kept)
            while kept and now - kept[0][0] > self.retention_s:
                kept.popleft()
            kept.append((now, item))
        return False

    def owns_home(self, home_id: int) -> bool:
        """Whether the home's partition is owned here."""
        return partition_of(home_id, self.partitions) in self.owned

    def kept(self, partition: int) -> int:
        """How many messages of ``partition`` are kept (tests, metrics)."""
        return len(self._kept.get(partition, ()))

    async def assign(self, partition: int) -> None:
        """Own ``partition`` from now on; replay what was kept of it, oldest first."""
        self.owned.add(partition)
        kept = self._kept.pop(partition, None)
        if not kept:
            return
        now = self._monotonic()
        items = [item for at, item in kept if now - at <= self.retention_s]
        if items and self.replay is not None:
            self.replayed += len(items)
            self.replay(items)

    async def revoke(self, partition: int) -> None:
        """Stop owning ``partition``: its messages are kept from now on."""
        self.owned.discard(partition)
