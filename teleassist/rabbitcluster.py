"""Start a real 3-node RabbitMQ cluster (MQTT plugin) on free ports, for tests and benchmarks.

Each node is a ``rabbitmq-server`` process of the Debian package with its own data folder,
log folder, configuration and ports (AMQP, MQTT, management API, Erlang distribution); the
nodes find each other with ``classic_config`` peer discovery and share an Erlang cookie kept
in the cluster's own ``HOME``. MQTT durable sessions are quorum queues (replicated on every
node), so a node can be stopped without losing what a session holds (docs/adr/0145).

Devices authenticate through the HTTP auth backend (``auth_url``: the hub's broker-auth
routes, docs/adr/0146); the internal database holds only the administrator and the hub's
account, tried first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from config.ports import listen_port, wait_for_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
PLUGINS = ["rabbitmq_management", "rabbitmq_mqtt", "rabbitmq_auth_backend_http"]


def rabbitmq_available() -> bool:
    """True when the RabbitMQ server scripts are installed."""
    return (RABBITMQ_BIN / "rabbitmq-server").exists() or shutil.which(
        "rabbitmq-server"
    ) is not None


@dataclass
class RabbitNode:
    """One node's names, ports and process."""

    index: int
    name: str
    amqp_port: int
    mqtt_port: int
    api_port: int
    dist_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class RabbitCluster:
    """Three (or ``size``) RabbitMQ nodes on this machine.

    ``auth_url``: the base URL of the HTTP auth backend (``…/user``, ``/vhost``, ``/resource``,
    ``/topic`` are appended); empty: internal users only.
    """

    root: Path
    size: int = 3
    auth_url: str = ""
    admin_user: str = "admin"
    admin_password: str = field(default_factory=lambda: secrets.token_hex(12))
    hub_user: str = "hub"
    hub_password: str = field(default_factory=lambda: secrets.token_hex(12))
    host: str = "127.0.0.1"
    nodes: list[RabbitNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        tag = secrets.token_hex(3)
        for i in range(self.size):
            folder = self.root / f"node{i}"
            self.nodes.append(
                RabbitNode(
                    index=i,
                    name=f"ta{tag}n{i}@localhost",
                    amqp_port=listen_port(),
                    mqtt_port=listen_port(),
                    api_port=listen_port(),
                    dist_port=listen_port(),
                    folder=folder,
                )
            )
        self.cookie = secrets.token_hex(16)

    # ------------------------------------------------------------------ ports

    @property
    def mqtt_ports(self) -> list[int]:
        """Each node's MQTT port, by node index."""
        return [n.mqtt_port for n in self.nodes]

    @property
    def api_ports(self) -> list[int]:
        """Each node's management API port, by node index."""
        return [n.api_port for n in self.nodes]

    def api_url(self, index: int | None = None) -> str:
        """A running node's management API (``index``: that node's)."""
        if index is None:
            index = next(n.index for n in self.nodes if n.process is not None)
        return f"http://{self.host}:{self.nodes[index].api_port}"

    # ------------------------------------------------------------------ files

    def _config(self, node: RabbitNode) -> str:
        lines = [
            f"listeners.tcp.default = {self.host}:{node.amqp_port}",
            f"mqtt.listeners.tcp.default = {self.host}:{node.mqtt_port}",
            f"management.tcp.port = {node.api_port}",
            f"management.tcp.ip = {self.host}",
            "mqtt.allow_anonymous = false",
            "mqtt.vhost = /",
            "mqtt.exchange = amq.topic",
            # Durable MQTT sessions (the hub's partitions, devices' command queues) are quorum
            # queues: replicated, they survive a node stop.
            "mqtt.durable_queue_type = quorum",
            "mqtt.prefetch = 1000",
            # No expiry: the partition queues the hub declares have no x-expires either.
            "mqtt.subscription_ttl = infinity",
            # Retained status lives in each node's own store (not replicated in 3.10).
            "mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_dets",
            "loopback_users = none",
            f"default_user = {self.admin_user}",
            f"default_pass = {self.admin_password}",
            "default_user_tags.administrator = true",
            "default_permissions.configure = .*",
            "default_permissions.read = .*",
            "default_permissions.write = .*",
            "cluster_formation.peer_discovery_backend = classic_config",
            "cluster_partition_handling = pause_minority",
            "log.console = false",
            "log.file.level = info",
            "vm_memory_high_watermark.relative = 0.2",
            "disk_free_limit.absolute = 50MB",
        ]
        for i, other in enumerate(self.nodes, start=1):
            lines.append(f"cluster_formation.classic_config.nodes.{i} = {other.name}")
        lines.append("auth_backends.1 = internal")
        if self.auth_url:
            base = self.auth_url.rstrip("/")
            lines += [
                "auth_backends.2 = http",
                "auth_http.http_method = post",
                f"auth_http.user_path = {base}/user",
                f"auth_http.vhost_path = {base}/vhost",
                f"auth_http.resource_path = {base}/resource",
                f"auth_http.topic_path = {base}/topic",
            ]
        return "\n".join(lines) + "\n"

    def _env(self, node: RabbitNode) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        folder = node.folder
        env.update(
            HOME=str(self.root),
            RABBITMQ_NODENAME=node.name,
            RABBITMQ_USE_LONGNAME="false",
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_NODE_PORT=str(node.amqp_port),
            RABBITMQ_DIST_PORT=str(node.dist_port),
            RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(folder / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
            RABBITMQ_MNESIA_DIR=str(folder / "mnesia" / "data"),
            RABBITMQ_LOG_BASE=str(folder / "log"),
            RABBITMQ_PID_FILE=str(folder / "rabbit.pid"),
            RABBITMQ_SERVER_ERL_ARGS="+P 1048576",
        )
        return env

    def _write_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        cookie = self.root / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[" + ",".join(PLUGINS) + "].\n")
        for node in self.nodes:
            (node.folder / "log").mkdir(parents=True, exist_ok=True)
            (node.folder / "rabbitmq.conf").write_text(self._config(node))
            (node.folder / "advanced.config").write_text("[].\n")

    # ------------------------------------------------------------------ life

    def start(self, timeout: float = 180.0) -> None:
        """Start the nodes one after another, wait until the cluster is whole (every node
        running, every MQTT listener up, every node a member of the MQTT client-id registry),
        then create the hub's account.

        One at a time, not together: RabbitMQ 3.10's MQTT plugin keeps its client ids in a
        Raft cluster (``mqtt_node``) that each node joins when its plugin starts, and a join
        that comes while the first leader has not committed its term is refused
        (``cluster_change_not_permitted``) and never retried. Started together, the registry
        was seen with two members of three: stopping one of them left it without a majority,
        every new MQTT connection was refused ("server unavailable") and the stopped node
        could not start its MQTT listener again (ADR 0161).
        """
        self._write_files()
        deadline = time.monotonic() + timeout
        try:
            for node in self.nodes:
                self._spawn(node)
                self._wait_booted(node, max(1.0, deadline - time.monotonic()))
            self.wait_whole(timeout=max(1.0, deadline - time.monotonic()))
            self._create_hub_user()
        except BaseException:
            self.stop()
            raise

    def _wait_booted(self, node: RabbitNode, timeout: float) -> None:
        """Until the node's MQTT listener and management API accept connections (its MQTT
        plugin has joined the client-id registry by then)."""
        deadline = time.monotonic() + timeout
        for port in (node.mqtt_port, node.api_port):
            while True:
                self._check_alive(node)
                try:
                    wait_for_port(self.host, port, 1.0)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"RabbitMQ node {node.index} not listening on {port} after "
                            f"{timeout:.0f} s; see {node.folder / 'log'}"
                        ) from None

    @staticmethod
    def _check_alive(node: RabbitNode) -> None:
        if node.process is not None and node.process.poll() is not None:
            raise RuntimeError(
                f"RabbitMQ node {node.index} exited ({node.process.returncode}); "
                f"see {node.folder / 'log'}"
            )

    def _spawn(self, node: RabbitNode) -> None:
        log = (node.folder / "log" / "stdout.log").open("ab")
        node.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self._env(node),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()

    def stop_node(self, index: int, timeout: float = 60.0) -> None:
        """Stop one node the way an operator (or a container stop) does: SIGTERM, wait."""
        node = self.nodes[index]
        proc = node.process
        if proc is None:
            return
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        node.process = None

    def kill_node(self, index: int) -> None:
        """Kill one node abruptly (SIGKILL to its whole process group)."""
        node = self.nodes[index]
        if node.process is not None:
            _signal_group(node.process, signal.SIGKILL)
            node.process.wait()
            node.process = None

    def start_node(self, index: int, timeout: float = 120.0) -> None:
        """Start a stopped (or killed) node again; return once it has rejoined and the
        cluster is whole."""
        node = self.nodes[index]
        if node.process is not None:
            return
        deadline = time.monotonic() + timeout
        self._spawn(node)
        self._wait_booted(node, timeout)
        self.wait_whole(timeout=max(1.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop every node (used at the end of a test session)."""
        for node in self.nodes:
            if node.process is not None:
                _signal_group(node.process, signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _signal_group(node.process, signal.SIGKILL)
                    node.process.wait()
                node.process = None

    # ------------------------------------------------------------------ admin API

    def api(self, method: str, path: str, body: Any = None, index: int | None = None) -> Any:
        """Call the management API of a running node as the administrator."""
        data = None if body is None else json.dumps(body).encode()
        # Always http://127.0.0.1:<port> (api_url), never a caller's scheme.
        req = urllib.request.Request(self.api_url(index) + path, data=data, method=method)  # noqa: S310
        token = b64encode(f"{self.admin_user}:{self.admin_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            text = resp.read()
        return json.loads(text) if text else None

    def wait_running(self, count: int, timeout: float = 60.0) -> None:
        """Wait until ``count`` nodes report running (through any running node's API)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                nodes = self.api("GET", "/api/nodes?columns=name,running")
                last = nodes
                if sum(1 for n in nodes if n.get("running")) >= count:
                    return
            except (OSError, urllib.error.URLError, StopIteration, ValueError) as err:
                last = err
            time.sleep(0.2)
        raise TimeoutError(f"RabbitMQ cluster not {count} nodes running: {last}")

    def mqtt_registry(self, index: int | None = None) -> tuple[set[str], str | None]:
        """(members, leader) of the MQTT plugin's client-id registry (the ``mqtt_node`` Raft
        cluster of RabbitMQ 3.10), asked of a running node through ``rabbitmqctl eval``;
        the leader is None while it has none. Raises ``RuntimeError`` if the node cannot say."""
        if index is None:
            index = next(n.index for n in self.nodes if n.process is not None)
        node = self.nodes[index]
        done = subprocess.run(
            [
                str(RABBITMQ_BIN / "rabbitmqctl"),
                "-n",
                node.name,
                "eval",
                "case ra:members({mqtt_node, node()}) of "
                "{ok, Ms, {_, L}} -> {[atom_to_binary(N) || {_, N} <- Ms], atom_to_binary(L)}; "
                "Other -> {error, Other} end.",
            ],
            env=self._env(node),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return _parse_registry(done.stdout, done.stderr, done.returncode)

    def wait_whole(self, timeout: float = 120.0) -> None:
        """Wait until every started node is running, listens for MQTT and is a member of the
        MQTT client-id registry, and the registry has a leader: a test (or a worker) that
        starts then sees the whole cluster, not one still rejoining."""
        deadline = time.monotonic() + timeout
        up = [n for n in self.nodes if n.process is not None]
        names = {n.name for n in up}
        self.wait_running(len(up), timeout=timeout)
        for node in up:
            self._wait_booted(node, max(1.0, deadline - time.monotonic()))
        last: object = None
        while True:
            try:
                members, leader = self.mqtt_registry()
                last = (sorted(members), leader)
                if names <= members and leader in names:
                    return
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                last = err
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"RabbitMQ MQTT client-id registry not whole ({sorted(names)}): {last}"
                )
            time.sleep(0.5)

    def _create_hub_user(self) -> None:
        self.api("PUT", f"/api/users/{self.hub_user}", {"password": self.hub_password, "tags": ""})
        self.api(
            "PUT",
            f"/api/permissions/%2F/{self.hub_user}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )


def _parse_registry(stdout: str, stderr: str, returncode: int) -> tuple[set[str], str | None]:
    """``rabbitmqctl eval``'s answer of :meth:`RabbitCluster.mqtt_registry`, e.g.
    ``{[<<"a@localhost">>,<<"b@localhost">>],<<"a@localhost">>}``."""
    text = stdout.strip()
    if returncode != 0 or not text.startswith("{["):
        raise RuntimeError(f"mqtt_node members unknown: {text or stderr.strip()}")
    names = re.findall(r'<<"([^"]+)">>', text)
    if not names or not text.endswith("}"):
        raise RuntimeError(f"mqtt_node members unknown: {text}")
    members_part = text[2 : text.index("]")]
    members = set(re.findall(r'<<"([^"]+)">>', members_part))
    leader = names[-1] if len(names) > len(members) else None
    return members, leader


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class AuthRelay:
    """The broker's HTTP auth backend address, relayed to whichever hub worker answers.

    In production a load balancer in front of the workers plays this part (docs/deployment.md);
    here a small aiohttp server in a thread of its own forwards ``POST /broker-auth/...`` to the
    first of ``targets`` that answers, so a test can start, stop and kill workers while the
    cluster keeps one fixed ``auth_url``.
    """

    def __init__(self) -> None:
        self.port = listen_port()
        self.targets: list[str] = []
        self._loop: Any = None
        self._thread: Any = None
        self._ready: Any = None

    @property
    def url(self) -> str:
        """What the broker nodes are configured with (the token follows)."""
        return f"http://127.0.0.1:{self.port}/broker-auth"

    def start(self) -> None:
        """Serve in a daemon thread until :meth:`stop`."""
        import threading

        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auth-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("auth relay did not start")

    def _run(self) -> None:
        import asyncio

        import aiohttp
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        client: Any = None

        async def relay(request: web.Request) -> web.Response:
            body = await request.read()
            headers = {"Content-Type": request.headers.get("Content-Type", "")}
            for target in list(self.targets):
                try:
                    async with client.post(
                        target + request.path_qs, data=body, headers=headers
                    ) as reply:
                        return web.Response(status=reply.status, body=await reply.read())
                except (aiohttp.ClientError, TimeoutError):
                    continue
            return web.Response(status=503, text="deny")

        async def main() -> web.AppRunner:
            nonlocal client
            client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
            app = web.Application()
            app.router.add_post("/broker-auth/{tail:.*}", relay)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        runner = loop.run_until_complete(main())
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(client.close())
        loop.close()

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


class TcpBalancer:
    """A TCP load balancer in front of the nodes' MQTT ports (HAProxy's part in production).

    Each new connection goes to the next backend in turn that accepts it; a stopped node's
    clients are disconnected by the node and reconnect through here to a running one. Runs in
    a daemon thread with its own event loop; bytes are copied as they come.
    """

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.port = listen_port()
        self._next = 0
        self._loop: Any = None
        self._thread: Any = None
        self._ready: Any = None
        self.connections = 0

    def start(self) -> None:
        """Listen on ``self.port`` until :meth:`stop`."""
        import threading

        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-balancer", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("balancer did not start")

    def _run(self) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(len(self.backends)):
                host, port = self.backends[self._next % len(self.backends)]
                self._next += 1
                try:
                    up_reader, up_writer = await asyncio.open_connection(host, port)
                except OSError:
                    continue
                self.connections += 1
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
                return
            writer.close()

        server = loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", self.port))
        self._ready.set()
        loop.run_forever()
        server.close()
        loop.close()

    def stop(self) -> None:
        """Stop accepting (open relays end with the process or their peers)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


@dataclass
class RabbitSetup:
    """A running cluster, its auth relay, the balancer in front of it and the hub's auth
    token: what hub workers on the cluster are configured with (:meth:`hub_env`)."""

    cluster: RabbitCluster
    relay: AuthRelay
    balancer: TcpBalancer
    token: str

    def hub_env(self, **extra: str) -> dict[str, str]:
        """What every hub worker on this cluster is given (on top of ``cluster_env``)."""
        c = self.cluster
        return {
            "TELEASSIST_MQTT__HOST": "127.0.0.1",
            "TELEASSIST_MQTT__PORT": str(self.balancer.port),
            "TELEASSIST_MQTT__USERNAME": c.hub_user,
            "TELEASSIST_MQTT__PASSWORD": c.hub_password,
            "TELEASSIST_MQTT__KEEPALIVE_S": "5",
            "TELEASSIST_HUB__INGEST_TRANSPORT": "rabbitmq",
            # One owner per partition through PostgreSQL leases (ADR 0147).
            "TELEASSIST_HUB__PARTITIONS": "64",
            "TELEASSIST_HUB__INGEST_PERSISTENT_SESSION": "false",
            "TELEASSIST_HUB__RABBITMQ_API_URLS": ",".join(
                f"http://127.0.0.1:{p}" for p in c.api_ports
            ),
            "TELEASSIST_HUB__RABBITMQ_API_USER": c.admin_user,
            "TELEASSIST_HUB__RABBITMQ_API_PASSWORD": c.admin_password,
            "TELEASSIST_HUB__BROKER_AUTH_TOKEN": self.token,
            "TELEASSIST_HUB__BROKER_SYNC_INTERVAL_S": "2",
            **extra,
        }

    def forget_partitions(self) -> int:
        """Delete the hub's partition queues (and so their bindings and whatever they hold):
        a fresh database's workers start from empty queues, not from another run's homes,
        whose device ids a new seed reuses. Returns how many were deleted."""
        prefix = "mqtt-subscription-_hub-p"
        queues = self.cluster.api("GET", "/api/queues/%2F?columns=name") or []
        names = [q["name"] for q in queues if str(q.get("name", "")).startswith(prefix)]
        for name in names:
            self.cluster.api("DELETE", f"/api/queues/%2F/{quote(name, safe='')}")
        return len(names)


@contextlib.contextmanager
def running_rabbit(root: Path, timeout: float = 180.0) -> Iterator[RabbitSetup]:
    """A 3-node cluster in ``root`` with its auth relay and balancer, stopped on exit
    (``timeout``: for the whole start, one node after another)."""
    token = secrets.token_urlsafe(24)
    relay = AuthRelay()
    relay.start()
    cluster = RabbitCluster(root, auth_url=f"{relay.url}/{token}")
    balancer = TcpBalancer([])
    try:
        cluster.start(timeout)
        balancer.backends = [("127.0.0.1", p) for p in cluster.mqtt_ports]
        balancer.start()
        yield RabbitSetup(cluster, relay, balancer, token)
    finally:
        balancer.stop()
        cluster.stop()
        relay.stop()
