"""The assignment of partitions to live workers (pure; docs/adr/0147)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.cluster.partitions import assign, moves, partition_of

WORKER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
WORKERS = st.sets(WORKER, min_size=1, max_size=9)
PARTITIONS = st.integers(min_value=1, max_value=256)


@given(PARTITIONS, WORKERS)
def test_every_partition_has_exactly_one_owner(partitions: int, workers: set[str]) -> None:
    owned = assign(partitions, workers)
    assert set(owned) == workers
    every = [p for parts in owned.values() for p in parts]
    assert sorted(every) == list(range(partitions))


@given(PARTITIONS, WORKERS)
def test_shares_differ_by_at_most_one(partitions: int, workers: set[str]) -> None:
    sizes = [len(parts) for parts in assign(partitions, workers).values()]
    assert max(sizes) - min(sizes) <= 1
    assert min(sizes) == partitions // len(workers)


@given(PARTITIONS, WORKERS, st.randoms())
def test_every_worker_computes_the_same_assignment(
    partitions: int, workers: set[str], rnd: object
) -> None:
    # Each worker reads the members from the database in whatever order: same answer.
    order = sorted(workers)
    rnd.shuffle(order)  # type: ignore[attr-defined]
    assert assign(partitions, order) == assign(partitions, sorted(workers))


@given(PARTITIONS, WORKERS, WORKER)
def test_a_joining_worker_takes_a_share_and_few_partitions_move(
    partitions: int, workers: set[str], newcomer: str
) -> None:
    if newcomer in workers:
        return
    before = assign(partitions, workers)
    after = assign(partitions, workers | {newcomer})
    assert len(after[newcomer]) >= partitions // (len(workers) + 1)
    # Not a reshuffle of everything: a bounded multiple of one worker's share.
    assert len(moves(before, after)) <= 4 * (partitions // (len(workers) + 1) + 1)


@given(PARTITIONS, WORKERS)
def test_a_leaving_workers_partitions_go_to_the_others(partitions: int, workers: set[str]) -> None:
    if len(workers) < 2:
        return
    gone = sorted(workers)[0]
    before = assign(partitions, workers)
    after = assign(partitions, workers - {gone})
    assert gone not in after
    assert before[gone] <= moves(before, after)
    assert len(moves(before, after)) <= 4 * (partitions // len(workers) + 1)


def test_no_workers_own_nothing() -> None:
    assert assign(8, []) == {}


@pytest.mark.parametrize("partitions", [0, -1])
def test_a_partition_count_below_one_is_refused(partitions: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        assign(partitions, ["a"])
    with pytest.raises(ValueError, match="at least 1"):
        partition_of(3, partitions)


def test_a_homes_partition_is_its_id_modulo_the_count() -> None:
    assert [partition_of(h, 4) for h in range(1, 9)] == [1, 2, 3, 0, 1, 2, 3, 0]
