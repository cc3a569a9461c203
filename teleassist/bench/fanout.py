"""``teleassist bench fanout``: an alarm raised on one hub worker → seen on the others.

Starts a private Mosquitto, a fresh PostgreSQL database on the local server and
``--workers`` real hub processes (``teleassist.workers``). Only the first worker ingests,
so every alarm is raised there; each worker has one operator socket open. For each of
``--alarms`` panic presses (distinct homes, ``--rate`` per second) it measures, on one
clock (every socket lives in this process), the time from the ``alarm.raised`` frame on
the raising worker's own socket to the same frame on each other worker's socket: the
cost of the cross-worker path (commit → NOTIFY → listener → row read → socket); below
zero when the other worker's socket had it first (both start at the commit). The
publish → own-socket time is printed beside it for scale.

Last line: JSON with ``workers``, ``alarms_sent``, ``seen_everywhere``,
``fanout_p50_ms``, ``fanout_p99_ms``, ``fanout_max_ms``, ``local_p50_ms``,
``local_p99_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from teleassist.bench.alarm_latency import _percentile, _press, _seed
from teleassist.config import Config
from teleassist.localbroker import running_mosquitto
from teleassist.workers import HubWorker, cluster_env

NAME = "fanout"
HELP = "alarm raised on one hub worker → seen on another worker's operator socket (PostgreSQL)"

PASSWORD = secrets.token_urlsafe(12)
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "postgres"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--workers", type=int, default=2, help="hub workers (at least 2)")
    parser.add_argument("--alarms", type=int, default=100, help="panic presses (distinct homes)")
    parser.add_argument("--rate", type=float, default=5.0, help="panics per second")
    parser.add_argument("--timeout", type=float, default=60.0)


async def _operator(url: str) -> None:
    from hub.auth import Role, create_user
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await create_user(session, "bench-operator", PASSWORD, Role.OPERATOR)
            await session.commit()
    finally:
        await engine.dispose()


class _Sockets:
    """One operator socket per worker, recording when each alarm's raise reaches it."""

    def __init__(self, count: int) -> None:
        self.seen: dict[str, dict[int, float]] = defaultdict(dict)
        self.count = count
        self.complete = asyncio.Event()
        self.wanted = 0

    async def read(self, index: int, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                return
            at = time.monotonic()
            data = json.loads(message.data)
            if data.get("type") != "alarm.raised":
                continue
            seen = self.seen[data["alarm"]["home_id"]]
            seen.setdefault(index, at)
            everywhere = sum(1 for s in self.seen.values() if len(s) == self.count)
            if self.wanted and everywhere >= self.wanted:
                self.complete.set()


async def _drive(
    args: argparse.Namespace, workers: list[HubWorker], broker_port: int
) -> dict[str, Any]:
    sockets = _Sockets(len(workers))
    sent_at: dict[str, float] = {}
    pendant = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fan-{secrets.token_hex(3)}")
    pendant.connect("127.0.0.1", broker_port)
    pendant.loop_start()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{workers[0].url}/api/auth/login",
            json={"username": "bench-operator", "password": PASSWORD},
        ) as response:
            response.raise_for_status()
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        opened = [
            await http.ws_connect(f"{w.url}/api/alarms/live", headers=headers, heartbeat=20)
            for w in workers
        ]
        readers = [asyncio.create_task(sockets.read(i, socket)) for i, socket in enumerate(opened)]
        try:
            sockets.wanted = args.alarms
            for home in range(1, args.alarms + 1):
                sent_at[str(home)] = time.monotonic()
                _press(pendant, home)
                await asyncio.sleep(1.0 / args.rate)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.timeout):
                    await sockets.complete.wait()
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for socket in opened:
                await socket.close()
            pendant.loop_stop()
            pendant.disconnect()
    fanout: list[float] = []
    local: list[float] = []
    everywhere = 0
    for pressed, sent in sent_at.items():
        seen = sockets.seen.get(pressed, {})
        if 0 in seen:
            local.append((seen[0] - sent) * 1000)
            fanout += [(at - seen[0]) * 1000 for index, at in seen.items() if index != 0]
        everywhere += len(seen) == len(workers)
    return {
        "benchmark": NAME,
        "workers": len(workers),
        "alarms_sent": len(sent_at),
        "seen_everywhere": everywhere,
        "fanout_p50_ms": _percentile(fanout, 50),
        "fanout_p99_ms": _percentile(fanout, 99),
        "fanout_max_ms": round(max(fanout), 1) if fanout else None,
        "local_p50_ms": _percentile(local, 50),
        "local_p99_ms": _percentile(local, 99),
    }


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    name = f"ta_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(**PG_ADMIN)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await _seed(url, args.alarms + 1)
        await _operator(url)
        with running_mosquitto(work) as broker:
            env = cluster_env(url, broker.port, TELEASSIST_LOG_LEVEL="WARNING")
            workers = [HubWorker(f"w{i}", env, work, ingest=i == 0) for i in range(args.workers)]
            try:
                with ThreadPoolExecutor(len(workers)) as pool:
                    for started in [pool.submit(w.start) for w in workers]:
                        await asyncio.wrap_future(started)
                return await _drive(args, workers, broker.port)
            finally:
                for worker in workers:
                    await asyncio.to_thread(worker.stop)
    finally:
        admin = await asyncpg.connect(**PG_ADMIN)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    if args.workers < 2:
        raise SystemExit("--workers must be at least 2")
    with tempfile.TemporaryDirectory(prefix="ta-bench-fanout-") as tmp:
        data = asyncio.run(_measure(args, Path(tmp)))
    print(
        f"{data['workers']} workers: {data['seen_everywhere']}/{data['alarms_sent']} alarms on"
        f" every worker's socket; fan-out (raising worker's socket → another worker's)"
        f" p50 {data['fanout_p50_ms']} ms, p99 {data['fanout_p99_ms']} ms,"
        f" max {data['fanout_max_ms']} ms; publish → raising worker's socket"
        f" p50 {data['local_p50_ms']} ms, p99 {data['local_p99_ms']} ms"
    )
    print(json.dumps(data))
    return 0
