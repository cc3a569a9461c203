"""``teleassist bench timeseries-disk``: bytes on disk per telemetry point in VictoriaMetrics.

Starts a private VictoriaMetrics (Debian ``victoria-metrics``), writes ``--devices`` devices ×
``--kinds`` kinds at one reading every ``--every-s`` seconds for ``--hours`` hours through the
hub's adapter (line protocol, the production path), with values that drift as room readings do
(a slow walk with 0.1 resolution), forces a flush and a merge, and measures the size of its
data folder. ``docs/deployment.md`` sizes a site's disk from the figure.

Last line: JSON with ``points``, ``series``, ``bytes``, ``bytes_per_point``, ``write_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from hub.timeseries import Point, VictoriaMetricsTimeSeries
from hub.timeseries.local import running_victoria_metrics
from teleassist.config import Config

NAME = "timeseries-disk"
HELP = "bytes on disk per telemetry point in VictoriaMetrics (for disk sizing)"

KINDS = ("temperature", "humidity", "power", "battery", "illuminance", "co2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Population and period."""
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--kinds", type=int, default=3, help=f"1-{len(KINDS)} kinds per device")
    parser.add_argument("--every-s", type=int, default=60, help="seconds between readings")
    parser.add_argument("--hours", type=int, default=48)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def _bench(args: argparse.Namespace, url: str, data: Path) -> dict[str, float]:
    # Recent enough for the server's retention window, whole hours for stable partitions.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=args.hours)
    rng = random.Random(7)
    store = VictoriaMetricsTimeSeries(url)
    await store.start()
    points = 0
    began = time.perf_counter()
    try:
        steps = args.hours * 3600 // args.every_s
        for device in range(args.devices):
            for kind in KINDS[: args.kinds]:
                value = rng.uniform(15, 25)
                batch = []
                for step in range(steps):
                    value = round(value + rng.choice((-0.1, 0.0, 0.0, 0.1)), 1)
                    ts = start + timedelta(seconds=step * args.every_s)
                    batch.append(Point(f"bench-{device}", kind, ts, value, device // 2, "u"))
                await store.write(batch)
                points += len(batch)
        write_s = time.perf_counter() - began
        await store.flush()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url}/internal/force_merge") as response,
        ):
            response.raise_for_status()
    finally:
        await store.close()
    # force_merge runs in the background: wait until the folder stops shrinking.
    size = _folder_bytes(data)
    for _ in range(60):
        await asyncio.sleep(1)
        now = _folder_bytes(data)
        if now == size:
            break
        size = now
    return {
        "points": points,
        "series": args.devices * args.kinds,
        "bytes": size,
        "bytes_per_point": round(size / points, 3),
        "write_s": round(write_s, 1),
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Write, flush, merge, measure; print the figures."""
    if args.devices < 1 or not 1 <= args.kinds <= len(KINDS) or args.every_s < 1:
        raise SystemExit("teleassist bench timeseries-disk: devices ≥ 1, kinds 1-6, every-s ≥ 1")
    if not 1 <= args.hours <= 24 * 31:
        raise SystemExit("teleassist bench timeseries-disk: hours 1-744")
    with tempfile.TemporaryDirectory() as tmp, running_victoria_metrics(Path(tmp)) as vm:
        figures = asyncio.run(_bench(args, vm.url, Path(tmp) / "data"))
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))
    return 0
