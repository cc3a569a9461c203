"""The fleet load generator: N simulated homes, one MQTT connection per gateway.

Each process opens its share of gateway connections with the light client
(:mod:`firmware_sim.mqttlite`), each with a retained Last Will, announces them online
and then publishes at the target total rate, cycling through realistic messages of
simulated homes (a day of a few template homes from :func:`simulate_days`, re-addressed
to each home's own device ids, fresh ids, timestamps and sequence numbers). One
scheduler task per process spreads the rate over the homes; there is no task per home.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import resource
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

import protocol
from firmware_sim.home import standard_home
from firmware_sim.mqttlite import LiteClient, MqttLiteError, Will, open_client
from firmware_sim.simulate import simulate_days

_LOGGER = logging.getLogger(__name__)
TEMPLATES = 6
_TICK_S = 0.05


def raise_open_files_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1_048_576
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mb() -> float:
    """Peak resident memory of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """What one generator process runs."""

    host: str
    port: int
    first_home: int
    homes: int
    duration_s: float
    rate: float  # messages per second for this process's homes
    qos: int = 0
    prefix: str = "fleet-h"
    keepalive_s: int = 60
    connect_concurrency: int = 200
    password: str | None = None


@dataclass
class FleetStats:
    """What one process achieved."""

    homes: int = 0
    connections: int = 0
    connect_errors: int = 0
    connect_s: float = 0.0
    msgs_sent: int = 0
    msgs_acked: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    rss_mb: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def msgs_per_s(self) -> float:
        """Achieved publish rate."""
        return self.msgs_sent / self.duration_s if self.duration_s else 0.0


Template = list[tuple[str, str, bytes]]  # (device suffix, channel, body JSON)


def build_templates(count: int = TEMPLATES) -> list[Template]:
    """A day of a few simulated homes (all profiles), as pre-encoded bodies."""
    profiles = ("active", "frail", "cognitive_decline")
    templates: list[Template] = []
    for k in range(count):
        home = standard_home(f"tpl{k}")
        trace = simulate_days(home, profiles[k % 3], date(2026, 1, 12), 1, seed=k, view="hub")
        records: Template = []
        for record in trace.records:
            if isinstance(record.body, protocol.Status):
                continue  # the generator publishes its own presence
            suffix = record.device_id[len(home.home_id) :]
            records.append((suffix, record.channel.value, protocol.encode(record.body)))
        templates.append(records)
    return templates


def home_id(prefix: str, index: int) -> str:
    """The device-id prefix of simulated home ``index``."""
    return f"{prefix}{index:05d}"


class _Home:
    __slots__ = ("client", "cursor", "gateway", "home", "seqs", "template")

    def __init__(self, home: str, client: LiteClient, template: Template, start: int) -> None:
        self.home = home
        self.gateway = f"{home}-gw"
        self.client = client
        self.template = template
        self.cursor = start
        self.seqs: dict[str, int] = {}


def _envelope(body: bytes, ts: str, seq: int) -> bytes:
    # Hand-built to avoid re-encoding the body; the layout is the contract's Envelope.
    return b'{"v":1,"id":"%s","ts":"%s","seq":%d,"body":%s}' % (
        uuid.uuid4().hex.encode(),
        ts.encode(),
        seq,
        body,
    )


def _status(state: str, reason: str) -> bytes:
    body = protocol.encode(protocol.Status(state=state, reason=reason))  # type: ignore[arg-type]
    return _envelope(body, datetime.now(UTC).isoformat(), 1 if state == "offline" else 2)


async def _connect_all(spec: FleetSpec, stats: FleetStats, homes: list[_Home]) -> None:
    """Connect every home of ``spec``, appending each to ``homes`` as it comes up."""
    templates = build_templates()
    gate = asyncio.Semaphore(spec.connect_concurrency)

    async def one(i: int) -> None:
        home = home_id(spec.prefix, spec.first_home + i)
        gateway = f"{home}-gw"
        topic = protocol.device_topic(gateway, protocol.Channel.STATUS)
        will = Will(topic, _status("offline", "will"))
        async with gate:
            try:
                client = await open_client(
                    spec.host,
                    spec.port,
                    gateway,
                    keepalive=spec.keepalive_s,
                    username=gateway,
                    password=spec.password,
                    will=will,
                )
            except (OSError, MqttLiteError, TimeoutError) as err:
                stats.connect_errors += 1
                if len(stats.errors) < 5:
                    stats.errors.append(f"{gateway}: {err}")
                return
        client.publish(topic.encode(), _status("online", "connected"), qos=1, retain=True)
        template = templates[i % len(templates)]
        homes.append(_Home(home, client, template, (i * 37) % len(template)))

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(spec.homes)))
    stats.connect_s = time.monotonic() - started


async def _pinger(homes: list[_Home], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        for home in list(homes):
            home.client.ping()


async def run_fleet(spec: FleetSpec) -> FleetStats:
    """Connect this process's homes, publish for ``duration_s``, disconnect; return stats."""
    raise_open_files_limit()
    stats = FleetStats(homes=spec.homes)
    homes: list[_Home] = []
    # Ping from the start: connecting thousands can take longer than a keep-alive.
    pinger = asyncio.create_task(_pinger(homes, spec.keepalive_s / 2))
    try:
        await _connect_all(spec, stats, homes)
        stats.connections = len(homes)
        await _publish(spec, homes, stats)
        # QoS 1: give the broker a moment to acknowledge what is still in flight.
        deadline = time.monotonic() + 15.0
        while spec.qos and time.monotonic() < deadline:
            if not any(h.client.inflight for h in homes):
                break
            await asyncio.sleep(0.05)
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        stats.msgs_acked = sum(h.client.acked for h in homes)
        for home in homes:
            home.client.disconnect()
        await asyncio.sleep(0.1)
    stats.rss_mb = rss_mb()
    return stats


async def _publish(spec: FleetSpec, homes: list[_Home], stats: FleetStats) -> None:
    if not homes or spec.duration_s <= 0:
        return
    ring = itertools.cycle(homes)
    started = time.monotonic()
    end = started + spec.duration_s
    sent = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int(spec.rate * (now - started)) - sent
        ts = datetime.now(UTC).isoformat()
        misses = 0
        while due > 0 and misses < len(homes):
            home = next(ring)
            suffix, channel, body = home.template[home.cursor]
            device = home.home + suffix
            seq = home.seqs.get(device, 0) + 1
            qos = 1 if channel == "event" else spec.qos
            topic = b"ta/v1/d/%s/%s" % (device.encode(), channel.encode())
            if home.client.publish(topic, _envelope(body, ts, seq), qos=qos):
                home.seqs[device] = seq
                home.cursor = (home.cursor + 1) % len(home.template)
                sent += 1
                due -= 1
                misses = 0
            else:
                misses += 1
                stats.skipped += 1
        await asyncio.sleep(_TICK_S)
    stats.msgs_sent = sent
    stats.duration_s = time.monotonic() - started


def stats_dict(stats: FleetStats) -> dict[str, object]:
    """Plain view for the process pipe and the JSON line."""
    out = asdict(stats)
    out["msgs_per_s"] = stats.msgs_per_s
    return out
