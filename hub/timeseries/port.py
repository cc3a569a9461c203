"""The time-series port: what the hub needs from a series store, whatever the adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol


class Point(NamedTuple):
    """One telemetry reading to store (a NamedTuple: cheap to build at ingest rates)."""

    device_id: str
    kind: str
    ts: datetime
    value: float
    home_id: int
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    """A stored value, or a bucket of them (``ts`` = bucket start) with min/max/count."""

    ts: datetime
    value: float
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class LastValue:
    """The newest reading of one series."""

    device_id: str
    kind: str
    ts: datetime
    value: float
    unit: str
    home_id: int


MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


class TimeSeriesStore(Protocol):
    """Port implemented by the SQLite, InfluxDB and VictoriaMetrics adapters."""

    async def start(self) -> None:
        """Open connections, create what is missing."""

    async def close(self) -> None:
        """Flush and release everything."""

    async def write(self, points: Sequence[Point]) -> None:
        """Store a batch of points (raise on failure: the caller keeps and retries them)."""

    async def query(
        self,
        device_id: str,
        kind: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
        limit: int = 10_000,
    ) -> list[Sample]:
        """Points of one series in ``[start, end)``, raw or averaged per ``bucket``."""
        ...

    async def last_values(self, device_ids: Sequence[str]) -> list[LastValue]:
        """The newest value of every series of ``device_ids``."""
        ...
