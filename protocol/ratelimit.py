"""How fast one device may talk, and what happens past that: the contract's flood rule.

A chattering door contact, a stuck motion sensor or a thermometer gone mad can send hundreds of
messages a second. Past its :class:`RateLimit` a device's routine messages are dropped (counted,
never stored) — by the home gateway first, by the hub as well for a gateway that does not — and
the device is *flooding*: the operator gets one technical alarm ("device flooding", a
``device_fault`` with fault ``flooding``) instead of silence or of a delayed panic elsewhere.
Events that put a life at risk (:data:`NEVER_DROPPED`) always pass.

:class:`FloodGuard` is pure: each call is given the current monotonic time in seconds.
See docs/adr/0116-device-flooding.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# A flooding pendant still raises its panic: these are never dropped, whatever the rate.
NEVER_DROPPED = frozenset({"panic", "fall", "smoke", "co", "gas", "flood", "prompt_answer"})


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_s`` messages a second on average, bursts of up to ``burst``; a flooding device is
    calm again after ``quiet_s`` seconds without a dropped message."""

    per_s: float
    burst: int
    quiet_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.per_s > 0:
            raise ValueError(f"per_s must be positive, not {self.per_s!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst!r}")
        if not self.quiet_s > 0:
            raise ValueError(f"quiet_s must be positive, not {self.quiet_s!r}")


# What a gateway lets through per device, and what the hub accepts (a margin above it).
AGENT_EVENTS = RateLimit(per_s=1.0, burst=10)
AGENT_TELEMETRY = RateLimit(per_s=2.0, burst=20)
HUB_EVENTS = RateLimit(per_s=2.0, burst=20)
HUB_TELEMETRY = RateLimit(per_s=4.0, burst=40)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one message."""

    allowed: bool
    # This message made the device a flooding one (the first drop since it was calm).
    flooding_started: bool = False


_CALM = Decision(True)
_DROPPED = Decision(False)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    flooding: bool = False
    last_drop: float = 0.0


class FloodGuard:
    """Token buckets by key (a device and channel); at most ``max_keys`` remembered."""

    def __init__(self, limit: RateLimit, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.limit = limit
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self.dropped = 0

    def take(self, key: str, now: float, *, never_drop: bool = False) -> Decision:
        """Count one message of ``key`` at monotonic second ``now``.

        ``never_drop``: a message that must pass (:data:`NEVER_DROPPED`); it still uses up
        the bucket, so the device's routine messages after it are limited.
        """
        limit = self.limit
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_calm(now)
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.per_s)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            if bucket.flooding and now - bucket.last_drop >= limit.quiet_s:
                bucket.flooding = False
            return _CALM
        if never_drop:
            return _CALM
        self.dropped += 1
        bucket.last_drop = now
        if bucket.flooding:
            return _DROPPED
        bucket.flooding = True
        return Decision(False, flooding_started=True)

    def flooding(self, now: float) -> list[str]:
        """Keys flooding at ``now`` (dropped a message within the last ``quiet_s``)."""
        return sorted(
            key
            for key, b in self._buckets.items()
            if b.flooding and now - b.last_drop < self.limit.quiet_s
        )

    def _forget_calm(self, now: float) -> None:
        # Keys whose bucket has filled up again and that are not flooding carry no state.
        full_after = self.limit.burst / self.limit.per_s
        calm = [
            key
            for key, b in self._buckets.items()
            if not b.flooding and now - b.updated >= full_after
        ]
        for key in calm or list(self._buckets)[: max(1, len(self._buckets) // 10)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
