"""Reconnection delays: exponential back-off with jitter, so a city's gateways do not
all reconnect in the same second after a broker restart."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``base * 2**attempt`` capped at ``cap``, multiplied by a random factor in
    ``[1 - jitter, 1]`` ("equal jitter"); :meth:`reset` after a good connection."""

    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("back-off needs 0 < base <= cap")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def next_delay(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return float(ceiling * (1.0 - self.jitter * self.rng.random()))

    def reset(self) -> None:
        """Connected again: start from ``base`` next time."""
        self.attempt = 0
