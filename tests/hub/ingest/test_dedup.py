"""Message-id memory and sequence tracking."""

from __future__ import annotations

from hub.ingest.dedup import RecentIds, SequenceCheck, SequenceTracker


def test_recent_ids_is_bounded_and_forgets_oldest() -> None:
    ids = RecentIds(capacity=3)
    assert [ids.seen(x) for x in "abc"] == [False, False, False]
    assert ids.seen("a")
    ids.seen("d")  # pushes out "a"
    assert len(ids) == 3
    assert not ids.seen("a")


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
