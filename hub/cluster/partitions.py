"""Partitions of the homes and which live worker should own each (pure functions).

A home's events are processed by the one worker that owns the home's partition
(docs/adr/0147). The partition of a home is ``home_id % partitions``: home ids are sequential
integers, so the split is even, and the same expression works in SQL and in a broker's
routing table. Which worker should own which partition is decided by every worker from the
same inputs (the partition count and the set of live workers read from PostgreSQL) with
:func:`assign`, so they agree without talking to each other; the leases in PostgreSQL
(:mod:`hub.cluster.leases`) make sure no two hold one partition at once while they converge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

DEFAULT_PARTITIONS = 64


def partition_of(home_id: int, partitions: int) -> int:
    """The partition of ``home_id`` (``partitions`` ≥ 1)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    return home_id % partitions


def _score(worker: str, partition: int) -> int:
    digest = hashlib.blake2b(f"{worker}\x00{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(partitions: int, workers: Iterable[str]) -> dict[str, frozenset[int]]:
    """Which partitions each of ``workers`` should own.

    Rendezvous (highest-random-weight) hashing, capped: each partition goes to the worker
    that ranks it highest among those with room left. Every worker gets ``floor`` or ``ceil`` of
    ``partitions / workers``; the result depends only on the set of workers (not their
    order); a worker joining or leaving moves about
    ``partitions / workers`` partitions, not all of them. No workers: an empty mapping.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    members = sorted(set(workers))
    if not members:
        return {}
    floor, extra = divmod(partitions, len(members))
    # The partitions in a fixed order; each picks its best-ranked worker with room left.
    # Room: ``floor`` each, and ``extra`` workers (whichever come first) one more — the
    # capacities add up to ``partitions`` exactly, so every worker ends at floor or floor + 1.
    owned: dict[str, set[int]] = {worker: set() for worker in members}
    for partition in range(partitions):
        ranked = sorted(members, key=lambda w: (_score(w, partition), w), reverse=True)
        for worker in ranked:
            size = len(owned[worker])
            if size < floor or (size == floor and extra > 0):
                if size == floor:
                    extra -= 1
                owned[worker].add(partition)
                break
    return {worker: frozenset(parts) for worker, parts in owned.items()}


def moves(before: Mapping[str, frozenset[int]], after: Mapping[str, frozenset[int]]) -> set[int]:
    """Partitions whose owner differs between two assignments."""
    owner_before = {p: w for w, parts in before.items() for p in parts}
    owner_after = {p: w for w, parts in after.items() for p in parts}
    return {
        p
        for p in owner_before.keys() | owner_after.keys()
        if owner_before.get(p) != owner_after.get(p)
    }
