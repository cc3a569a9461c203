"""A VictoriaMetrics started once per session, and every adapter behind one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.timeseries import SqliteTimeSeries, TimeSeriesStore, VictoriaMetricsTimeSeries
from hub.timeseries.local import VictoriaMetricsProcess, running_victoria_metrics


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsProcess]:
    """A private VictoriaMetrics on a free port for the whole session."""
    with running_victoria_metrics(tmp_path_factory.mktemp("vm")) as vm:
        yield vm


# The stores' "now": two days after the contract test's fixed points, so they are inside the
# 30-day "last values" window that ends at the store's clock (not at the server's).
STORE_NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "victoriametrics"])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[TimeSeriesStore]:
    """Each adapter in turn (the InfluxDB one shares the VictoriaMetrics write path)."""
    store: TimeSeriesStore
    if request.param == "sqlite":
        store = SqliteTimeSeries(tmp_path / "ts.sqlite")
    else:
        store = VictoriaMetricsTimeSeries(
            request.getfixturevalue("victoria_metrics").url, clock=lambda: STORE_NOW
        )
    await store.start()
    yield store
    await store.close()


async def settle(store: TimeSeriesStore) -> None:
    """Make written points readable (VictoriaMetrics buffers for about a second)."""
    if isinstance(store, VictoriaMetricsTimeSeries):
        await store.flush()
