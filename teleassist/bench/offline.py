"""``teleassist bench offline-detection``: gateways that vanish without a Last Will.

A gateway whose power or line goes leaves no Will behind when it never set one (or its
broker cannot tell); only its silence says it is gone. Starts a private Mosquitto and a real
hub (``teleassist hub serve``) on a fresh database of ``--gateways`` homes with one gateway
each, supervised at ``--keepalive`` × 1.5 (``hub.supervision_intervals``, ``{"gateway": …}``):
each gateway heartbeats every ``--keepalive`` seconds, as an agent with ``heartbeat_s`` equal
to its MQTT keep-alive does (phases spread evenly over the period, from one publisher
thread). After every gateway has been heard, ``--vanish`` of them stop without a word; the
bench polls the devices table every 200 ms and times, per vanished gateway, its last
heartbeat → marked ``offline`` (what the console shows; the technical alarm follows).

Target: every one within keep-alive × 1.5 + 5 s (``target_s``), none of the others marked.
Last line: JSON with ``detect_p50_s``, ``detect_p99_s``, ``detect_max_s``, ``detected``,
``vanished``, ``false_offline``, ``target_s``, ``gateways``, ``keepalive_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from protocol import Channel, Status, device_topic, encode, envelope, new_message_id
from teleassist.bench import alarm_latency as latency
from teleassist.bench._seed import seed_homes
from teleassist.config import Config
from teleassist.localbroker import free_port, running_mosquitto, wait_for_port

NAME = "offline-detection"
HELP = "gateways vanishing without a Last Will → marked offline (N gateways, detect_p99_s)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--vanish", type=int, default=200, help="gateways that go silent")
    parser.add_argument("--keepalive", type=float, default=30.0, help="MQTT keep-alive (s)")
    parser.add_argument(
        "--check-s",
        type=float,
        default=2.0,
        help="the hub's supervision_check_s (5 s, the default, leaves no room under the target)",
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")


def gateway_id(home: int) -> str:
    """The bench gateway of home ``home``."""
    return f"g{home}-gw"


class _Heartbeats(threading.Thread):
    """Every gateway's heartbeat once per ``period`` (phases spread), from one thread."""

    def __init__(self, port: int, gateways: int, period: float) -> None:
        super().__init__(daemon=True, name="bench-heartbeats")
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"hb-{secrets.token_hex(3)}"
        )
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.gateways = gateways
        self.period = period
        self.silent: set[int] = set()
        self.last_sent: dict[int, float] = {}
        self.rounds = 0
        self.heard_twice = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        began = time.monotonic()
        sent = 0
        seq = 0
        while not self.stopping.is_set():
            due = int((time.monotonic() - began) / self.period * self.gateways) - sent
            for _ in range(max(0, due)):
                home = sent % self.gateways + 1
                sent += 1
                if home == self.gateways:
                    self.rounds += 1
                    if self.rounds >= 2:
                        self.heard_twice.set()
                with self.lock:
                    if home in self.silent:
                        continue
                    self.last_sent[home] = time.monotonic()
                seq += 1
                body = Status(state="online", reason="heartbeat")
                message = envelope(body, id=new_message_id(), ts=datetime.now(UTC), seq=seq)
                topic = device_topic(gateway_id(home), Channel.STATUS)
                self.client.publish(topic, encode(message), qos=0)
            time.sleep(0.01)

    def silence(self, homes: list[int]) -> dict[int, float]:
        """Stop ``homes`` now; returns when each was last heard from."""
        with self.lock:
            self.silent.update(homes)
            return {home: self.last_sent[home] for home in homes}

    def close(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()


async def _offline(database_url: str) -> set[str]:
    from sqlalchemy import select

    from hub.db import make_engine
    from hub.db.models import Device

    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(Device.id).where(Device.state == "offline"))
            return {str(r[0]) for r in rows}
    finally:
        await engine.dispose()


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    gateways = max(args.gateways, args.vanish + 1)
    interval = args.keepalive * 1.5
    (work / "mqtt").mkdir()
    with running_mosquitto(work / "mqtt") as broker:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'hub.sqlite'}"
        await seed_homes(
            database_url,
            gateways,
            lambda ids: ({"id": gateway_id(i), "home_id": i, "type": "gateway"} for i in ids),
        )
        port = free_port()
        env = {
            "TELEASSIST_HUB__SUPERVISION_INTERVALS": json.dumps({"gateway": interval}),
            "TELEASSIST_HUB__SUPERVISION_CHECK_S": str(args.check_s),
        }
        hub, log = await asyncio.to_thread(
            latency._start_hub, work, database_url, broker.port, port, "", env
        )
        beats: _Heartbeats | None = None
        try:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 120.0)
            beats = _Heartbeats(broker.port, gateways, args.keepalive)
            beats.start()
            # Every gateway heard at least twice before any goes.
            await asyncio.to_thread(beats.heard_twice.wait, args.keepalive * 3 + 60)
            vanished = sorted(random.Random(7).sample(range(1, gateways + 1), args.vanish))
            last = beats.silence(vanished)
            wanted = {gateway_id(h): h for h in vanished}
            detect: dict[str, float] = {}
            target = interval + args.check_s
            deadline = time.monotonic() + target * 2 + 30
            false_offline: set[str] = set()
            while len(detect) < len(wanted) and time.monotonic() < deadline:
                offline = await _offline(database_url)
                now = time.monotonic()
                for device in offline:
                    if device in wanted and device not in detect:
                        detect[device] = now - last[wanted[device]]
                false_offline |= offline - wanted.keys()
                await asyncio.sleep(0.2)
        finally:
            if beats is not None:
                beats.close()
            hub.terminate()
            try:
                await asyncio.to_thread(hub.wait, 30)
            except Exception:
                hub.kill()
            log.close()
    values = sorted(detect.values())
    return {
        "benchmark": NAME,
        "gateways": gateways,
        "database": args.database_url.split(":", 1)[0].split("+", 1)[0] or "sqlite",
        "keepalive_s": args.keepalive,
        "supervision_interval_s": interval,
        "check_s": args.check_s,
        "target_s": round(args.keepalive * 1.5 + 5, 1),
        "vanished": len(wanted),
        "detected": len(detect),
        "false_offline": len(false_offline),
        "detect_p50_s": latency._percentile(values, 50),
        "detect_p99_s": latency._percentile(values, 99),
        "detect_max_s": round(values[-1], 1) if values else None,
        "heartbeats_per_s": round(gateways / args.keepalive, 1),
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-offline-") as tmp:
        data = asyncio.run(_measure(args, Path(tmp)))
    print(
        f"{data['gateways']} gateways ({data['database']}), keep-alive {data['keepalive_s']} s:"
        f" {data['detected']}/{data['vanished']} vanished gateways marked offline, p50"
        f" {data['detect_p50_s']} s, p99 {data['detect_p99_s']} s, max {data['detect_max_s']} s"
        f" (target {data['target_s']} s); {data['false_offline']} others marked offline"
    )
    print(json.dumps(data))
    return 0
