"""Broker security on a RabbitMQ cluster: the hub decides at run time (docs/adr/0146).

No file and no reload: every node asks the hub, through RabbitMQ's HTTP auth backend, whether a
device may connect (``user``, ``vhost``), touch a queue or exchange (``resource``) and publish or
subscribe to a topic (``topic``); the answers come from the ``devices`` table, so provisioning,
a new secret and revocation hold on every node as soon as they are committed. RabbitMQ asks
``topic`` once per connection and topic (it caches the answer for the connection), so a revoked
device's *live* connections are closed through the management API (``kick``).

The same :class:`RabbitSecurity` keeps each device's topics bound to its home's partition queue
(``hub.ingest.partitions``, docs/adr/0145), so a worker owning that partition receives them.

The auth routes are public (the broker has no session) but live under a secret path segment
(``hub.broker_auth_token``): a caller without it gets 404, as for a route that does not exist.
Only the broker nodes are configured with the URL; keep the hub's port off the devices' network.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import MqttSettings
from hub.auth.web import public
from hub.cluster.partitions import partition_of
from hub.db.models import Device
from hub.ingest.partitions import partition_queue
from hub.registry.broker import CHANNELS
from hub.registry.credentials import verify_mosquitto_hash
from protocol import TopicError, validate_device_id

_LOGGER = logging.getLogger(__name__)

EXCHANGE = "amq.topic"
VHOST = "/"
ALLOW = "allow"
DENY = "deny"
CACHE_S = 1.0  # how long one worker reuses a device's row (revocation holds within this)
# At most this many of the broker's questions read the database at once: after a broker node
# is lost every device reconnects and asks user, vhost, resource and topic together; unbounded,
# those lookups took the whole connection pool and the lease heartbeat waited 30 s for one, lost
# its leases and the partitions churned between workers (ADR 0169).
LOOKUPS = 4


def routing_token(device_id: str) -> str:
    """A device id as one word of an AMQP routing key: the MQTT plugin swaps '.' and '/'."""
    return device_id.replace(".", "/")


def binding_key(device_id: str) -> str:
    """The binding that carries every topic a device publishes (``ta/v1/d/<id>/<channel>``)."""
    return f"ta.v1.d.{routing_token(device_id)}.*"


class RabbitAdmin:
    """The few management-API calls the hub makes, trying each configured node in turn."""

    def __init__(self, urls: Sequence[str], user: str, password: str) -> None:
        if not urls:
            raise ValueError("no RabbitMQ management API URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._auth = aiohttp.BasicAuth(user, password)
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auth=self._auth, timeout=aiohttp.ClientTimeout(total=10)
            )
        last: Exception | None = None
        for url in self.urls:
            try:
                async with self._session.request(method, url + path, json=body) as resp:
                    if resp.status >= 500:
                        last = RuntimeError(f"{method} {path}: {resp.status}")
                        continue
                    data = await resp.json() if resp.content_type == "application/json" else None
                    return resp.status, data
            except (aiohttp.ClientError, TimeoutError) as err:
                last = err
        raise ConnectionError(f"no RabbitMQ node answered {method} {path}: {last}")

    async def ensure_queue(self, name: str) -> None:
        """Declare a partition queue as the MQTT plugin does: durable, quorum."""
        status, data = await self._call(
            "PUT",
            f"/api/queues/{quote(VHOST, safe='')}/{quote(name, safe='')}",
            {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}},
        )
        if status >= 400:
            raise RuntimeError(f"declaring queue {name}: {status} {data}")

    async def bindings(self) -> set[tuple[str, str]]:
        """(queue, routing key) of every binding from ``amq.topic`` to a partition queue."""
        _, data = await self._call(
            "GET", f"/api/exchanges/{quote(VHOST, safe='')}/{EXCHANGE}/bindings/source"
        )
        prefix = partition_queue(0)[: -len("00qos1")]
        return {
            (b["destination"], b["routing_key"])
            for b in data or []
            if b.get("destination_type") == "queue" and b["destination"].startswith(prefix)
        }

    async def bind(self, queue: str, key: str) -> None:
        """Bind ``key`` from ``amq.topic`` to ``queue`` (idempotent)."""
        status, data = await self._call(
            "POST",
            f"/api/bindings/{quote(VHOST, safe='')}/e/{EXCHANGE}/q/{quote(queue, safe='')}",
            {"routing_key": key},
        )
        if status >= 400:
            raise RuntimeError(f"binding {key} to {queue}: {status} {data}")

    async def unbind(self, queue: str, key: str) -> None:
        """Remove that binding (a missing one is fine)."""
        props = quote(key.replace("%", "%25"), safe="")
        await self._call(
            "DELETE",
            f"/api/bindings/{quote(VHOST, safe='')}/e/{EXCHANGE}/q/{quote(queue, safe='')}/{props}",
        )

    async def close_connections(self, username: str) -> None:
        """Close every connection of ``username``, on every node."""
        await self._call("DELETE", f"/api/connections/username/{quote(username, safe='')}")

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class RabbitSecurity:
    """Bindings to partitions and live revocation; the interface of ``BrokerSecurity``."""

    def __init__(self, admin: RabbitAdmin, partitions: int, hub_username: str) -> None:
        self.admin = admin
        self.partitions = partitions
        self.hub_username = hub_username
        self._bound: set[tuple[str, str]] | None = None
        self._revoked: set[str] | None = None
        self._queues_ready = False

    async def sync(self, session: AsyncSession) -> bool:
        """Bind every live device's topics to its home's partition; unbind the others; close
        the connections of devices revoked since the last sync. True when anything changed."""
        rows = (await session.execute(select(Device.id, Device.home_id, Device.state))).all()
        wanted: set[tuple[str, str]] = set()
        revoked: set[str] = set()
        for device_id, home_id, state in rows:
            if state == "revoked":
                revoked.add(device_id)
            elif _device_account(device_id, self.hub_username):
                wanted.add(
                    (
                        partition_queue(partition_of(home_id, self.partitions)),
                        binding_key(device_id),
                    )
                )
        if not self._queues_ready:
            for p in range(self.partitions):
                await self.admin.ensure_queue(partition_queue(p))
            self._queues_ready = True
        if self._bound is None:
            self._bound = await self.admin.bindings()
        changed = False
        for queue, key in sorted(wanted - self._bound):
            await self.admin.bind(queue, key)
            self._bound.add((queue, key))
            changed = True
        for queue, key in sorted(self._bound - wanted):
            await self.admin.unbind(queue, key)
            self._bound.discard((queue, key))
            changed = True
        if self._revoked is not None:
            for device_id in sorted(revoked - self._revoked):
                await self.admin.close_connections(device_id)
                changed = True
        self._revoked = revoked
        return changed

    async def kick(self, client_id: str, broker: MqttSettings) -> bool:
        """Close a (revoked) device's connections on every node at once."""
        await self.admin.close_connections(client_id)
        return True

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.admin.close()


def _device_account(device_id: str, hub_username: str) -> bool:
    try:
        validate_device_id(device_id)
    except TopicError:
        return False
    return device_id != hub_username


# ------------------------------------------------------------------ the HTTP auth backend


@dataclass(frozen=True, slots=True)
class _DeviceAuth:
    secret_hash: str | None
    writes: frozenset[str]  # routing tokens it may publish as (itself + relayed sensors)


class DeviceAuthority:
    """Answers the broker's questions from the ``devices`` table (a 1 s cache per device)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        hub_username: str = "",
        *,
        lookups: int = LOOKUPS,
    ) -> None:
        if lookups < 1:
            raise ValueError(f"lookups must be at least 1, not {lookups}")
        self.sessionmaker = sessionmaker
        self.hub_username = hub_username
        self._cache: dict[str, tuple[float, _DeviceAuth | None]] = {}
        self._verified: dict[tuple[str, str], bool] = {}
        self._lookups = asyncio.Semaphore(lookups)
        # One lookup per device at a time: the questions that come together share it.
        self._pending: dict[str, asyncio.Task[_DeviceAuth | None]] = {}
        self.reads = 0  # database lookups made (tests, figures)

    async def device(self, device_id: str) -> _DeviceAuth | None:
        """The device's credentials and topics; None if it may not connect at all."""
        hit = self._cache.get(device_id)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        task = self._pending.get(device_id)
        if task is None:
            task = asyncio.create_task(self._lookup(device_id), name="broker-auth-lookup")
            self._pending[device_id] = task
            task.add_done_callback(functools.partial(self._done, device_id))
        # Shielded: a question the broker gave up on does not cancel the others' lookup.
        return await asyncio.shield(task)

    def _done(self, device_id: str, task: asyncio.Task[_DeviceAuth | None]) -> None:
        self._pending.pop(device_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here: a failure nobody awaited is not logged twice

    async def _lookup(self, device_id: str) -> _DeviceAuth | None:
        now = time.monotonic()
        found: _DeviceAuth | None = None
        if _device_account(device_id, self.hub_username) and not device_id.startswith("_"):
            async with self._lookups, self.sessionmaker() as session:
                self.reads += 1
                row = (
                    await session.execute(
                        select(Device.secret_hash, Device.state).where(Device.id == device_id)
                    )
                ).first()
                if row is not None and row[1] != "revoked" and row[0]:
                    relayed = (
                        await session.execute(
                            select(Device.id).where(
                                Device.gateway_id == device_id, Device.state != "revoked"
                            )
                        )
                    ).scalars()
                    writes = frozenset(routing_token(d) for d in [device_id, *relayed])
                    found = _DeviceAuth(row[0], writes)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[device_id] = (now, found)
        return found

    async def user(self, form: dict[str, str]) -> bool:
        """May this username, password and client id connect?"""
        username = form.get("username", "")
        client_id = form.get("client_id", username)
        # A device's client id is its device id (docs/adr/0013): it can end only its own
        # older session, never another device's or a hub worker's.
        if client_id != username:
            return False
        device = await self.device(username)
        if device is None or device.secret_hash is None:
            return False
        key = (device.secret_hash, form.get("password", ""))
        ok = self._verified.get(key)
        if ok is None:
            ok = await asyncio.to_thread(verify_mosquitto_hash, *key)
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[key] = ok
        return ok

    async def vhost(self, form: dict[str, str]) -> bool:
        """Only the MQTT plugin's vhost, and only for a live device."""
        return (
            form.get("vhost") == VHOST and await self.device(form.get("username", "")) is not None
        )

    async def resource(self, form: dict[str, str]) -> bool:
        """The topic exchange, and the device's own session queues."""
        username = form.get("username", "")
        if await self.device(username) is None:
            return False
        kind, name = form.get("resource"), form.get("name", "")
        if kind == "exchange":
            return name == EXCHANGE
        if kind == "queue":
            return name in (
                f"mqtt-subscription-{username}qos0",
                f"mqtt-subscription-{username}qos1",
            )
        return False

    async def topic(self, form: dict[str, str]) -> bool:
        """Publish on its own (and its relayed sensors') channels; read its own commands."""
        device = await self.device(form.get("username", ""))
        if device is None or form.get("name") != EXCHANGE:
            return False
        words = form.get("routing_key", "").split(".")
        if form.get("permission") == "write":
            return (
                len(words) == 5
                and words[:3] == ["ta", "v1", "d"]
                and words[3] in device.writes
                and words[4] in CHANNELS
            )
        if form.get("permission") == "read":
            return (
                len(words) >= 5
                and words[:3] == ["ta", "v1", "c"]
                and words[3] in device.writes
                and "#" not in words[3:4]
            )
        return False


AUTHORITY = web.AppKey("broker_authority", DeviceAuthority)
AUTH_TOKEN = web.AppKey("broker_auth_token", str)
_KINDS = ("user", "vhost", "resource", "topic")


@public("asked by the broker's HTTP auth backend; the path carries the broker's secret token")
async def broker_auth(request: web.Request) -> web.Response:
    """``POST /broker-auth/{token}/{kind}``: ``allow`` or ``deny`` (docs/adr/0146)."""
    token = request.app.get(AUTH_TOKEN, "")
    given = request.match_info["token"]
    kind = request.match_info["kind"]
    authority = request.app.get(AUTHORITY)
    if (
        not token
        or authority is None
        or not hmac.compare_digest(token.encode(), given.encode())
        or kind not in _KINDS
    ):
        raise web.HTTPNotFound()
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    allowed = await getattr(authority, kind)(form)
    if not allowed and kind == "user":
        _LOGGER.info("broker: refused %r", form.get("username", ""))
    return web.Response(text=ALLOW if allowed else DENY)


_TOKEN_IN_PATH = re.compile(r"/broker-auth/[^/\s]+/")


class HideAuthToken(logging.Filter):
    """Keep the auth backend's secret out of the access log (the path carries it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/broker-auth/" in message:
            record.msg, record.args = _TOKEN_IN_PATH.sub("/broker-auth/***/", message), None
        return True


HIDE_AUTH_TOKEN = HideAuthToken()


def urls(text: str) -> list[str]:
    """Comma-separated URLs, stripped."""
    return [u.strip() for u in text.split(",") if u.strip()]
