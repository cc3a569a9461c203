"""``teleassist bench alarm-latency``: device publish → alarm on an operator's websocket.

Starts a private Mosquitto and a real hub process (``teleassist hub serve``) on a fresh
database seeded with ``--homes`` homes (pendant, PIR, thermometer each). While background
load runs (temperature telemetry from every home, QoS 0, and motion events, QoS 1), it
presses the panic button of ``--alarms`` different homes and measures, per alarm, the time
from just before the device's publish to the ``alarm.raised`` frame on an operator's
live socket (same clock: both ends live in this process).

A bare MQTT subscriber on the same broker times the same presses (publish → delivered):
the broker and the machine's load in this very run, against which the hub's figures are
read (``baseline_p99_ms``, ``p99_ratio``).

Last line: JSON with ``p50_ms``, ``p99_ms``, ``max_ms``, ``alarms_sent``,
``alarms_received``, ``homes``, ``background_msgs_per_s``, ``database``, and the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from hub import latencyprobe
from protocol import (
    Channel,
    DoorClose,
    DoorOpen,
    Motion,
    Panic,
    Telemetry,
    device_subscription,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from teleassist.bench._load import cpu_load
from teleassist.bench._probe import print_summary, summarize
from teleassist.bench._seed import seed_homes
from teleassist.config import Config
from teleassist.localbroker import free_port, running_mosquitto, wait_for_port

NAME = "alarm-latency"
HELP = "panic publish → operator websocket latency under background load (N homes)"

PASSWORD = secrets.token_urlsafe(12)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--alarms", type=int, default=200, help="panic presses (distinct homes)")
    parser.add_argument("--alarm-rate", type=float, default=10.0, help="panics per second")
    parser.add_argument(
        "--telemetry-per-home-min", type=float, default=1.0, help="readings per home per minute"
    )
    parser.add_argument(
        "--events-per-home-hour", type=float, default=6.0, help="motion events per home per hour"
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the warm-up (one motion event per home before measuring)",
    )
    parser.add_argument("--keep-log", default="", help="copy the hub's log to this file")
    parser.add_argument(
        "--probe",
        default="",
        help="write the hub's latency probe (stage instants, gc, slow loop steps) to this"
        " JSON file and print where the time went",
    )
    parser.add_argument(
        "--flood",
        type=float,
        default=0.0,
        metavar="N",
        help="one home's devices send N messages a second while the panics are measured:"
        " a chattering door contact, a stuck motion sensor and a thermometer gone mad"
        " (a third each)",
    )
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        metavar="N",
        help="N other processes spinning on the CPU while measuring (2 loads both cores)",
    )


KINDS = ("pendant", "motion", "thermometer")


async def _seed(database_url: str, homes: int) -> None:
    # The flooding home (the one before the warm-up's) also has a door contact.
    flooding = _flood_home(homes)
    await seed_homes(
        database_url,
        homes,
        lambda ids: (
            {"id": f"b{i}-{kind}", "home_id": i, "type": kind}
            for i in ids
            for kind in (*KINDS, "contact")
            if kind != "contact" or i == flooding
        ),
    )


def _flood_home(homes: int) -> int:
    return homes - 1


class _Flood(threading.Thread):
    """One home's devices gone wrong, from a thread and a connection of their own: door
    chatter (open/close), a stuck motion sensor and a thermometer, ``rate`` messages a second
    in all, each stamped with the real time (the rate limit counts on device timestamps)."""

    def __init__(self, port: int, home: int, rate: float) -> None:
        super().__init__(daemon=True, name="bench-flood")
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"flood-{secrets.token_hex(3)}"
        )
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.home = home
        self.rate = rate
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        seq = {"door": 0, "motion": 0, "thermometer": 0}
        while not self.stopping.is_set():
            due = int((time.monotonic() - began) * self.rate) - self.sent
            for _ in range(max(0, due)):
                which = ("door", "motion", "thermometer")[self.sent % 3]
                seq[which] += 1
                ts = datetime.now(UTC)
                if which == "door":
                    body: Any = DoorOpen(room="hall") if seq[which] % 2 else DoorClose(room="hall")
                    topic, qos = device_topic(f"b{self.home}-contact", Channel.EVENT), 1
                elif which == "motion":
                    body = Motion(room="hall")
                    topic, qos = device_topic(f"b{self.home}-motion", Channel.EVENT), 1
                else:
                    body = Telemetry(kind="temperature", value=85.0, unit="C", room="living")
                    topic, qos = device_topic(f"b{self.home}-thermometer", Channel.TELEMETRY), 0
                message = envelope(body, id=new_message_id(), ts=ts, seq=seq[which])
                self.client.publish(topic, encode(message), qos=qos)
                self.sent += 1
            time.sleep(0.01)

    def close(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()


class _Background(threading.Thread):
    """Publishes telemetry and motion events at a steady rate from its own thread."""

    def __init__(self, port: int, homes: int, telemetry_per_s: float, events_per_s: float):
        super().__init__(daemon=True, name="bench-background")
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bg-{secrets.token_hex(3)}"
        )
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.homes = homes
        self.telemetry_per_s = telemetry_per_s
        self.events_per_s = events_per_s
        self.sent = 0
        self.stopping = threading.Event()
        self.started_at = 0.0
        self.stopped_at = 0.0

    def run(self) -> None:
        rate = self.telemetry_per_s + self.events_per_s
        if rate <= 0:
            return
        share = self.events_per_s / rate
        seq = 0
        home = 0
        self.started_at = time.monotonic()
        while not self.stopping.is_set():
            # Publish in slices of 10 ms to hold the rate without a sleep per message.
            due = int((time.monotonic() - self.started_at) * rate) - self.sent
            for _ in range(max(0, due)):
                home = home % self.homes + 1
                seq += 1
                ts = datetime.now(UTC)
                if (seq * share) % 1 < share:
                    body: Any = Motion(room="hall")
                    topic, qos = device_topic(f"b{home}-motion", Channel.EVENT), 1
                else:
                    body = Telemetry(kind="temperature", value=21.5, unit="C", room="living")
                    topic, qos = device_topic(f"b{home}-thermometer", Channel.TELEMETRY), 0
                payload = encode(envelope(body, id=new_message_id(), ts=ts, seq=seq))
                self.client.publish(topic, payload, qos=qos)
                self.sent += 1
            time.sleep(0.01)
        self.stopped_at = time.monotonic()

    def close(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()

    @property
    def rate(self) -> float:
        elapsed = (self.stopped_at or time.monotonic()) - self.started_at
        return self.sent / elapsed if elapsed > 0 else 0.0


def _hub_env(broker_port: int, probe: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TELEASSIST_MQTT__HOST": "127.0.0.1",
            "TELEASSIST_MQTT__PORT": str(broker_port),
            "TELEASSIST_LOG_LEVEL": "WARNING",
        }
    )
    if probe:
        env[latencyprobe.ENV] = probe
    return env


def _warm_up(broker_port: int, homes: int) -> None:
    """One motion event per home (QoS 1), so the hub has every home's state."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"warm-{secrets.token_hex(3)}")
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    try:
        for home in range(1, homes + 1):
            message = envelope(
                Motion(room="hall"), id=new_message_id(), ts=datetime.now(UTC), seq=0
            )
            info = client.publish(
                device_topic(f"b{home}-motion", Channel.EVENT), encode(message), qos=1
            )
            if home % 500 == 0:
                info.wait_for_publish(timeout=30)
                time.sleep(0.2)  # a realistic trickle, not a flood
    finally:
        client.loop_stop()
        client.disconnect()


def _start_hub(
    work: Path,
    database_url: str,
    broker_port: int,
    port: int,
    probe: str = "",
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Any]:
    """Create the operator and start ``teleassist hub serve`` (blocking; run in a thread)."""
    env = {**_hub_env(broker_port, probe), **(extra_env or {})}
    base_cmd = [sys.executable, "-m", "teleassist", "hub"]
    common = ["--database-url", database_url, "--data-dir", str(work / "data")]
    subprocess.run(
        [*base_cmd, *common, "create-user", "bench-operator", "--role", "operator",
         "--password-stdin"],
        input=PASSWORD.encode(), env=env, check=True, capture_output=True,
    )  # fmt: skip
    return serve_hub(work, database_url, broker_port, port, probe, extra_env)


def serve_hub(
    work: Path,
    database_url: str,
    broker_port: int,
    port: int,
    probe: str = "",
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Any]:
    """Start ``teleassist hub serve`` on an existing database (its log appended to)."""
    env = {**_hub_env(broker_port, probe), **(extra_env or {})}
    base_cmd = [sys.executable, "-m", "teleassist", "hub"]
    common = ["--database-url", database_url, "--data-dir", str(work / "data")]
    log = (work / "hub.log").open("ab")
    hub = subprocess.Popen(
        [*base_cmd, *common, "--port", str(port), "serve"], env=env, stdout=log, stderr=log
    )
    return hub, log


async def _login(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(
        f"{base}/api/auth/login", json={"username": "bench-operator", "password": PASSWORD}
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    homes = max(args.homes, args.alarms + 2)  # panics, then the flooding home, then warm-up
    (work / "mqtt").mkdir()
    with running_mosquitto(work / "mqtt") as broker:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'hub.sqlite'}"
        began = time.monotonic()
        await _seed(database_url, homes)
        seeded_s = time.monotonic() - began
        port = free_port()
        hub, log = await asyncio.to_thread(
            _start_hub, work, database_url, broker.port, port, args.probe
        )
        try:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 120.0)
            return await _drive(args, homes, broker.port, f"http://127.0.0.1:{port}", seeded_s)
        finally:
            hub.terminate()
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                hub.kill()
            log.close()


class _BareSubscriber:
    """A plain MQTT subscriber to the pendants' events: the baseline of this run."""

    def __init__(self, port: int, sent_at: dict[str, float]) -> None:
        self.sent_at = sent_at
        self.latencies: dict[str, float] = {}
        self.subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"baseline-{secrets.token_hex(3)}"
        )
        self.client.on_message = self._message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(device_subscription(Channel.EVENT), qos=1)
        self.client.loop_start()

    def _message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        now = time.monotonic()
        device = message.topic.split("/")[3]
        if not device.endswith("-pendant"):
            return
        home = device[1 : -len("-pendant")]
        sent = self.sent_at.get(home)
        if sent is not None and home not in self.latencies:
            self.latencies[home] = (now - sent) * 1000

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


async def _drive(
    args: argparse.Namespace, homes: int, broker_port: int, base: str, seeded_s: float
) -> dict[str, Any]:
    pendant = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"panic-{secrets.token_hex(3)}")
    pendant.connect("127.0.0.1", broker_port)
    pendant.loop_start()
    sent_at: dict[str, float] = {}
    message_ids: dict[str, float] = {}
    flood_alarms: list[str] = []
    flood: _Flood | None = None
    latencies: dict[str, float] = {}
    baseline = _BareSubscriber(broker_port, sent_at)
    await asyncio.to_thread(baseline.subscribed.wait, 30)
    background: _Background | None = None
    async with aiohttp.ClientSession() as http:
        token = await _login(http, base)
        socket = await http.ws_connect(
            f"{base}/api/alarms/live", headers={"Authorization": f"Bearer {token}"}, heartbeat=20
        )
        received = asyncio.Event()
        warm = asyncio.Event()

        async def reader() -> None:
            async for message in socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if data.get("type") != "alarm.raised":
                    continue
                home = data["alarm"]["home_id"]
                now = time.monotonic()
                if home == str(homes):
                    warm.set()
                elif home == str(_flood_home(homes)):
                    flood_alarms.append(str(data["alarm"]["rule"]))
                elif home in sent_at and home not in latencies:
                    latencies[home] = (now - sent_at[home]) * 1000
                    if len(latencies) == args.alarms:
                        received.set()

        reader_task = asyncio.create_task(reader())
        try:
            # Warm-up: the last home's panic proves ingestion → engine → socket is live.
            for _ in range(int(args.timeout * 2)):
                _press(pendant, homes)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(warm.wait(), timeout=0.5)
                if warm.is_set():
                    break
            if args.warmup:
                # Steady state: every home has sent something before the measurement.
                await asyncio.to_thread(_warm_up, broker_port, homes)
                await asyncio.sleep(5.0)
            background = _Background(
                broker_port,
                homes,
                homes * args.telemetry_per_home_min / 60.0,
                homes * args.events_per_home_hour / 3600.0,
            )
            background.start()
            if args.flood > 0:
                flood = _Flood(broker_port, _flood_home(homes), args.flood)
                flood.start()
            await asyncio.sleep(2.0)  # let the load settle
            interval = 1.0 / args.alarm_rate
            with cpu_load(args.load):
                for n in range(1, args.alarms + 1):
                    sent_at[str(n)] = at = time.monotonic()
                    message_ids[_press(pendant, n)] = at
                    await asyncio.sleep(interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(received.wait(), timeout=args.timeout)
        finally:
            if flood is not None:
                flood.close()
            if background is not None:
                background.close()
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task
            await socket.close()
            pendant.loop_stop()
            pendant.disconnect()
            baseline.close()
    values = sorted(latencies.values())
    bare = list(baseline.latencies.values())
    p99, bare_p99 = _percentile(values, 99), _percentile(bare, 99)
    return {
        "benchmark": NAME,
        "homes": homes,
        "database": args.database_url.split(":", 1)[0].split("+", 1)[0] or "sqlite",
        "alarms_sent": len(sent_at),
        "alarms_received": len(latencies),
        "p50_ms": _percentile(values, 50),
        "p99_ms": p99,
        "max_ms": round(values[-1], 1) if values else None,
        "mean_ms": round(statistics.fmean(values), 1) if values else None,
        "background_msgs_per_s": round(background.rate, 1) if background else 0.0,
        "baseline_p50_ms": _percentile(bare, 50),
        "baseline_p99_ms": bare_p99,
        # How many times the bare broker delivery the hub's path takes (same run, same load).
        "p99_ratio": round(p99 / bare_p99, 1) if p99 and bare_p99 else None,
        "seed_s": round(seeded_s, 1),
        "load_processes": args.load,
        "flood_per_s": args.flood,
        "flood_sent": flood.sent if flood is not None else 0,
        # The flooding home's alarms seen on the operator's socket ("device_fault": the
        # technical alarm "device flooding"; a door opened at night may add its own).
        "flood_alarms": sorted(set(flood_alarms)),
        "published": message_ids,
    }


_presses: dict[int, int] = {}


def _press(client: paho.Client, home: int) -> str:
    """Press home ``home``'s pendant; returns the message id."""
    _presses[home] = _presses.get(home, -1) + 1
    message = envelope(Panic(), id=new_message_id(), ts=datetime.now(UTC), seq=_presses[home])
    client.publish(device_topic(f"b{home}-pendant", Channel.EVENT), encode(message), qos=1)
    return message.id


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-alarm-") as tmp:
        data = asyncio.run(_measure(args, Path(tmp)))
        published = data.pop("published")
        if args.probe:
            probe = summarize(Path(args.probe), published)
            print_summary(probe)
            data["probe"] = probe
        if args.keep_log:
            shutil.copyfile(Path(tmp) / "hub.log", args.keep_log)
    print(
        f"homes {data['homes']}: {data['alarms_received']}/{data['alarms_sent']} alarms on the"
        f" operator socket; p50 {data['p50_ms']} ms, p99 {data['p99_ms']} ms,"
        f" max {data['max_ms']} ms; background {data['background_msgs_per_s']} msgs/s;"
        f" bare MQTT subscriber p99 {data['baseline_p99_ms']} ms ({data['database']})"
    )
    if data["flood_per_s"]:
        print(
            f"flood: {data['flood_sent']} messages from home {data['homes'] - 1}"
            f" ({data['flood_per_s']}/s); its alarms on the socket: {data['flood_alarms']}"
        )
    print(json.dumps(data))
    return 0
