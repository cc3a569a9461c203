"""VictoriaMetrics adapter: line-protocol writes, reads through its own HTTP API.

Writes go to ``/api/v2/write`` (the InfluxDB-compatible endpoint, shared writer); raw points
come from ``/api/v1/export`` and are bucketed here, so bucket edges and statistics are exactly
those of the SQLite adapter; last values use MetricsQL ``last_over_time``/``tlast_over_time``
through ``/api/v1/query``. Retention and downsampling are VictoriaMetrics' own
(``-retentionPeriod``, and ``-downsampling.period`` in its enterprise edition).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from hub.clock import Clock, utc_now
from hub.timeseries.line import FIELD, MEASUREMENT, LineProtocolWriter
from hub.timeseries.port import LastValue, Point, Sample

METRIC = f"{MEASUREMENT}_{FIELD}"


def _quoted(value: str) -> str:
    """``value`` as a MetricsQL string literal: quotes, backslashes and control characters
    escaped (JSON's escapes are Go's), so a value can never end the literal. ``kind`` comes
    from a request's query string."""
    return json.dumps(value)


def _selector(device_ids: Sequence[str], kind: str | None = None) -> str:
    if len(device_ids) == 1:
        labels = f"device={_quoted(device_ids[0])}"
    else:
        # A regex of literal alternatives: each id's regex metacharacters escaped first.
        alternatives = "|".join(re.escape(d) for d in device_ids)
        labels = f"device=~{_quoted(alternatives)}"
    if kind is not None:
        labels += f",kind={_quoted(kind)}"
    return f"{METRIC}{{{labels}}}"


def bucketize(samples: Sequence[tuple[int, float]], bucket_ms: int, limit: int) -> list[Sample]:
    """Group ``(ms, value)`` pairs into buckets aligned on the epoch (mean, min, max, count)."""
    acc: dict[int, list[float]] = {}
    for ms, value in samples:
        b = ms - ms % bucket_ms
        cur = acc.get(b)
        if cur is None:
            acc[b] = [value, value, value, 1.0]
        else:
            cur[0] += value
            cur[1] = min(cur[1], value)
            cur[2] = max(cur[2], value)
            cur[3] += 1
    out = []
    for b in sorted(acc)[:limit]:
        total, lo, hi, count = acc[b]
        out.append(Sample(datetime.fromtimestamp(b / 1000, UTC), total / count, lo, hi, int(count)))
    return out


class VictoriaMetricsTimeSeries:
    """A :class:`~hub.timeseries.port.TimeSeriesStore` on VictoriaMetrics."""

    def __init__(
        self, url: str, *, last_value_window: timedelta = timedelta(days=30), clock: Clock = utc_now
    ) -> None:
        self.url = url.rstrip("/")
        # "Last values" are those of the window ending at the hub's now, not at the server's.
        self.clock = clock
        self.writer = LineProtocolWriter(self.url, token="", org="teleassist", bucket="teleassist")
        self.last_value_window = last_value_window
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the writer and the HTTP session for reads."""
        await self.writer.start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def close(self) -> None:
        """Close both clients."""
        await self.writer.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def write(self, points: Sequence[Point]) -> None:
        """Write a batch (line protocol)."""
        await self.writer.write(points)

    async def flush(self) -> None:
        """Make just-written samples searchable (tests; VictoriaMetrics buffers ~1 s)."""
        async with self._session().get(f"{self.url}/internal/force_flush") as resp:
            resp.raise_for_status()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("time-series store is not started")
        return self._http

    async def _export(
        self, selector: str, start: datetime, end: datetime
    ) -> list[tuple[int, float]]:
        params = {
            "match[]": selector,
            "start": f"{start.timestamp():.3f}",
            # export's end is inclusive; the port's range is half-open.
            "end": f"{end.timestamp() - 0.001:.3f}",
        }
        async with self._session().get(f"{self.url}/api/v1/export", params=params) as resp:
            resp.raise_for_status()
            text = await resp.text()
        pairs: list[tuple[int, float]] = []
        for line in text.splitlines():
            if line.strip():
                series: dict[str, Any] = json.loads(line)
                pairs.extend(zip(series["timestamps"], series["values"], strict=True))
        pairs.sort()
        return pairs

    async def query(
        self,
        device_id: str,
        kind: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
        limit: int = 10_000,
    ) -> list[Sample]:
        """Raw points, or ``bucket``-wide averages (with min, max, count)."""
        size = None if bucket is None else int(bucket.total_seconds() * 1000)
        if size is not None and size <= 0:
            raise ValueError("bucket must be positive")
        pairs = await self._export(_selector([device_id], kind), start, end)
        if size is None:
            return [
                Sample(datetime.fromtimestamp(ms / 1000, UTC), v, v, v, 1)
                for ms, v in pairs[:limit]
            ]
        return bucketize(pairs, size, limit)

    async def _instant(self, query: str) -> list[dict[str, Any]]:
        params = {"query": query, "time": f"{self.clock().timestamp():.3f}"}
        async with self._session().get(f"{self.url}/api/v1/query", params=params) as resp:
            resp.raise_for_status()
            body = await resp.json()
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def last_values(self, device_ids: Sequence[str]) -> list[LastValue]:
        """Newest value per series of each device (within ``last_value_window`` before the
        clock's now)."""
        if not device_ids:
            return []
        window = f"{int(self.last_value_window.total_seconds())}s"
        out: list[LastValue] = []
        for i in range(0, len(device_ids), 200):
            selector = _selector(device_ids[i : i + 200])
            values = await self._instant(f"last_over_time({selector}[{window}])")
            times = await self._instant(f"tlast_over_time({selector}[{window}])")
            when = {_key(r["metric"]): float(r["value"][1]) for r in times}
            for r in values:
                labels = r["metric"]
                ts = when.get(_key(labels))
                if ts is None:
                    continue
                out.append(
                    LastValue(
                        labels["device"],
                        labels["kind"],
                        datetime.fromtimestamp(ts, UTC),
                        float(r["value"][1]),
                        "" if labels.get("unit", "-") == "-" else labels["unit"],
                        int(labels.get("home", 0)),
                    )
                )
        out.sort(key=lambda v: (v.device_id, v.kind))
        return out


def _key(labels: dict[str, str]) -> tuple[str, str, str]:
    return labels.get("device", ""), labels.get("kind", ""), labels.get("unit", "")
