"""``teleassist bench scale``: N hub workers, one owner per home, a worker or a broker node
killed, or a worker added.

Starts a broker, a fresh PostgreSQL database and ``--workers`` real ``teleassist hub serve``
processes with one owner per home (``hub.partitions``, leases in PostgreSQL, docs/adr/0147)
and the alarm timers on. The broker is a private Mosquitto (``--nodes 1``, the plain-MQTT
ownership transport) or a 3-node RabbitMQ cluster (``--nodes 3``: the per-partition queues of
docs/adr/0145, devices logged in with their own secrets through the hub's auth backend, a TCP
balancer in front of the nodes). A real device agent per home (its own outbox, the end-to-end
``event_received`` confirmation of ADR 0125) presses the help button once; a raw publisher
sends routine events (motion, QoS 1) from every gateway at ``--rate``; every worker has an
operator socket open. Halfway through:

- ``--kill worker``: the worker that owns the timer home is killed with SIGKILL, just after
  that home's check-in deadline was made due (its timer must fire once, on a survivor);
- ``--kill add``: a worker is started (it must take a share of the partitions);
- ``--kill node`` (``--nodes 3``): broker node 0 is killed with SIGKILL (no hand-over of its
  queue leaders: the machine gone);
- ``--kill none``: nothing.

Counted afterwards from the database and the sockets: each panic must be exactly one alarm
seen on every surviving worker's socket, every routine event the broker acknowledged must be
stored (once: the table's unique key), the missed check-in one alarm. ``failover_s``: from the
kill until every partition is held by a survivor (``--kill add``: until the new worker holds
its share; ``--kill node``: until every partition queue has its consumer again, on a surviving
node). ``fanout_p50_ms`` / ``fanout_p99_ms``: an alarm's arrival on a surviving socket minus
its first arrival on any socket.

Last line: JSON with ``workers``, ``nodes``, ``homes``, ``msgs_per_s``, ``panics_sent``,
``alarms_raised``, ``lost``, ``duplicates``, ``failover_s``, ``fanout_p99_ms`` and more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import protocol
from teleassist.bench.alarm_latency import _percentile
from teleassist.config import Config, MqttSettings
from teleassist.localbroker import running_mosquitto
from teleassist.rabbitcluster import RabbitSetup, running_rabbit
from teleassist.workers import HubWorker, cluster_env

NAME = "scale"
HELP = (
    "N hub workers with one owner per home on Mosquitto or a 3-node RabbitMQ cluster; kill a "
    "worker or a broker node, or add a worker, mid-stream (PostgreSQL)"
)

PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "postgres"}
KILLS = ("worker", "add", "node", "none")


@dataclass
class ScaleOptions:
    """What to run."""

    workers: int = 3
    homes: int = 12
    kill: str = "worker"
    nodes: int = 1  # 1: a Mosquitto; 3 or more: a RabbitMQ cluster
    partitions: int = 16
    rate: float = 40.0  # routine events per second, all homes together
    duration_s: float = 16.0
    timeout_s: float = 120.0
    lease_ttl_s: float = 5.0
    lease_heartbeat_s: float = 1.0
    log_level: str = "WARNING"

    def __post_init__(self) -> None:
        if self.kill not in KILLS:
            raise ValueError(f"kill must be one of {KILLS}, not {self.kill!r}")
        if self.nodes != 1 and self.nodes < 3:
            raise ValueError("nodes must be 1 (Mosquitto) or at least 3 (a cluster keeps its "
                             "majority with one node gone)")  # fmt: skip
        if self.kill == "node" and self.nodes < 3:
            raise ValueError("kill node needs a cluster: nodes 3 or more")
        if self.workers < (2 if self.kill != "none" else 1):
            raise ValueError("at least 2 workers to kill or add one")
        if self.homes < 2:
            raise ValueError("at least 2 homes (one of them is the timer home)")


@dataclass
class ScaleResult:
    """What happened (the JSON line)."""

    workers: int
    nodes: int
    homes: int
    partitions: int
    kill: str
    msgs_per_s: float | None
    routine_sent: int
    routine_stored: int
    panics_sent: int
    alarms_raised: int
    lost: int
    duplicates: int
    failover_s: float | None
    fanout_p99_ms: float | None
    seen_on_every_survivor: int
    timer_alarms: int
    resend_rounds: int
    owners_after: dict[str, int] = field(default_factory=dict)
    worst_press_to_socket_s: float | None = None
    # CPU seconds each worker process used from the start of the stream to the end (the
    # per-worker cost: a 2-core machine cannot show speed-up with more workers).
    cpu_s: dict[str, float] = field(default_factory=dict)
    fanout_p50_ms: float | None = None


@dataclass
class _Home:
    home_id: int
    resident_id: int
    gateway: str
    pendant: str
    secret: str = ""  # the gateway's broker password (on the cluster; none on Mosquitto)


async def _seed(url: str, key: str, homes: int, *, secrets_: bool = False) -> list[_Home]:
    """A neighbourhood of ``homes``; with ``secrets_`` every gateway gets a broker password
    and relays its home's sensors (the cluster's auth backend lets it publish for them)."""
    from sqlalchemy import update

    from firmware_sim import DeviceType
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.db.crypto import KeySafeCipher
    from hub.db.models import Device
    from hub.registry.credentials import mosquitto_hash
    from teleassist.neighbourhood import seed_neighbourhood

    await upgrade_to_head(url)
    engine = make_engine(url)
    found = []
    try:
        async with make_sessionmaker(engine)() as session:
            seeded = await seed_neighbourhood(
                session, KeySafeCipher(key), homes, datetime.now(UTC), seed=5
            )
            for home in seeded.homes:
                pendant = home.spec.find(DeviceType.PENDANT)
                assert pendant is not None
                gateway = home.spec.gateway.device_id
                secret = secrets.token_urlsafe(16) if secrets_ else ""
                if secret:
                    await session.execute(
                        update(Device)
                        .where(Device.id == gateway)
                        .values(secret_hash=mosquitto_hash(secret))
                    )
                    await session.execute(
                        update(Device)
                        .where(Device.home_id == home.home_id, Device.id != gateway)
                        .values(gateway_id=gateway)
                    )
                found.append(
                    _Home(home.home_id, home.resident_id, gateway, pendant.device_id, secret)
                )
            await session.commit()
    finally:
        await engine.dispose()
    return found


async def _check_in_due_now(url: str, home: _Home) -> None:
    """The home's "I'm OK" deadline passed a minute ago with no check-in: its timer is due
    (the workers read the machine's clock, so the deadline does too)."""
    from alerts import initial_state, next_deadline
    from alerts.careplan import BaselineSettings, CarePlan, CheckInSettings, InactivitySettings
    from alerts.escalation import EscalationPolicy
    from hub.alarms import store
    from hub.clock import utc_now
    from hub.db import make_engine, make_sessionmaker

    zone = ZoneInfo("Europe/Madrid")
    now = utc_now()
    deadline = (now.astimezone(zone) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    plan = CarePlan(
        str(home.resident_id),
        inactivity=InactivitySettings(enabled=False),
        baseline=BaselineSettings(enabled=False),
        check_in=CheckInSettings(enabled=True, deadlines=(deadline.time(),)),
    )
    state = initial_state(
        plan, str(home.home_id), (deadline - timedelta(minutes=1)).astimezone(UTC)
    )
    due = next_deadline(plan, state)
    assert due is not None
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await store.save_plan(session, plan, EscalationPolicy(), now)
            await store.save_state(session, state, due, now)
            await session.commit()
    finally:
        await engine.dispose()


class _Db:
    """Direct reads of the cluster's database (a small asyncpg pool: the fail-over watch
    reads while the scenario does)."""

    def __init__(self, conn: asyncpg.Pool) -> None:
        self.conn = conn

    async def owners(self) -> dict[int, str | None]:
        rows = await self.conn.fetch(
            "SELECT partition, CASE WHEN expires_at > now() THEN owner END AS owner"
            " FROM hub_partitions ORDER BY partition"
        )
        return {int(r["partition"]): r["owner"] for r in rows}

    async def member(self, worker: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT count(*) FROM hub_members WHERE worker_id = $1", worker
            )
        )

    async def routine_stored(self, devices: list[str]) -> int:
        return int(
            await self.conn.fetchval(
                "SELECT count(*) FROM events WHERE type = 'motion' AND device_id = ANY($1)",
                devices,
            )
        )

    async def alarms(self, rule: str) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT home_id, count(*) AS n FROM alarms WHERE data->>'rule' = $1 GROUP BY home_id",
            rule,
        )
        return {str(r["home_id"]): int(r["n"]) for r in rows}


class _Sockets:
    """An operator socket per worker: when each home's panic alarm was first raised there."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.snapshots: dict[str, float] = {}  # worker name -> when its snapshot came
        self.tasks: list[asyncio.Task[None]] = []

    async def follow(self, http: aiohttp.ClientSession, worker: HubWorker, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            async with http.ws_connect(
                f"{worker.url}/api/alarms/live", headers=headers, heartbeat=20
            ) as ws:
                async for message in ws:
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        return
                    frame = json.loads(message.data)
                    if frame.get("type") == "snapshot":
                        self.snapshots.setdefault(worker.name, time.monotonic())
                    alarm = frame.get("alarm")
                    if (
                        frame.get("type") == "alarm.raised"
                        and isinstance(alarm, dict)
                        and alarm.get("rule") == "panic"
                    ):
                        self.seen[worker.name][str(alarm.get("home_id"))].append(time.monotonic())

    def start(self, http: aiohttp.ClientSession, worker: HubWorker, token: str) -> None:
        self.tasks.append(asyncio.create_task(self.follow(http, worker, token)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _login(http: aiohttp.ClientSession, worker: HubWorker) -> str:
    from hub.console.demo_data import DEMO_PASSWORD

    async with http.post(
        f"{worker.url}/api/auth/login", json={"username": "operadora", "password": DEMO_PASSWORD}
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


def _agent(work: Path, port: int, home: _Home) -> Any:
    from device_agent.agent import Agent
    from device_agent.backoff import Backoff
    from device_agent.clock import SystemClock
    from device_agent.outbox import Outbox
    from device_agent.settings import AgentSettings
    from device_agent.sounder import LogSounder

    gateway = home.gateway
    settings = AgentSettings(gateway_id=gateway, queue_path=str(work / f"{gateway}.sqlite3"))
    # On the cluster a gateway logs in with its own secret (the hub's auth backend decides).
    mqtt = MqttSettings(host="127.0.0.1", port=port, keepalive_s=5)
    if home.secret:
        mqtt = MqttSettings(
            host="127.0.0.1", port=port, keepalive_s=5, username=gateway, password=home.secret
        )
    return Agent(
        settings,
        mqtt,
        outbox=Outbox(settings.queue_path),
        clock=SystemClock(),
        sounder=LogSounder(),
        backoff=Backoff(base=0.05, cap=0.3),
    )


class _Routine:
    """Routine events (motion) from the gateways at QoS 1, counted when the broker acks."""

    def __init__(self, port: int, login: tuple[str, str] | None = None) -> None:
        self.acked = 0
        self.sent = 0
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"scale-{secrets.token_hex(3)}"
        )
        if login is not None:
            # On the cluster: the hub's own account (internal, every topic), as a stand-in
            # for the gateways' many connections.
            self.client.username_pw_set(*login)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self._published
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.seq: dict[str, int] = defaultdict(int)

    def _published(self, *args: Any) -> None:
        self.acked += 1

    def send(self, gateway: str) -> None:
        self.seq[gateway] += 1
        msg = protocol.envelope(
            protocol.Motion(),
            id=protocol.new_message_id(),
            ts=datetime.now(UTC),
            seq=self.seq[gateway],
        )
        self.client.publish(
            protocol.device_topic(gateway, protocol.Channel.EVENT), protocol.encode(msg), qos=1
        )
        self.sent += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def _until(predicate: Any, limit_s: float, every: float = 0.2) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit_s):
            # Other processes and the database: nothing here to await but their state.
            while not await predicate():  # noqa: ASYNC110
                await asyncio.sleep(every)
            return True
    return False


async def scenario(
    options: ScaleOptions, work: Path, rabbit: RabbitSetup | None = None
) -> ScaleResult:
    """Run one scale scenario on a fresh database; return what was counted. With ``nodes``
    above 1 it runs on ``rabbit``, a running cluster (:func:`running_rabbit`; the tests share
    one per session), whose partition queues it empties first."""
    from hub.cluster.partitions import assign, partition_of

    if (options.nodes > 1) != (rabbit is not None):
        raise ValueError("a RabbitMQ cluster is needed for nodes > 1, and only then")
    name = f"ta_scale_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(**PG_ADMIN)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    workers: list[HubWorker] = []
    agents: list[Any] = []
    try:
        with contextlib.ExitStack() as brokers:
            extra: dict[str, str] = {}
            if rabbit is None:
                port = brokers.enter_context(running_mosquitto(work)).port
            else:
                await asyncio.to_thread(rabbit.cluster.wait_whole)
                await asyncio.to_thread(rabbit.forget_partitions)
                brokers.callback(setattr, rabbit.relay, "targets", [])
                port = rabbit.balancer.port
                extra = rabbit.hub_env()
            env = cluster_env(
                url,
                port,
                **{
                    **extra,
                    "TELEASSIST_LOG_LEVEL": options.log_level,
                    "TELEASSIST_HUB__PARTITIONS": str(options.partitions),
                    "TELEASSIST_HUB__LEASE_TTL_S": str(options.lease_ttl_s),
                    "TELEASSIST_HUB__LEASE_HEARTBEAT_S": str(options.lease_heartbeat_s),
                    "TELEASSIST_HUB__INGEST_PERSISTENT_SESSION": "false",
                    "TELEASSIST_ALARMS__SCHEDULER": "true",  # timers on, whatever the env
                    # Routine events come faster than a real home's: no flood guard here.
                    "TELEASSIST_HUB__INGEST_DEVICE_EVENTS_PER_S": "1000",
                    "TELEASSIST_HUB__INGEST_DEVICE_EVENTS_BURST": "1000",
                },
            )
            homes = await _seed(
                url, env["TELEASSIST_HUB__KEYSAFE_KEY"], options.homes, secrets_=rabbit is not None
            )
            timer_home, panic_homes = homes[-1], homes[:-1]
            first = options.workers - 1 if options.kill == "add" else options.workers
            workers = [HubWorker(f"w{i}", env, work) for i in range(options.workers)]
            with ThreadPoolExecutor(first) as pool:
                for started in [
                    pool.submit(w.start, max(120.0, options.timeout_s)) for w in workers[:first]
                ]:
                    await asyncio.wrap_future(started)
            if rabbit is not None:
                # The nodes ask the workers whether a device may connect (ADR 0146).
                rabbit.relay.targets = [w.url for w in workers]
            db = _Db(
                await asyncpg.create_pool(**{**PG_ADMIN, "database": name}, min_size=1, max_size=3)
            )
            try:
                live = {w.client_id for w in workers[:first]}
                target = assign(options.partitions, live)

                async def settled() -> bool:
                    owners = await db.owners()
                    return all(owners.get(p) == w for w, parts in target.items() for p in parts)

                if not await _until(settled, options.timeout_s):
                    raise RuntimeError("the partitions did not settle on the starting workers")
                if rabbit is not None and not await _until(
                    _bound(rabbit, homes), options.timeout_s
                ):
                    raise RuntimeError("the devices were not bound to their partitions")
                owners = await db.owners()
                victim_id = owners[partition_of(timer_home.home_id, options.partitions)]
                victim = next(w for w in workers if w.client_id == victim_id)
                return await _drive(
                    options, work, port, db, workers, first, victim, homes=panic_homes,
                    timer_home=timer_home, url=url, agents=agents, rabbit=rabbit,
                )  # fmt: skip
            finally:
                await db.conn.close()
    finally:
        for agent in agents:
            agent.outbox.close()
        for worker in workers:
            await asyncio.to_thread(worker.stop)
        admin = await asyncpg.connect(**PG_ADMIN)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


def _bound(rabbit: RabbitSetup, homes: list[_Home]) -> Any:
    """A predicate: every gateway and pendant is bound to a partition queue (the workers'
    first broker sync ran; a message of an unbound device would be acknowledged and dropped)."""
    from hub.registry.rabbit import binding_key

    wanted = {binding_key(d) for home in homes for d in (home.gateway, home.pendant)}

    async def bound() -> bool:
        found = await asyncio.to_thread(
            rabbit.cluster.api, "GET", "/api/exchanges/%2F/amq.topic/bindings/source"
        )
        return wanted <= {b.get("routing_key") for b in found or []}

    return bound


def _consumer_node(consumer: dict[str, Any]) -> str | None:
    """The node of a consumer's channel (management API); None when the API has no details
    for it (``[]``, as for a channel of a node just gone): such a consumer does not count."""
    details = consumer.get("channel_details")
    node = details.get("node") if isinstance(details, dict) else None
    return str(node) if node else None


async def _consumed_again(
    rabbit: RabbitSetup, partitions: int, dead: str, since: float, limit_s: float
) -> float | None:
    """Seconds from ``since`` until every partition queue has a consumer on a node other
    than ``dead`` (the workers' partition sessions reconnected through the balancer)."""
    from hub.ingest.partitions import partition_queue

    queues = {partition_queue(p) for p in range(partitions)}

    async def consumed() -> bool:
        try:
            found = await asyncio.to_thread(rabbit.cluster.api, "GET", "/api/consumers/%2F")
        except OSError:  # the node asked may be the one going down
            return False
        back = {c["queue"]["name"] for c in found or [] if _consumer_node(c) not in (None, dead)}
        return queues <= back

    return time.monotonic() - since if await _until(consumed, limit_s, every=0.1) else None


async def _drive(
    options: ScaleOptions,
    work: Path,
    port: int,
    db: _Db,
    workers: list[HubWorker],
    first: int,
    victim: HubWorker,
    *,
    homes: list[_Home],
    timer_home: _Home,
    url: str,
    agents: list[Any],
    rabbit: RabbitSetup | None = None,
) -> ScaleResult:
    from device_agent.sources.base import Reading
    from hub.cluster.partitions import assign

    running = workers[:first]
    sockets = _Sockets()
    login = None if rabbit is None else (rabbit.cluster.hub_user, rabbit.cluster.hub_password)
    routine = _Routine(port, login)
    failover_s: float | None = None
    async with contextlib.AsyncExitStack() as stack, aiohttp.ClientSession() as http:
        token = await _login(http, running[0])
        for worker in running:
            sockets.start(http, worker, token)

        async def snapshots() -> bool:
            return len(sockets.snapshots) == len(running)

        await _until(snapshots, options.timeout_s)
        for home in homes:
            agent = _agent(work, port, home)
            agents.append(agent)
            task = asyncio.create_task(agent.run())

            async def stop(agent: Any = agent, task: asyncio.Task[None] = task) -> None:
                agent.stop()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30):
                        await task

            stack.push_async_callback(stop)
            async with asyncio.timeout(options.timeout_s):
                await agent.connected.wait()
        stack.callback(routine.close)
        await stack.enter_async_context(_cancelling(sockets))

        ticks = max(1, int(options.duration_s * options.rate))
        press_at = {round(n * ticks / len(homes)): n for n in range(len(homes))}
        fault_tick = ticks // 2
        pressed: dict[str, float] = {}
        gateways = [home.gateway for home in homes]
        started = time.monotonic()
        cpu_before = {w.name: _cpu_s(w) for w in workers}
        fault_at = 0.0
        survivors = list(running)
        failover_task: asyncio.Task[float | None] | None = None
        for tick in range(ticks):
            routine.send(gateways[tick % len(gateways)])
            if tick in press_at:
                home = homes[press_at[tick]]
                pressed[str(home.home_id)] = time.monotonic()
                await agents[press_at[tick]].submit(
                    Reading(home.pendant, protocol.Panic(), "pendant")
                )
            if tick == fault_tick:
                fault_at = time.monotonic()
                if options.kill == "worker":
                    await _check_in_due_now(url, timer_home)
                    await asyncio.to_thread(victim.kill)
                    survivors = [w for w in running if w is not victim]
                    failover_task = asyncio.create_task(
                        _failover(db, options.partitions, survivors, fault_at, options.timeout_s)
                    )
                elif options.kill == "add":
                    await _check_in_due_now(url, timer_home)
                    newcomer = workers[first]
                    failover_task = asyncio.create_task(
                        _joined(db, options.partitions, [*running, newcomer], newcomer,
                                fault_at, options.timeout_s)
                    )  # fmt: skip
                    # Started beside the stream (the process takes seconds to come up).
                    joining = asyncio.create_task(asyncio.to_thread(newcomer.start))
                    joining.add_done_callback(
                        lambda _: sockets.start(http, newcomer, token)  # noqa: B023
                    )
                    stack.push_async_callback(_finished, joining)
                    survivors = [*running, newcomer]
                elif options.kill == "node":
                    assert rabbit is not None
                    await _check_in_due_now(url, timer_home)
                    dead = rabbit.cluster.nodes[0].name
                    await asyncio.to_thread(rabbit.cluster.kill_node, 0)
                    failover_task = asyncio.create_task(
                        _consumed_again(rabbit, options.partitions, dead, fault_at,
                                        options.timeout_s)
                    )  # fmt: skip
                else:
                    await _check_in_due_now(url, timer_home)
            await asyncio.sleep(max(0.0, started + (tick + 1) / options.rate - time.monotonic()))

        async def routine_done() -> bool:
            return routine.acked >= routine.sent

        await _until(routine_done, options.timeout_s)
        acked = routine.acked

        async def stored_all() -> bool:
            return await db.routine_stored(gateways) >= acked

        await _until(stored_all, options.timeout_s)
        stored_at = time.monotonic()
        survivor_names = [w.name for w in survivors]

        def expected(home: str) -> list[str]:
            # A socket opened after the press has the alarm in its snapshot, not as a frame.
            at = pressed[home]
            return [n for n in survivor_names if sockets.snapshots.get(n, at + 1) <= at]

        async def panics_done() -> bool:
            confirmed = not any(agent.outbox.unconfirmed() for agent in agents)
            everywhere = all(home in sockets.seen[n] for home in pressed for n in expected(home))
            timer = (await db.alarms("missed_check_in")).get(str(timer_home.home_id), 0) > 0
            return confirmed and everywhere and timer

        await _until(panics_done, options.timeout_s)
        if failover_task is not None:
            failover_s = await failover_task
        stored = await db.routine_stored(gateways)
        panic_alarms = await db.alarms("panic")
        timer_alarms = (await db.alarms("missed_check_in")).get(str(timer_home.home_id), 0)
        target = assign(options.partitions, {w.client_id for w in survivors})

        async def settled() -> bool:
            # The survivors' shares as assign() gives them (the lease hand-overs are done).
            owners = await db.owners()
            return all(owners.get(p) == w for w, parts in target.items() for p in parts)

        await _until(settled, options.timeout_s)
        owners = await db.owners()
        cpu = {
            w.name: round(_cpu_s(w) - cpu_before.get(w.name, 0.0), 2)
            for w in survivors
            if w.process is not None and w.process.poll() is None
        }
    fanout: list[float] = []
    worst: float | None = None
    for key, at in pressed.items():
        firsts = [sockets.seen[n][key][0] for n in survivor_names if sockets.seen[n].get(key)]
        if firsts:
            earliest = min(firsts)
            # Every other socket's delay behind the first (the first's own 0 left out).
            fanout += [(t - earliest) * 1000 for t in sorted(firsts)[1:]]
            worst = max(worst or 0.0, earliest - at)
    seen_everywhere = sum(
        all(len(sockets.seen[n].get(key, [])) == 1 for n in expected(key)) for key in pressed
    )
    extra_on_sockets = sum(
        max(0, len(sockets.seen[n].get(key, [])) - 1) for n in survivor_names for key in pressed
    )
    lost = sum(1 for key in pressed if panic_alarms.get(key, 0) == 0) + max(0, acked - stored)
    lost += 0 if timer_alarms else 1
    duplicates = sum(max(0, panic_alarms.get(key, 0) - 1) for key in pressed)
    duplicates += max(0, timer_alarms - 1) + extra_on_sockets
    by_owner: dict[str, int] = defaultdict(int)
    for owner in owners.values():
        by_owner[str(owner)] += 1
    return ScaleResult(
        workers=options.workers,
        nodes=options.nodes,
        homes=options.homes,
        partitions=options.partitions,
        kill=options.kill,
        msgs_per_s=round(stored / (stored_at - started), 1) if stored_at > started else None,
        routine_sent=routine.sent,
        routine_stored=stored,
        panics_sent=len(pressed),
        alarms_raised=sum(panic_alarms.values()),
        lost=lost,
        duplicates=duplicates,
        failover_s=None if failover_s is None else round(failover_s, 2),
        fanout_p99_ms=_percentile(fanout, 99),
        fanout_p50_ms=_percentile(fanout, 50),
        seen_on_every_survivor=seen_everywhere,
        timer_alarms=timer_alarms,
        resend_rounds=sum(a.counters.resent for a in agents),
        owners_after=dict(by_owner),
        worst_press_to_socket_s=None if worst is None else round(worst, 2),
        cpu_s=cpu,
    )


def _cpu_s(worker: HubWorker) -> float:
    """User + system CPU seconds of the worker's process so far (Linux ``/proc``)."""
    if worker.process is None or worker.process.poll() is not None:
        return 0.0
    try:
        fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _finished(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(Exception):
        await task


@contextlib.asynccontextmanager
async def _cancelling(sockets: _Sockets) -> Any:
    try:
        yield
    finally:
        await sockets.stop()


async def _failover(
    db: _Db, partitions: int, survivors: list[HubWorker], since: float, limit_s: float
) -> float | None:
    """Seconds from ``since`` until every partition is held by a survivor."""
    names = {w.client_id for w in survivors}

    async def moved() -> bool:
        owners = await db.owners()
        return len(owners) == partitions and all(o in names for o in owners.values())

    return time.monotonic() - since if await _until(moved, limit_s, every=0.1) else None


async def _joined(
    db: _Db,
    partitions: int,
    members: list[HubWorker],
    newcomer: HubWorker,
    since: float,
    limit_s: float,
) -> float | None:
    """Seconds from the new worker's first heartbeat (its process is up; ``since`` if never
    seen) until it holds its whole share."""
    from hub.cluster.partitions import assign

    share = assign(partitions, {w.client_id for w in members})[newcomer.client_id]
    first_beat: list[float] = []

    async def holds() -> bool:
        if not first_beat and await db.member(newcomer.client_id):
            first_beat.append(time.monotonic())
        owners = await db.owners()
        return all(owners.get(p) == newcomer.client_id for p in share)

    if not await _until(holds, limit_s, every=0.1):
        return None
    return time.monotonic() - (first_beat[0] if first_beat else since)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--workers", type=int, default=3, help="hub workers")
    parser.add_argument(
        "--nodes", type=int, default=1, help="broker nodes: 1 (Mosquitto) or 3 (RabbitMQ cluster)"
    )
    parser.add_argument("--kill", choices=KILLS, default="worker")
    parser.add_argument("--homes", type=int, default=24)
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--rate", type=float, default=100.0, help="routine events per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of stream")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--work", default="", help="keep the workers' logs in this folder")


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    try:
        options = ScaleOptions(
            workers=args.workers,
            homes=args.homes,
            kill=args.kill,
            nodes=args.nodes,
            partitions=args.partitions,
            rate=args.rate,
            duration_s=args.duration,
            timeout_s=args.timeout,
        )
    except ValueError as err:
        raise SystemExit(f"bench scale: {err}") from None
    with contextlib.ExitStack() as stack:
        if args.work:
            work = Path(args.work)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ta-bench-scale-")))
        rabbit = None
        if options.nodes > 1:
            started = time.monotonic()
            # A loaded machine boots a node in minutes, not seconds: --timeout bounds it too.
            rabbit = stack.enter_context(
                running_rabbit(work / "rabbit", timeout=max(180.0, 2 * options.timeout_s))
            )
            up_s = time.monotonic() - started
            print(f"RabbitMQ cluster of {options.nodes} nodes up in {up_s:.1f} s")
        result = asyncio.run(scenario(options, work, rabbit))
    print(
        f"{result.workers} workers, {result.nodes} broker nodes, {result.homes} homes,"
        f" {result.partitions} partitions, kill={result.kill}: {result.routine_stored}/"
        f"{result.routine_sent} routine events stored ({result.msgs_per_s} msgs/s),"
        f" {result.alarms_raised} alarms for {result.panics_sent} panics, missed check-in"
        f" alarms {result.timer_alarms}, lost {result.lost}, duplicates {result.duplicates},"
        f" failover {result.failover_s} s, fan-out p50 {result.fanout_p50_ms} ms"
        f" p99 {result.fanout_p99_ms} ms; CPU seconds per worker {result.cpu_s}"
    )
    print(json.dumps(asdict(result)))
    return 0
