"""The on-disk queue: order, cap policy, persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_agent.outbox import Outbox, Priority


def _fill(outbox: Outbox, prefix: str, n: int, priority: Priority) -> None:
    for i in range(n):
        outbox.put(f"t/{prefix}", f"{prefix}{i}".encode(), qos=1, priority=priority)


def test_messages_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "q.sqlite3")
    _fill(outbox, "a", 3, Priority.TELEMETRY)
    _fill(outbox, "b", 2, Priority.ALARM)
    assert [m.payload for m in outbox.peek()] == [b"a0", b"a1", b"a2", b"b0", b"b1"]
    first = outbox.peek(2)
    outbox.remove([m.id for m in first])
    assert [m.payload for m in outbox.peek()] == [b"a2", b"b0", b"b1"]
    assert len(outbox) == 3


def test_full_queue_drops_oldest_telemetry_then_events_never_alarms(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "q.sqlite3", max_messages=10)
    _fill(outbox, "alarm", 4, Priority.ALARM)
    _fill(outbox, "event", 2, Priority.EVENT)
    _fill(outbox, "tel", 10, Priority.TELEMETRY)
    payloads = [m.payload for m in outbox.peek(100)]
    assert len(payloads) == 10
    assert [p for p in payloads if p.startswith(b"alarm")] == [
        b"alarm0",
        b"alarm1",
        b"alarm2",
        b"alarm3",
    ]
    # The newest telemetry survived, the oldest went first.
    assert [p for p in payloads if p.startswith(b"tel")] == [b"tel6", b"tel7", b"tel8", b"tel9"]
    assert outbox.stats().dropped == 6
    # Alarms only: the cap is exceeded rather than losing one.
    _fill(outbox, "late-alarm", 20, Priority.ALARM)
    kept = [m.payload for m in outbox.peek(1000)]
    assert sum(p.startswith(b"late-alarm") for p in kept) == 20
    assert sum(p.startswith(b"alarm") for p in kept) == 4
    assert outbox.stats().alarms == 24


def test_queue_and_sequence_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    outbox = Outbox(path)
    assert [outbox.next_sequence("gw") for _ in range(3)] == [1, 2, 3]
    assert outbox.next_sequence("other") == 1
    _fill(outbox, "x", 2, Priority.ALARM)
    outbox.close()
    again = Outbox(path)
    assert len(again) == 2
    assert again.next_sequence("gw") == 4
    assert [m.payload for m in again.peek()] == [b"x0", b"x1"]


def test_bad_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Outbox(tmp_path / "q.sqlite3", max_messages=0)
