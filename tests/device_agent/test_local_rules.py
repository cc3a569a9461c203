"""The fall cancel window as a pure state machine (time is passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_agent.local_rules import FallCancelWindow

T0 = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def test_a_fall_nobody_cancels_is_confirmed_after_the_window() -> None:
    window = FallCancelWindow()
    window.detected("f1", T0, "h1-pendant", "living", 0.9)
    assert window.next_deadline() == T0 + timedelta(seconds=30)
    assert window.due(T0 + timedelta(seconds=29)) == []
    assert window.due(T0 + timedelta(seconds=30)) == []
    (fall,) = window.due(T0 + timedelta(seconds=31))
    assert fall.fall_id == "f1"
    assert window.pending == ()


def test_a_press_inside_the_window_cancels_and_the_fall_never_confirms() -> None:
    window = FallCancelWindow(timedelta(seconds=30))
    window.detected("f1", T0, "h1-pendant")
    (cancelled,) = window.cancel(T0 + timedelta(seconds=12))
    assert cancelled.fall_id == "f1"
    assert window.due(T0 + timedelta(hours=1)) == []


def test_a_press_after_the_window_does_not_cancel() -> None:
    window = FallCancelWindow(timedelta(seconds=30))
    window.detected("f1", T0, "h1-pendant")
    assert window.cancel(T0 + timedelta(seconds=31)) == []
    assert [f.fall_id for f in window.due(T0 + timedelta(seconds=31))] == ["f1"]


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        FallCancelWindow(timedelta(seconds=-1))
