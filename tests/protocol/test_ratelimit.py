"""The flood rule (protocol.ratelimit): token buckets per device, pure, on a fixed clock."""

from __future__ import annotations

import pytest

from protocol.ratelimit import NEVER_DROPPED, FloodGuard, RateLimit

LIMIT = RateLimit(per_s=2.0, burst=5, quiet_s=10.0)


def test_a_burst_passes_then_the_rate_holds() -> None:
    guard = FloodGuard(LIMIT)
    verdicts = [guard.take("door", 100.0) for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 3
    # Only the first drop says the device started flooding.
    assert [v.flooding_started for v in verdicts] == [False] * 5 + [True, False, False]
    assert guard.dropped == 3
    # Half a second later one token (2 a second) has come back: one passes, the next not.
    assert guard.take("door", 100.5).allowed
    assert not guard.take("door", 100.5).allowed


def test_a_steady_device_under_the_rate_never_floods() -> None:
    guard = FloodGuard(LIMIT)
    now = 0.0
    for _ in range(1000):
        assert guard.take("pir", now).allowed
        now += 0.5  # exactly the rate
    assert guard.dropped == 0
    assert guard.flooding(now) == []


def test_devices_are_counted_apart() -> None:
    guard = FloodGuard(LIMIT)
    for _ in range(20):
        guard.take("chatty", 0.0)
    assert guard.take("quiet", 0.0).allowed
    assert guard.flooding(0.0) == ["chatty"]


def test_never_dropped_messages_pass_even_while_flooding() -> None:
    guard = FloodGuard(LIMIT)
    for _ in range(10):
        guard.take("pendant", 0.0)
    assert guard.take("pendant", 0.0, never_drop=True).allowed
    assert not guard.take("pendant", 0.0).allowed
    assert "panic" in NEVER_DROPPED
    assert "fall" in NEVER_DROPPED
    assert "door_open" not in NEVER_DROPPED
    assert "motion" not in NEVER_DROPPED


def test_flooding_ends_after_quiet_and_can_start_again() -> None:
    guard = FloodGuard(LIMIT)
    for _ in range(6):
        guard.take("door", 0.0)
    assert guard.flooding(5.0) == ["door"]
    # Calm for quiet_s: no longer flooding; a new flood is a new start.
    assert guard.take("door", 10.0).allowed
    assert guard.flooding(10.0) == []
    starts = [guard.take("door", 10.0).flooding_started for _ in range(6)]
    assert starts.count(True) == 1


def test_a_clock_going_back_gives_no_tokens() -> None:
    guard = FloodGuard(RateLimit(per_s=1.0, burst=1))
    assert guard.take("d", 50.0).allowed
    assert not guard.take("d", 40.0).allowed


def test_memory_is_bounded() -> None:
    guard = FloodGuard(LIMIT, max_keys=100)
    for i in range(1000):
        guard.take(f"device-{i}", float(i))
    assert len(guard) <= 100


@pytest.mark.parametrize(
    ("per_s", "burst", "quiet_s"), [(0.0, 1, 1.0), (-1.0, 1, 1.0), (1.0, 0, 1.0), (1.0, 1, 0.0)]
)
def test_bad_limits_are_refused(per_s: float, burst: int, quiet_s: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimit(per_s=per_s, burst=burst, quiet_s=quiet_s)


def test_bad_key_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        FloodGuard(LIMIT, max_keys=0)
