"""Message-id memory and sequence tracking."""

from __future__ import annotations

from hub.ingest.dedup import RecentIds, SequenceCheck, SequenceTracker


def test_recent_ids_is_bounded_and_forgets_oldest() -> None:
    ids = RecentIds(capacity=3)
    assert [ids.seen("dev", x) for x in "abc"] == [False, False, False]
    assert ids.seen("dev", "a")
    ids.seen("dev", "d")  # pushes out "a"
    assert len(ids) == 3
    assert not ids.seen("dev", "a")


def test_recent_ids_are_per_device() -> None:
    """Message ids are unique per device only: another device's same id is a new message."""
    ids = RecentIds()
    assert not ids.seen("home-a-pendant", "m1")
    assert not ids.seen("home-b-pendant", "m1")
    assert ids.seen("home-a-pendant", "m1")
    assert ids.seen("home-b-pendant", "m1")
    ids.forget("home-a-pendant", "m1")
    assert not ids.seen("home-a-pendant", "m1")
    assert ids.seen("home-b-pendant", "m1")


def test_sequence_tracker() -> None:
    seq = SequenceTracker()
    assert seq.observe("d", 5) == SequenceCheck()
    assert seq.observe("d", 6) == SequenceCheck()
    assert seq.observe("d", 9) == SequenceCheck(missing=2)
    assert seq.observe("d", 7) == SequenceCheck(late=True)
    assert seq.observe("d", 10) == SequenceCheck()
    # A device that restarts counts from 0 again.
    assert seq.observe("d", 0) == SequenceCheck(late=True)
    assert seq.observe("d", 1) == SequenceCheck()
    assert seq.observe("other", 100) == SequenceCheck()
