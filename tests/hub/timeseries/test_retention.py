"""Retention in production is VictoriaMetrics' ``-retentionPeriod`` as docker-compose.yml sets
it: a server started with that flag (a short period) keeps what is inside it and refuses what
is older, read back through the hub's adapter."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
import yaml

from hub.timeseries import HOUR, Point, VictoriaMetricsTimeSeries
from hub.timeseries.local import running_victoria_metrics

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"


def test_compose_sets_the_retention_from_the_environment() -> None:
    spec = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    command = spec["services"]["victoriametrics"]["command"]
    flags = [c for c in command if c.startswith("-retentionPeriod=")]
    assert flags == ["-retentionPeriod=${TIMESERIES_RETENTION:-400d}"]
    assert re.fullmatch(r"\d+d", flags[0].split(":-")[1].rstrip("}"))


async def _server_now(url: str) -> datetime:
    """VictoriaMetrics' own clock (its answers' Date header). It judges a sample's age by it,
    and it is not the test's: under scripts/test's faketime runs the test's clock is moved and
    the Go binary's is not."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as response:
        return parsedate_to_datetime(response.headers["Date"])


async def test_samples_older_than_the_retention_are_not_kept(tmp_path: Path) -> None:
    with running_victoria_metrics(tmp_path, retention="2d") as vm:
        now = await _server_now(vm.url)
        recent, old = now - HOUR, now - timedelta(days=5)
        store = VictoriaMetricsTimeSeries(vm.url, clock=lambda: now)
        await store.start()
        try:
            await store.write(
                [
                    Point("kept", "temperature", recent, 21.5, 1, "Cel"),
                    Point("expired", "temperature", old, 19.0, 1, "Cel"),
                ]
            )
            await store.flush()
            kept = await store.query("kept", "temperature", recent, now)
            expired = await store.query("expired", "temperature", old, now)
            last = await store.last_values(["kept", "expired"])
        finally:
            await store.close()
    assert [(s.ts, s.value) for s in kept] == [(recent, 21.5)]
    assert expired == []
    assert [v.device_id for v in last] == ["kept"]
