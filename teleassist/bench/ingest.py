"""``teleassist bench ingest``: hub ingestion throughput against a bare paho subscriber.

Starts a private Mosquitto on a free port, registers a fleet of ``--homes`` homes ×
``--devices`` devices in a fresh database, and runs the same publisher (a separate process,
``--messages`` contract messages over every device's own topic: telemetry at ``--qos``,
one message in ``--event-every`` an event at QoS 1) twice: first to a bare paho subscriber
(``json.loads`` per message: the baseline), then to the hub's ingestion pipeline (decode,
checks, de-duplication, time-series batches, events committed before the acknowledgement).

Last line: JSON with ``hub_msgs_per_s``, ``baseline_msgs_per_s``, ``ratio``, ``lost``
(published but not stored), ``events_lost``, ``duplicates_dropped``, ``p99_ingest_ms``
(device timestamp → stored), ``rss_mb`` and the store used. ``--store``: ``sqlite``
(relational + time series in SQLite, the default), ``postgres`` (relational store on the
local PostgreSQL, time series in SQLite), ``victoriametrics`` (time series in a private
VictoriaMetrics, relational in SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from protocol.ratelimit import RateLimit
from teleassist.config import Config, MqttSettings
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config

NAME = "ingest"
_NEVER_REACHED = RateLimit(per_s=1e9, burst=10**9)
HELP = "hub MQTT ingestion throughput vs a bare paho subscriber (fleet of N homes)"

DEVICE_TYPES = ("gateway", "motion", "motion", "contact", "bed", "pendant", "thermometer", "plug")
EVENT_FOR_TYPE = {
    "motion": '{"type":"motion"}',
    "contact": '{"type":"door_close"}',
    "bed": '{"type":"bed_return"}',
    "pendant": '{"type":"check_in","source":"button"}',
}
TELEMETRY_FOR_TYPE = {
    "thermometer": ("temperature", "Cel"),
    "plug": ("power", "W"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=8, help="devices per home (max 8)")
    parser.add_argument("--messages", type=int, default=300_000, help="messages per run")
    parser.add_argument("--qos", type=int, default=0, choices=[0, 1], help="telemetry QoS")
    parser.add_argument("--event-every", type=int, default=50, help="one event every N messages")
    parser.add_argument("--publishers", type=int, default=2, help="publisher connections")
    parser.add_argument(
        "--store", default="sqlite", choices=["sqlite", "postgres", "victoriametrics"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds (bare subscriber, then hub, on the same broker and"
        " publishers); the figures are their medians, with min and max",
    )


def device_ids(homes: int, per_home: int) -> list[tuple[str, str, int]]:
    """``(device id, type, home number)`` for the fleet."""
    return [
        (f"b{h:05d}-{i}", DEVICE_TYPES[i], h)
        for h in range(1, homes + 1)
        for i in range(min(per_home, len(DEVICE_TYPES)))
    ]


def _publish(
    port: int,
    fleet: list[tuple[str, str, int]],
    count: int,
    worker: int,
    workers: int,
    qos: int,
    event_every: int,
    start_at: float,
) -> None:
    """Publisher process: ``count`` messages, this worker's share, as fast as paho goes."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{worker}-{secrets.token_hex(3)}"
    )
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    while time.time() < start_at:
        time.sleep(0.01)
    run = secrets.token_hex(4)
    n = len(fleet)
    infos = []
    for i in range(worker, count, workers):
        device_id, kind, _ = fleet[i % n]
        seq = i // n
        ts = datetime.now(UTC).isoformat()
        event = EVENT_FOR_TYPE.get(kind)
        if event is not None and i % event_every == 0:
            body, channel, q = event, "event", 1
        else:
            what, unit = TELEMETRY_FOR_TYPE.get(kind, ("battery", "%"))
            body = f'{{"kind":"{what}","value":{20 + i % 7}.5,"unit":"{unit}"}}'
            channel, q = "telemetry", qos
        payload = f'{{"v":1,"id":"{run}{i:09d}","ts":"{ts}","seq":{seq},"body":{body}}}'
        info = client.publish(f"ta/v1/d/{device_id}/{channel}", payload.encode(), qos=q)
        if q:
            infos.append(info)
        if len(infos) > 500:
            infos.pop(0).wait_for_publish(timeout=60)
    for info in infos:
        info.wait_for_publish(timeout=60)
    # QoS 0 messages are only queued: wait until paho has written everything.
    while client.want_write():
        time.sleep(0.01)
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


@contextlib.contextmanager
def _publishers(
    port: int, fleet: list[tuple[str, str, int]], args: argparse.Namespace
) -> Iterator[float]:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    procs = [
        ctx.Process(
            target=_publish,
            args=(
                port,
                fleet,
                args.messages,
                w,
                args.publishers,
                args.qos,
                args.event_every,
                start_at,
            ),
            daemon=True,
        )
        for w in range(args.publishers)
    ]
    for p in procs:
        p.start()
    try:
        yield start_at
    finally:
        for p in procs:
            p.join(timeout=300)
            if p.is_alive():
                p.kill()


def count_events(fleet: list[tuple[str, str, int]], args: argparse.Namespace) -> int:
    """How many of the published messages are events."""
    n = len(fleet)
    return sum(
        1 for i in range(0, args.messages, args.event_every) if fleet[i % n][1] in EVENT_FOR_TYPE
    )


def run_baseline(
    port: int, fleet: list[tuple[str, str, int]], args: argparse.Namespace
) -> dict[str, float]:
    """A bare paho subscriber: ``loop_forever`` and ``json.loads`` per message."""
    state: dict[str, float] = {"n": 0, "first": 0.0, "last": 0.0}
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-base-{secrets.token_hex(3)}"
    )

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        json.loads(msg.payload)
        now = time.monotonic()
        if not state["n"]:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= args.messages:
            client.disconnect()

    subscribed = []
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.append(1)
    client.on_connect = lambda c, *a: c.subscribe("$share/base/ta/v1/d/+/+", qos=1)
    client.connect("127.0.0.1", port, 60)
    while not subscribed:
        client.loop(0.1)
    with _publishers(port, fleet, args):
        deadline = time.monotonic() + 600
        idle_since = time.monotonic()
        seen = 0
        while state["n"] < args.messages and time.monotonic() < deadline:
            client.loop(0.5)
            if state["n"] != seen:
                seen, idle_since = int(state["n"]), time.monotonic()
            elif state["n"] and time.monotonic() - idle_since > 10:
                break
    with contextlib.suppress(Exception):
        client.disconnect()
    span = max(state["last"] - state["first"], 1e-9)
    return {"received": state["n"], "msgs_per_s": state["n"] / span}


async def run_hub(
    port: int, fleet: list[tuple[str, str, int]], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """The hub's ingestion pipeline on the chosen store."""
    from sqlalchemy import func, insert, select

    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.db.models import Device, Home, StoredEvent
    from hub.ingest.ingester import IngestConfig, Ingester
    from hub.ingest.mqtt import LoopMqttClient
    from hub.ingest.registry import DeviceRegistry
    from hub.timeseries import SqliteTimeSeries, TimeSeriesStore, VictoriaMetricsTimeSeries
    from protocol import device_subscription, shared_subscription

    stack = contextlib.ExitStack()
    pg_name = None
    if args.store == "postgres":
        import asyncpg

        pg_name = f"ta_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await conn.execute(f"CREATE DATABASE {pg_name}")
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    else:
        url = f"sqlite+aiosqlite:///{work / 'hub.sqlite'}"
    store: TimeSeriesStore
    if args.store == "victoriametrics":
        from hub.timeseries.local import running_victoria_metrics

        vm = stack.enter_context(running_victoria_metrics(work / "vm"))
        store = VictoriaMetricsTimeSeries(vm.url)
    else:
        store = SqliteTimeSeries(work / "timeseries.sqlite")
    try:
        await upgrade_to_head(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        homes = sorted({h for _, _, h in fleet})
        async with sessions() as session:
            await session.execute(
                insert(Home), [{"id": h, "address": f"Bench {h}", "abss_area": "B"} for h in homes]
            )
            await session.execute(
                insert(Device), [{"id": d, "home_id": h, "type": t} for d, t, h in fleet]
            )
            await session.commit()
        await store.start()
        ingester = Ingester(
            registry=DeviceRegistry(sessions),
            sessionmaker=sessions,
            timeseries=store,
            # Every bench device sends far faster than a real one (the whole fleet's
            # messages in seconds): the device rate limit is checked on every message as in
            # the hub, but set where it never drops (docs/adr/0116).
            config=IngestConfig(
                batch_size=5000,
                flush_interval_s=0.2,
                flood_events=_NEVER_REACHED,
                flood_telemetry=_NEVER_REACHED,
            ),
        )
        timing: dict[str, float] = {"first": 0.0, "last": 0.0}
        handle = ingester.handle
        stats = ingester.stats

        def on_message(msg: paho.MQTTMessage) -> None:
            if not stats.received:
                timing["first"] = time.monotonic()
            handle(msg.topic, bytes(msg.payload), msg.qos, msg.mid)
            timing["last"] = time.monotonic()

        client = LoopMqttClient(
            MqttSettings(host="127.0.0.1", port=port),
            client_id=f"bench-hub-{secrets.token_hex(3)}",
            subscriptions=[(shared_subscription("hub", device_subscription()), 1)],
            on_message=on_message,
            clean_session=True,
        )
        await ingester.start(client)
        await client.start()
        await client.subscribed.wait()
        events_expected = count_events(fleet, args)
        with _publishers(port, fleet, args):
            idle_since, seen = time.monotonic(), 0
            while stats.received < args.messages:
                await asyncio.sleep(0.2)
                if stats.received != seen:
                    seen, idle_since = stats.received, time.monotonic()
                elif seen and time.monotonic() - idle_since > 10:
                    break
            # Let the writers drain: everything received is stored or was refused.
            for _ in range(600):
                done = stats.points_written + stats.events_stored + sum(stats.rejected.values())
                if done >= stats.received:
                    break
                await asyncio.sleep(0.1)
        client.pause_reading()
        await ingester.stop()
        await client.close()
        async with sessions() as session:
            events_in_db = await session.scalar(select(func.count()).select_from(StoredEvent)) or 0
        await engine.dispose()
        await store.close()
    finally:
        stack.close()
        if pg_name:
            import asyncpg

            conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
            await conn.execute(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
            await conn.close()
    span = max(timing["last"] - timing["first"], 1e-9)
    stored = stats.points_written + stats.events_stored
    return {
        "received": stats.received,
        "msgs_per_s": stats.received / span,
        "stored": stored,
        "events_expected": events_expected,
        "events_in_db": events_in_db,
        "duplicates_dropped": stats.duplicates,
        "rejected": dict(stats.rejected),
        "p99_ingest_ms": stats.percentile_ms(0.99),
        "p50_ingest_ms": stats.percentile_ms(0.5),
        "paused": stats.paused,
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def run(args: argparse.Namespace, config: Config) -> int:
    """Rounds of the baseline then the hub, and print the figures (medians, min, max)."""
    fleet = device_ids(args.homes, args.devices)
    work = Path(tempfile.mkdtemp(prefix="ta-bench-ingest-"))
    port = free_port()
    conf = write_mosquitto_config(work, port, max_queued_messages=5_000_000)
    broker = MosquittoBroker(port, conf)
    broker.start()
    rounds: list[dict[str, Any]] = []
    try:
        print(
            f"fleet: {args.homes} homes x {min(args.devices, 8)} devices = {len(fleet)} devices;"
            f" {args.messages} messages per run, telemetry QoS {args.qos}, store {args.store},"
            f" {args.rounds} interleaved rounds"
        )
        for number in range(1, max(1, args.rounds) + 1):
            # Alternating on the same broker and publishers: whatever else loads the
            # machine during a round weighs on both sides of that round's ratio.
            base = run_baseline(port, fleet, args)
            round_dir = work / f"round-{number}"
            round_dir.mkdir()
            hub = asyncio.run(run_hub(port, fleet, args, round_dir))
            ratio = hub["msgs_per_s"] / max(base["msgs_per_s"], 1e-9)
            rounds.append({"base": base, "hub": hub, "ratio": ratio})
            print(
                f"round {number}: bare {base['msgs_per_s']:.0f} msgs/s"
                f" ({int(base['received'])} received), hub {hub['msgs_per_s']:.0f} msgs/s"
                f" ({hub['received']} received, {hub['stored']} stored, events"
                f" {hub['events_in_db']}/{hub['events_expected']}, p99"
                f" {hub['p99_ingest_ms'] or 0:.0f} ms), ratio {ratio:.3f}"
            )
    finally:
        broker.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hubs = [r["hub"]["msgs_per_s"] for r in rounds]
    bases = [r["base"]["msgs_per_s"] for r in rounds]
    ratios = [r["ratio"] for r in rounds]
    result = {
        "benchmark": NAME,
        "store": args.store,
        "homes": args.homes,
        "devices": len(fleet),
        "messages": args.messages,
        "qos": args.qos,
        "rounds": len(rounds),
        "hub_msgs_per_s": round(_median(hubs)),
        "hub_min": round(min(hubs)),
        "hub_max": round(max(hubs)),
        "baseline_msgs_per_s": round(_median(bases)),
        "baseline_min": round(min(bases)),
        "baseline_max": round(max(bases)),
        # The median of each round's own ratio (hub / the bare subscriber just before it).
        "ratio": round(_median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "lost": sum(args.messages - r["hub"]["stored"] for r in rounds),
        "events_lost": sum(r["hub"]["events_expected"] - r["hub"]["events_in_db"] for r in rounds),
        "duplicates_dropped": sum(r["hub"]["duplicates_dropped"] for r in rounds),
        "rejected": rounds[-1]["hub"]["rejected"],
        "p99_ingest_ms": round(_median([r["hub"]["p99_ingest_ms"] or 0.0 for r in rounds]), 1),
        "rss_mb": round(rss_mb, 1),
        "baseline_received": int(rounds[-1]["base"]["received"]),
    }
    print(json.dumps(result))
    return 0
