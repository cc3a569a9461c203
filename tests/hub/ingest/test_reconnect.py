"""The reconnect policy (docs/adr/0169): pure, fixed seeds, times passed in (no clock)."""

from __future__ import annotations

import math
import random

import pytest

from hub.ingest.reconnect import Backoff, ReconnectPolicy

POLICY = ReconnectPolicy(base_s=0.5, factor=2.0, max_s=15.0, stable_s=10.0)


def _backoff(seed: int = 7, policy: ReconnectPolicy = POLICY) -> Backoff:
    return Backoff(policy, random.Random(seed))


def test_the_first_attempt_does_not_wait() -> None:
    assert _backoff().delay() == 0.0


def test_waits_grow_with_failures_in_a_row_up_to_the_cap_with_jitter() -> None:
    backoff = _backoff()
    caps = []
    for n in range(1, 9):
        backoff.lost(now=float(n))  # refused: never connected
        assert backoff.failures == n
        cap = POLICY.cap(n)
        caps.append(cap)
        delay = backoff.delay()
        assert cap / 2 <= delay <= cap
    assert caps == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


def test_a_connection_that_lasted_starts_the_run_again() -> None:
    backoff = _backoff()
    for n in range(5):
        backoff.lost(now=float(n))
    assert backoff.failures == 5
    backoff.connected(now=100.0)
    backoff.lost(now=110.0)  # up exactly stable_s: it lasted
    assert backoff.failures == 1
    assert 0.25 <= backoff.delay() <= 0.5


def test_a_connection_ended_soon_after_its_connack_counts_as_a_failure() -> None:
    # RabbitMQ 3.10 sends CONNACK before the client id is registered; a late duplicate-id
    # registration then ends the connection: that must not reset the back-off.
    backoff = _backoff()
    backoff.lost(now=0.0)
    backoff.connected(now=1.0)
    backoff.lost(now=3.0)
    backoff.connected(now=5.0)
    backoff.lost(now=14.9)
    assert backoff.failures == 3
    assert 1.0 <= backoff.delay() <= 2.0


def test_a_lost_attempt_after_a_lost_connection_does_not_reuse_the_old_start() -> None:
    backoff = _backoff()
    backoff.connected(now=0.0)
    backoff.lost(now=50.0)  # lasted
    backoff.lost(now=80.0)  # the next attempt was refused: no connection since
    assert backoff.failures == 2


def test_the_same_seed_gives_the_same_waits() -> None:
    def waits(seed: int) -> list[float]:
        backoff = _backoff(seed)
        out = []
        for n in range(6):
            backoff.lost(now=float(n))
            out.append(backoff.delay())
        return out

    assert waits(3) == waits(3)
    assert waits(3) != waits(4)


def test_sessions_lost_together_come_back_spread_out() -> None:
    # A node's 21 partition sessions are lost in the same instant: their first waits differ
    # and cover the jitter window rather than falling on one moment.
    delays = []
    for seed in range(21):
        backoff = _backoff(seed)
        backoff.connected(now=0.0)
        backoff.lost(now=60.0)
        delays.append(backoff.delay())
    assert len(set(delays)) == 21
    assert all(0.25 <= d <= 0.5 for d in delays)
    assert max(delays) - min(delays) > 0.125  # over half the window


def test_many_failures_stay_at_the_cap() -> None:
    assert POLICY.cap(10_000) == 15.0
    assert ReconnectPolicy(base_s=1.0, factor=1.0, max_s=1.0).cap(50) == 1.0


def test_the_policy_the_hub_uses_by_default_gives_up_an_attempt_after_its_keepalive() -> None:
    # The cluster's keep-alive is 5 s; a node may take that long to refuse a CONNECT while
    # the registry has no leader, so an attempt is not given up sooner.
    assert ReconnectPolicy().connack_timeout_s > 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_s", 0.0),
        ("base_s", -1.0),
        ("base_s", math.nan),
        ("max_s", math.inf),
        ("stable_s", 0.0),
        ("connack_timeout_s", -0.5),
        ("factor", 0.5),
        ("factor", math.nan),
    ],
)
def test_bad_policies_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ReconnectPolicy(**{field: value})


def test_a_cap_below_the_base_is_refused() -> None:
    with pytest.raises(ValueError, match="max_s"):
        ReconnectPolicy(base_s=2.0, max_s=1.0)


def test_negative_failures_have_no_cap() -> None:
    with pytest.raises(ValueError, match="negative"):
        POLICY.cap(-1)
