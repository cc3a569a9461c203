"""Embedded time-series store: its own SQLite file, WAL, batched ``executemany``.

Raw samples are kept for ``raw_retention``; :meth:`SqliteTimeSeries.maintain` rolls complete
hours up into ``rollup_1h`` (mean/min/max/count, kept for ``rollup_retention``) and deletes
raw rows past their retention. Queries with a bucket of an hour or more read the rollups
for the part of the range the raw table no longer holds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hub.files import touch_private_file
from hub.timeseries.port import LastValue, Point, Sample

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_samples_series_ts ON samples (device_id, kind, ts);
CREATE TABLE IF NOT EXISTS latest (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    unit TEXT NOT NULL, home_id INTEGER NOT NULL, PRIMARY KEY (device_id, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL, mean REAL NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (device_id, kind, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_UPSERT_LATEST = """
INSERT INTO latest (device_id, kind, ts, value, unit, home_id) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id, kind) DO UPDATE SET
    ts = excluded.ts, value = excluded.value, unit = excluded.unit, home_id = excluded.home_id
WHERE excluded.ts >= latest.ts
"""

HOUR_MS = 3_600_000


def to_ms(ts: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC)


class SqliteTimeSeries:
    """The default :class:`~hub.timeseries.port.TimeSeriesStore` (one file, one writer)."""

    def __init__(
        self,
        path: str | Path,
        *,
        raw_retention: timedelta = timedelta(days=30),
        rollup_retention: timedelta = timedelta(days=5 * 366),
    ) -> None:
        self.path = Path(path)
        self.raw_retention = raw_retention
        self.rollup_retention = rollup_retention
        # One thread per connection: sqlite3 objects stay on the thread that uses them.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ts-write")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="ts-read")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None

    async def _on(self, pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _open_writer(self) -> None:
        touch_private_file(self.path)  # owner-only, like the hub's database (hub/files.py)
        self._wconn = self._connect()
        self._wconn.executescript(_SCHEMA)

    def _open_reader(self) -> None:
        self._rconn = self._connect()

    async def start(self) -> None:
        """Create the file and tables, open the writer and reader connections."""
        await self._on(self._writer, self._open_writer)
        await self._on(self._reader, self._open_reader)

    async def close(self) -> None:
        """Close both connections and their threads."""
        for pool, attr in ((self._writer, "_wconn"), (self._reader, "_rconn")):
            conn = getattr(self, attr)
            if conn is not None:
                await self._on(pool, conn.close)
                setattr(self, attr, None)
            pool.shutdown(wait=True)

    def _write(self, points: Sequence[Point]) -> None:
        conn = self._wconn
        if conn is None:
            raise RuntimeError("time-series store is not started")
        rows = [(p.device_id, p.kind, to_ms(p.ts), p.value) for p in points]
        latest: dict[tuple[str, str], tuple[str, str, int, float, str, int]] = {}
        for p, row in zip(points, rows, strict=True):
            key = (p.device_id, p.kind)
            known = latest.get(key)
            if known is None or row[2] >= known[2]:
                latest[key] = (p.device_id, p.kind, row[2], p.value, p.unit, p.home_id)
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)", rows)
            conn.executemany(_UPSERT_LATEST, list(latest.values()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def write(self, points: Sequence[Point]) -> None:
        """Insert ``points`` in one transaction."""
        if points:
            await self._on(self._writer, self._write, points)

    def _query(
        self, device_id: str, kind: str, start: int, end: int, bucket: int | None, limit: int
    ) -> list[Sample]:
        conn = self._rconn
        if conn is None:
            raise RuntimeError("time-series store is not started")
        if bucket is None:
            rows = conn.execute(
                "SELECT ts, value FROM samples WHERE device_id = ? AND kind = ?"
                " AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
                (device_id, kind, start, end, limit),
            ).fetchall()
            return [Sample(from_ms(ts), v, v, v, 1) for ts, v in rows]
        buckets: dict[int, Sample] = {}
        if bucket >= HOUR_MS and bucket % HOUR_MS == 0:
            # Hours no longer held raw come from the rollups.
            for ts, mean, lo, hi, count in conn.execute(
                "SELECT ts, mean, min, max, count FROM rollup_1h WHERE device_id = ?"
                " AND kind = ? AND ts >= ? AND ts < ?",
                (device_id, kind, start, end),
            ):
                b = ts - ts % bucket
                buckets[b] = _merge(buckets.get(b), from_ms(b), mean, lo, hi, count)
        raw_from = self._raw_start(conn)
        for b, mean, lo, hi, count in conn.execute(
            "SELECT ts - ts % ?, avg(value), min(value), max(value), count(*) FROM samples"
            " WHERE device_id = ? AND kind = ? AND ts >= ? AND ts < ? GROUP BY 1",
            (bucket, device_id, kind, max(start, raw_from), end),
        ):
            if b in buckets and bucket >= HOUR_MS:
                # The rollup and the raw rows overlap on the boundary hour: merge counts.
                buckets[b] = _merge(buckets[b], from_ms(b), mean, lo, hi, count)
            else:
                buckets[b] = Sample(from_ms(b), mean, lo, hi, count)
        return [buckets[k] for k in sorted(buckets)][:limit]

    @staticmethod
    def _raw_start(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'rolled_up_to'").fetchone()
        return int(row[0]) if row else 0

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
        result: list[Sample] = await self._on(
            self._reader, self._query, device_id, kind, to_ms(start), to_ms(end), size, limit
        )
        return result

    def _last(self, device_ids: Sequence[str]) -> list[LastValue]:
        conn = self._rconn
        if conn is None:
            raise RuntimeError("time-series store is not started")
        out: list[LastValue] = []
        ids = list(device_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT device_id, kind, ts, value, unit, home_id FROM latest"  # noqa: S608
                f" WHERE device_id IN ({marks}) ORDER BY device_id, kind",
                chunk,
            ).fetchall()
            out.extend(LastValue(d, k, from_ms(ts), v, u, h) for d, k, ts, v, u, h in rows)
        return out

    async def last_values(self, device_ids: Sequence[str]) -> list[LastValue]:
        """Newest value per series of each device."""
        result: list[LastValue] = await self._on(self._reader, self._last, device_ids)
        return result

    def _maintain(self, now_ms: int) -> tuple[int, int]:
        conn = self._wconn
        if conn is None:
            raise RuntimeError("time-series store is not started")
        raw_cutoff = now_ms - int(self.raw_retention.total_seconds() * 1000)
        raw_cutoff -= raw_cutoff % HOUR_MS
        done = self._raw_start(conn)
        conn.execute("BEGIN")
        try:
            rolled = 0
            if raw_cutoff > done:
                cur = conn.execute(
                    "INSERT OR REPLACE INTO rollup_1h SELECT device_id, kind, ts - ts % ?,"
                    " avg(value), min(value), max(value), count(*) FROM samples"
                    " WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3",
                    (HOUR_MS, done, raw_cutoff),
                )
                rolled = cur.rowcount
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('rolled_up_to', ?)", (raw_cutoff,)
                )
            deleted = conn.execute("DELETE FROM samples WHERE ts < ?", (raw_cutoff,)).rowcount
            rollup_cutoff = now_ms - int(self.rollup_retention.total_seconds() * 1000)
            conn.execute("DELETE FROM rollup_1h WHERE ts < ?", (rollup_cutoff,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return rolled, deleted

    async def maintain(self, now: datetime) -> tuple[int, int]:
        """Roll up and delete raw data past retention; return (hours rolled, rows deleted)."""
        result: tuple[int, int] = await self._on(self._writer, self._maintain, to_ms(now))
        return result


def _merge(
    old: Sample | None, ts: datetime, mean: float, lo: float, hi: float, count: int
) -> Sample:
    if old is None:
        return Sample(ts, mean, lo, hi, count)
    total = old.count + count
    return Sample(
        ts,
        (old.value * old.count + mean * count) / total,
        min(old.min, lo),
        max(old.max, hi),
        total,
    )
