"""Time series (telemetry): a small port and its adapters.

- :class:`SqliteTimeSeries` — the default, embedded, one file (``timeseries.sqlite``).
"""

from hub.timeseries.port import HOUR, MINUTE, LastValue, Point, Sample, TimeSeriesStore
from hub.timeseries.sqlite import SqliteTimeSeries

__all__ = [
    "HOUR",
    "MINUTE",
    "LastValue",
    "Point",
    "Sample",
    "SqliteTimeSeries",
    "TimeSeriesStore",
]
