"""InfluxDB 2 adapter: line-protocol writes (shared writer) and Flux reads.

EXPERIMENTAL (production runs VictoriaMetrics): for a site that already has an InfluxDB 2.x/3.x
server. There is no InfluxDB server installable on our test machines, so the write path is
exercised against VictoriaMetrics (same ``/api/v2/write``) and the Flux queries are checked as
text (see tests/hub/timeseries/test_influxdb.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hub.clock import Clock, utc_now
from hub.timeseries.line import FIELD, MEASUREMENT, LineProtocolWriter
from hub.timeseries.port import LastValue, Point, Sample


def _flux_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Flux's range stop is exclusive: a value stamped exactly ``now`` is still in the window.
_JUST_AFTER = timedelta(microseconds=1)


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def series_flux(
    bucket: str,
    device_id: str,
    kind: str,
    start: datetime,
    end: datetime,
    every: timedelta | None,
    limit: int,
) -> str:
    """The Flux query for :meth:`InfluxDbTimeSeries.query`."""
    base = (
        f"from(bucket: {_flux_string(bucket)})"
        f" |> range(start: {_rfc3339(start)}, stop: {_rfc3339(end)})"
        f' |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "{FIELD}"'
        f" and r.device == {_flux_string(device_id)} and r.kind == {_flux_string(kind)})"
        " |> group()"
    )
    if every is None:
        return f'{base} |> sort(columns: ["_time"]) |> limit(n: {limit})'
    window = f"{int(every.total_seconds())}s"
    parts = []
    for fn in ("mean", "min", "max", "count"):
        parts.append(
            f"{fn} = {base} |> aggregateWindow(every: {window}, fn: {fn}, createEmpty: false,"
            f' timeSrc: "_start") |> set(key: "stat", value: "{fn}")'
        )
    joined = "union(tables: [mean, min, max, count])"
    return (
        "\n".join(parts)
        + f'\n{joined} |> pivot(rowKey: ["_time"], columnKey: ["stat"], valueColumn: "_value")'
        f' |> sort(columns: ["_time"]) |> limit(n: {limit})'
    )


def last_flux(bucket: str, device_ids: Sequence[str], lookback: timedelta, now: datetime) -> str:
    """The Flux query for :meth:`InfluxDbTimeSeries.last_values`: the window ending at the
    hub's ``now`` (not the database server's clock)."""
    devices = ", ".join(_flux_string(d) for d in device_ids)
    return (
        f"from(bucket: {_flux_string(bucket)})"
        f" |> range(start: {_rfc3339(now - lookback)}, stop: {_rfc3339(now + _JUST_AFTER)})"
        f' |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "{FIELD}"'
        f" and contains(value: r.device, set: [{devices}]))"
        " |> last()"
    )


class InfluxDbTimeSeries:
    """A :class:`~hub.timeseries.port.TimeSeriesStore` on InfluxDB 2 (token, org, bucket)."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        org: str,
        bucket: str,
        last_value_window: timedelta = timedelta(days=30),
        clock: Clock = utc_now,
    ) -> None:
        self.writer = LineProtocolWriter(url, token=token, org=org, bucket=bucket)
        self.clock = clock
        self.bucket = bucket
        self.last_value_window = last_value_window

    async def start(self) -> None:
        """Open the client."""
        await self.writer.start()

    async def close(self) -> None:
        """Close the client."""
        await self.writer.close()

    async def write(self, points: Sequence[Point]) -> None:
        """Write a batch (line protocol)."""
        await self.writer.write(points)

    async def query(
        self,
        device_id: str,
        kind: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
        limit: int = 10_000,
    ) -> list[Sample]:
        """Raw points, or ``bucket``-wide averages (with min, max, count), via Flux."""
        if bucket is not None and bucket <= timedelta(0):
            raise ValueError("bucket must be positive")
        client = self.writer.client
        if client is None:
            raise RuntimeError("time-series store is not started")
        flux = series_flux(self.bucket, device_id, kind, start, end, bucket, limit)
        tables = await client.query_api().query(flux)
        out: list[Sample] = []
        for table in tables:
            for rec in table.records:
                when = rec["_time"]
                if bucket is None:
                    v = float(rec["_value"])
                    out.append(Sample(when, v, v, v, 1))
                else:
                    out.append(
                        Sample(
                            when,
                            float(rec["mean"]),
                            float(rec["min"]),
                            float(rec["max"]),
                            int(rec["count"]),
                        )
                    )
        return out

    async def last_values(self, device_ids: Sequence[str]) -> list[LastValue]:
        """Newest value per series of each device, via Flux ``last()``."""
        client = self.writer.client
        if client is None:
            raise RuntimeError("time-series store is not started")
        if not device_ids:
            return []
        tables = await client.query_api().query(
            last_flux(self.bucket, device_ids, self.last_value_window, self.clock())
        )
        out = [
            LastValue(
                str(rec["device"]),
                str(rec["kind"]),
                rec["_time"],
                float(rec["_value"]),
                "" if rec.values.get("unit", "-") == "-" else str(rec["unit"]),
                int(rec.values.get("home", 0)),
            )
            for table in tables
            for rec in table.records
        ]
        out.sort(key=lambda v: (v.device_id, v.kind))
        return out
