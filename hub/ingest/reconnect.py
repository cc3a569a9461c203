"""When an MQTT session connects again: jittered exponential back-off (docs/adr/0169).

Pure: no clock, no socket; the caller passes the monotonic time and a ``random.Random``.

Why it matters on the RabbitMQ cluster (ADR 0161, 0169): RabbitMQ 3.10 answers CONNACK before
the client id is registered in its Raft registry, and a registration applied later ends any
other connection with that id ("duplicate id"). After a node is lost the registry may have no
leader for seconds; a session that reconnected at once and again every time it was refused or
timed out left behind attempts whose late registrations then ended its newest connection, over
and over (44 s of failover with 64 partition sessions). So a session waits longer and longer,
with jitter, after each attempt that failed or did not last, and its first attempt after a
connection that lasted is soon but still jittered (a node's sessions do not all come back in
the same instant).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ReconnectPolicy:
    """How long a session waits before its next connection attempt.

    After the ``n``-th failure in a row the wait is drawn uniformly from
    ``[cap / 2, cap]`` with ``cap = min(max_s, base_s * factor ** (n - 1))`` ("equal jitter":
    attempts spread out, yet never come back faster than half the cap). A connection that
    stayed up ``stable_s`` seconds ends the run of failures; one lost sooner (refused, or ended
    by a late duplicate-id registration) counts as one more failure. An attempt with no
    CONNACK after ``connack_timeout_s`` is abandoned (a failure)."""

    base_s: float = 0.5
    factor: float = 2.0
    max_s: float = 15.0
    stable_s: float = 10.0
    connack_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        for name in ("base_s", "max_s", "stable_s", "connack_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be at least 1, not {self.factor!r}")
        if self.max_s < self.base_s:
            raise ValueError("max_s must not be below base_s")

    def cap(self, failures: int) -> float:
        """The longest wait after ``failures`` failures in a row (0: no wait)."""
        if failures < 0:
            raise ValueError("failures cannot be negative")
        if failures == 0:
            return 0.0
        # Capped before the power can overflow: factor ** 64 is already far past any max_s.
        return min(self.max_s, self.base_s * self.factor ** min(failures - 1, 64))


class Backoff:
    """One session's failures in a row and the wait before its next attempt."""

    def __init__(self, policy: ReconnectPolicy, rng: random.Random) -> None:
        self.policy = policy
        self._rng = rng
        self.failures = 0
        self._up_since: float | None = None

    def connected(self, now: float) -> None:
        """The broker accepted the connection at ``now`` (CONNACK)."""
        self._up_since = now

    def lost(self, now: float) -> None:
        """The connection, or an attempt at one, ended at ``now``."""
        up_since, self._up_since = self._up_since, None
        if up_since is not None and now - up_since >= self.policy.stable_s:
            self.failures = 1  # it had lasted: come back soon, the run starts again
        else:
            self.failures += 1

    def delay(self) -> float:
        """Seconds to wait before the next attempt (0 before the first one)."""
        cap = self.policy.cap(self.failures)
        if cap == 0:
            return 0.0
        return cap / 2 + self._rng.uniform(0, cap / 2)
