"""The hub's garbage-collection policy: survivors frozen, a full collection reclaims what
frozen objects left as cyclic garbage (docs/adr/0115)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hub import gcpolicy


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_frozen_cycle_is_kept_until_the_full_collection(restore_gc: None) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    assert gcpolicy.freeze_survivors() > 0
    del a, b
    gc.collect()
    assert ref() is not None  # frozen: ordinary collections leave it alone
    gcpolicy.collect_all()
    assert ref() is None  # the hourly full collection reclaims it
    assert gc.get_freeze_count() > 0  # and freezes the survivors again


def test_settle_sets_thresholds_and_freezes(restore_gc: None) -> None:
    gcpolicy.settle()
    assert gc.get_threshold() == gcpolicy.THRESHOLDS
    assert gc.get_freeze_count() > 0
