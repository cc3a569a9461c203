"""The on-disk queue: ordered, idempotent, bounded without losing alarms, durable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tablet_app.outbox import Outbox


def test_fifo_idempotent_and_removable(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.db")
    box.put("a", "t/1", b"one")
    box.put("b", "t/1", b"two")
    box.put("a", "t/1", b"again")  # same id: ignored
    assert [(q.message_id, q.payload) for q in box.pending()] == [("a", b"one"), ("b", b"two")]
    box.remove("a")
    box.remove("nope")
    assert [q.message_id for q in box.pending()] == ["b"]
    box.close()


def test_full_queue_drops_the_oldest_ordinary_message_never_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "q.db", limit=3)
    box.put("help", "t", b"panic", keep=True)
    box.put("c1", "t", b"check-in 1")
    box.put("c2", "t", b"check-in 2")
    with caplog.at_level(logging.WARNING):
        box.put("c3", "t", b"check-in 3")
    assert [q.message_id for q in box.pending()] == ["help", "c2", "c3"]
    assert "dropped 1" in caplog.text
    # only alarms left: the queue grows rather than lose one
    small = Outbox(tmp_path / "alarms.db", limit=1)
    small.put("p1", "t", b"x", keep=True)
    small.put("p2", "t", b"y", keep=True)
    assert len(small) == 2


def test_queue_and_sequence_survive_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.db")
    box.put("a", "t", b"x")
    assert [box.next_sequence(), box.next_sequence()] == [0, 1]
    box.close()
    again = Outbox(tmp_path / "q.db")
    assert [q.message_id for q in again.pending()] == ["a"]
    assert again.next_sequence() == 2
