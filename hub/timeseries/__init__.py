"""Time series (telemetry): a small port and its adapters.

- :class:`SqliteTimeSeries` — the default, embedded, one file (``timeseries.sqlite``);
- :class:`VictoriaMetricsTimeSeries` — VictoriaMetrics (single node or cluster);
- :class:`InfluxDbTimeSeries` — InfluxDB 2 (Flux reads).

Both network adapters write pre-formatted line protocol through influxdb-client.
See docs/timeseries.md for which to pick.
"""

from hub.timeseries.influxdb import InfluxDbTimeSeries
from hub.timeseries.port import HOUR, MINUTE, LastValue, Point, Sample, TimeSeriesStore
from hub.timeseries.sqlite import SqliteTimeSeries
from hub.timeseries.victoriametrics import VictoriaMetricsTimeSeries

__all__ = [
    "HOUR",
    "MINUTE",
    "InfluxDbTimeSeries",
    "LastValue",
    "Point",
    "Sample",
    "SqliteTimeSeries",
    "TimeSeriesStore",
    "VictoriaMetricsTimeSeries",
]
