"""``teleassist bench connections``: how many gateway connections one machine holds.

Starts a private Mosquitto (``max_connections -1``, open-files limit raised to the hard
limit by this process, which the broker inherits), opens ``--connections`` idle gateway
connections with the fleet generator's light client (one TCP connection each, with a
retained Last Will, as a real gateway), holds them, and reports connect time and memory
per connection on both sides. Baseline in the same run: ``--baseline`` connections made
with aiomqtt (the full client the device agent uses), for the memory ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

from teleassist.config import Config

NAME = "connections"
HELP = "concurrent gateway connections to Mosquitto and memory per connection"

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold them open")
    parser.add_argument("--baseline", type=int, default=500, help="aiomqtt connections (0: skip)")
    parser.add_argument("--concurrency", type=int, default=500, help="connects in flight")


def _rss_kb(pid: int | None = None) -> int:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _lite(
    port: int, count: int, concurrency: int, hold: float, broker_pid: int
) -> dict[str, float]:
    from firmware_sim.mqttlite import LiteClient, MqttLiteError, Will, open_client

    gate = asyncio.Semaphore(concurrency)
    clients: list[LiteClient] = []
    errors: list[str] = []

    async def one(i: int) -> None:
        gateway = f"bench-h{i:05d}-gw"
        will = Will(f"ta/v1/d/{gateway}/status", b'{"state":"offline"}')
        async with gate:
            try:
                clients.append(
                    await open_client("127.0.0.1", port, gateway, keepalive=60, will=will)
                )
            except (OSError, MqttLiteError, TimeoutError) as err:
                errors.append(str(err))

    async def pinger() -> None:
        # Keep early connections alive while the later ones are still connecting.
        while True:
            await asyncio.sleep(20)
            for client in list(clients):
                client.ping()

    before, broker_before = _rss_kb(), _rss_kb(broker_pid)
    keepalive = asyncio.create_task(pinger())
    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    connect_s = time.monotonic() - started
    after = _rss_kb()
    await asyncio.sleep(hold)
    alive = sum(1 for c in clients if c.connected)
    broker_after = _rss_kb(broker_pid)
    keepalive.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keepalive
    for client in clients:
        client.disconnect()
    await asyncio.sleep(0.5)
    if errors:
        _LOGGER.warning("%d connection(s) failed, first: %s", len(errors), errors[0])
    return {
        "connected": len(clients),
        "alive_after_hold": alive,
        "failed": len(errors),
        "connect_s": connect_s,
        "client_kb_per_conn": (after - before) / max(1, len(clients)),
        "broker_kb_per_conn": (broker_after - broker_before) / max(1, len(clients)),
        "broker_rss_mb": broker_after / 1024,
    }


async def _aiomqtt(port: int, count: int) -> float:
    import aiomqtt

    before = _rss_kb()
    async with contextlib.AsyncExitStack() as stack:
        for i in range(count):
            await stack.enter_async_context(
                aiomqtt.Client("127.0.0.1", port, identifier=f"bench-base-{i}")
            )
        after = _rss_kb()
    return (after - before) / max(1, count)


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the benchmark and print its figures; last line JSON."""
    from firmware_sim.fleet import raise_open_files_limit
    from teleassist.localbroker import running_mosquitto

    limit = raise_open_files_limit()
    print(f"open files limit: {limit} (broker and client each need one per connection)")
    with (
        tempfile.TemporaryDirectory(prefix="ta-bench-conn-") as tmp,
        running_mosquitto(Path(tmp), extra="max_connections -1\n") as broker,
    ):
        assert broker.process is not None
        # Baseline first: after the big run, freed memory would make it meaningless.
        baseline = asyncio.run(_aiomqtt(broker.port, args.baseline)) if args.baseline else 0.0
        lite = asyncio.run(
            _lite(broker.port, args.connections, args.concurrency, args.hold, broker.process.pid)
        )
    broker_kb = lite["broker_kb_per_conn"]
    print(
        f"lite client: {lite['connected']:.0f}/{args.connections} connected in"
        f" {lite['connect_s']:.1f} s ({lite['connected'] / max(lite['connect_s'], 1e-9):.0f}/s),"
        f" {lite['alive_after_hold']:.0f} alive after {args.hold:.0f} s"
    )
    print(
        f"memory per connection: client {lite['client_kb_per_conn']:.1f} KiB,"
        f" Mosquitto {broker_kb:.1f} KiB"
    )
    if args.baseline:
        print(f"aiomqtt baseline ({args.baseline} connections): {baseline:.1f} KiB per connection")
    result = {
        "name": NAME,
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "target": args.connections,
        "connected": int(lite["connected"]),
        "alive_after_hold": int(lite["alive_after_hold"]),
        "failed": int(lite["failed"]),
        "connect_s": round(lite["connect_s"], 2),
        "connections_per_s": round(lite["connected"] / max(lite["connect_s"], 1e-9), 1),
        "client_kb_per_conn": round(lite["client_kb_per_conn"], 2),
        "broker_kb_per_conn": round(float(broker_kb), 2),
        "broker_rss_mb": round(lite["broker_rss_mb"], 1),
        "aiomqtt_kb_per_conn": round(baseline, 2),
        "memory_ratio_aiomqtt_over_lite": (
            round(baseline / lite["client_kb_per_conn"], 2)
            if args.baseline and lite["client_kb_per_conn"] > 0
            else None
        ),
        "nofile_limit": limit,
    }
    print(json.dumps(result))
    return 0 if lite["connected"] == args.connections else 1
