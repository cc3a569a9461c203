"""InfluxDB adapter: line protocol (checked by VictoriaMetrics) and Flux text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.timeseries import InfluxDbTimeSeries, Point
from hub.timeseries.influxdb import last_flux, series_flux
from hub.timeseries.line import escape_tag, to_line
from hub.timeseries.local import VictoriaMetricsProcess
from hub.timeseries.victoriametrics import VictoriaMetricsTimeSeries

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def test_line_protocol_escapes_tags() -> None:
    line = to_line(Point("h1-temp", "temperature", T0, 21.5, 4, "deg C,x=1"))
    assert line == (
        "tel,device=h1-temp,kind=temperature,home=4,unit=deg\\ C\\,x\\=1 value=21.5 "
        f"{int(T0.timestamp() * 1000)}"
    )
    assert escape_tag("") == "-"


def test_flux_queries() -> None:
    flux = series_flux("b", 'x"y', "temperature", T0, T0 + timedelta(hours=1), None, 10)
    assert 'r.device == "x\\"y"' in flux
    assert "range(start: 2026-11-03T09:00:00.000000Z, stop: 2026-11-03T10:00:00.000000Z)" in flux
    bucketed = series_flux("b", "d", "k", T0, T0, timedelta(minutes=1), 10)
    assert bucketed.count("aggregateWindow(every: 60s") == 4
    assert "pivot(" in bucketed
    last = last_flux("b", ["a", "b"], timedelta(days=1), T0)
    assert 'contains(value: r.device, set: ["a", "b"])' in last
    # The window ends at the hub's now (stop is exclusive: a value stamped now is in it).
    assert "range(start: 2026-11-02T09:00:00.000000Z, stop: 2026-11-03T09:00:00.000001Z)" in last


async def test_influx_writer_lands_in_victoria_metrics(
    victoria_metrics: VictoriaMetricsProcess,
) -> None:
    influx = InfluxDbTimeSeries(victoria_metrics.url, token="t", org="o", bucket="b")
    reader = VictoriaMetricsTimeSeries(victoria_metrics.url)
    await influx.start()
    await reader.start()
    try:
        await influx.write([Point("influx-dev", "humidity", T0, 55.0, 1, "%")])
        await reader.flush()
        got = await reader.query("influx-dev", "humidity", T0, T0 + timedelta(seconds=1))
        assert [(s.ts, s.value) for s in got] == [(T0, 55.0)]
    finally:
        await influx.close()
        await reader.close()
