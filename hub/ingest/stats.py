"""Ingestion counters, a latency reservoir and a rate-limited log for rejects."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from protocol import RejectReason

_LOGGER = logging.getLogger("hub.ingest")


@dataclass
class IngestStats:
    """Counters of one ingester (exposed by the API and ``/metrics``)."""

    received: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by channel
    rejected: Counter[str] = field(default_factory=Counter)  # by RejectReason value
    duplicates: int = 0
    gaps: int = 0
    missing: int = 0
    late: int = 0
    events_stored: int = 0
    points_written: int = 0
    write_errors: int = 0
    sink_errors: int = 0
    # Events the database refused, set aside as dead letters (hub/ingest/quarantine.py).
    quarantined: int = 0
    paused: int = 0
    # Messages dropped because their device was flooding (protocol.ratelimit).
    throttled: int = 0
    # Messages of homes another worker owns (docs/adr/0147), acknowledged and kept aside.
    not_owned: int = 0
    # Ingest latency in ms (device ts -> stored), the last N samples.
    latencies_ms: list[float] = field(default_factory=list)
    max_latency_samples: int = 200_000

    def record_latencies(self, values: list[float]) -> None:
        """Keep the newest latency samples (bounded)."""
        self.latencies_ms.extend(values)
        excess = len(self.latencies_ms) - self.max_latency_samples
        if excess > 0:
            del self.latencies_ms[:excess]

    def percentile_ms(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) of the recorded latencies."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "received": self.received,
            "accepted": dict(self.accepted),
            "rejected": dict(self.rejected),
            "duplicates": self.duplicates,
            "gaps": self.gaps,
            "missing": self.missing,
            "late": self.late,
            "events_stored": self.events_stored,
            "points_written": self.points_written,
            "write_errors": self.write_errors,
            "sink_errors": self.sink_errors,
            "events_quarantined": self.quarantined,
            "paused": self.paused,
            "throttled": self.throttled,
            "not_owned": self.not_owned,
            "p99_ingest_ms": self.percentile_ms(0.99),
        }


class RejectLog:
    """Logs the first reject of each reason, then at most one summary line per interval."""

    def __init__(self, interval_s: float = 30.0, logger: logging.Logger = _LOGGER) -> None:
        self.interval_s = interval_s
        self.logger = logger
        self._last = 0.0
        self._since: Counter[str] = Counter()
        self._seen: set[str] = set()

    def reject(self, reason: RejectReason | str, topic: str, detail: str) -> None:
        """Note one rejected message (the payload is never logged: it may hold health data)."""
        now = time.monotonic()
        code = str(reason)
        self._since[code] += 1
        if code not in self._seen:
            self._seen.add(code)
            self.logger.warning("rejected a message on %s: %s (%s)", topic, code, detail[:200])
        if now - self._last >= self.interval_s:
            if self._last:
                self.logger.warning(
                    "rejected messages in the last %.0fs: %s", now - self._last, dict(self._since)
                )
            self._last = now
            self._since.clear()
