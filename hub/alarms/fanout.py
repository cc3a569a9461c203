"""Alarm events across hub workers: PostgreSQL LISTEN/NOTIFY (docs/adr/0038).

The engine calls :func:`send_signal` inside the transaction that changes an alarm, so
PostgreSQL delivers the signal when — and only if — the change commits. A signal carries
the alarm's id, its new version and the kind of event (NOTIFY payloads are limited to
8000 bytes; an alarm with its history is not); every worker's :class:`AlarmFanout`
listens on a connection of its own, reads the rows it was told about and publishes them
to its :class:`~hub.alarms.live.AlarmLive`. Versions make the two paths (own engine,
signal) and any re-read idempotent.

A notification sent while the listening connection is down is lost, so after every
reconnection the fan-out reads the alarms changed since it was last known to be
connected (minus a margin for clocks and long transactions) before it goes on.
On SQLite (one worker) nothing is sent: the engine's own publication is the only path.

A second channel carries "resident N's care plan changed" (:func:`send_resident_changed`),
so every worker's engine replaces its cached copy of the plan; after a reconnection every
worker treats every resident as possibly changed.

Other contexts put their own channels on the same connection as :class:`Relay` s (the
family's prepared videos, docs/adr/0172): they send with :func:`notify` and are handed
each payload, and after a reconnection the time from which they may have missed some.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Alarm
from alerts.codec import alarm_from_json
from hub.alarms.live import KINDS, AlarmLive, live_message
from hub.alarms.models import AlarmRow
from hub.clock import Clock

_LOGGER = logging.getLogger(__name__)

CHANNEL = "teleassist_alarms"
RESIDENT_CHANNEL = "teleassist_residents"
KEEPALIVE_S = 5.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
CATCH_UP_MARGIN = timedelta(seconds=60)
CATCH_UP_LIMIT = 2000
QUEUE_SIZE = 10_000
READ_BATCH = 500
MAX_ID = 64

Connect = Callable[[], Awaitable[asyncpg.Connection]]
# Told that a resident's plan changed on some worker (None: any resident's may have).
ResidentChanged = Callable[[str | None], Awaitable[None]]
MAX_PAYLOAD = 7999  # bytes: PostgreSQL refuses a longer NOTIFY payload


@dataclass(frozen=True, slots=True)
class Relay:
    """Another context's channel on the fan-out's connection: ``deliver`` is awaited with
    each payload, ``catch_up`` with the time from which notifications may have been lost
    (after a reconnection, or when too many waited). Errors are logged and dropped."""

    channel: str
    deliver: Callable[[str], Awaitable[None]]
    catch_up: Callable[[datetime], Awaitable[None]]


class BadSignal(ValueError):
    """A notification on the channel that is not an alarm signal."""


def json_object(text: str, error: type[ValueError]) -> dict[str, Any]:
    """A NOTIFY payload read as a JSON object; ``error`` ("not JSON", "not an object") if it
    is not one. Every worker-to-worker signal starts its strict reading here."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise error("not JSON") from err
    if not isinstance(data, dict):
        raise error("not an object")
    return data


@dataclass(frozen=True, slots=True)
class AlarmSignal:
    """ "Alarm ``alarm_id`` is now at ``version``" — what a NOTIFY carries."""

    alarm_id: str
    version: int
    kind: str
    action: str | None = None

    def __post_init__(self) -> None:
        if not self.alarm_id or len(self.alarm_id) > MAX_ID:
            raise BadSignal(f"alarm id of {len(self.alarm_id)} characters")
        if self.version < 1:
            raise BadSignal(f"version {self.version}")
        if self.kind not in KINDS:
            raise BadSignal(f"kind {self.kind!r}")
        if self.action is not None and len(self.action) > MAX_ID:
            raise BadSignal("action too long")

    def payload(self) -> str:
        """The NOTIFY payload (compact JSON, well under PostgreSQL's 8000 bytes)."""
        data: dict[str, Any] = {"id": self.alarm_id, "v": self.version, "k": self.kind}
        if self.action is not None:
            data["a"] = self.action
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> AlarmSignal:
        """Read a payload; :class:`BadSignal` if it is not one."""
        data = json_object(text, BadSignal)
        alarm_id, version, kind = data.get("id"), data.get("v"), data.get("k")
        action = data.get("a")
        if (
            not isinstance(alarm_id, str)
            or not isinstance(kind, str)
            or type(version) is not int
            or not (action is None or isinstance(action, str))
        ):
            raise BadSignal("missing or mistyped field")
        return cls(alarm_id, version, kind, action)


async def send_signal(session: AsyncSession, signal: AlarmSignal) -> None:
    """Tell the other workers about a change, when ``session``'s transaction commits."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(select(func.pg_notify(CHANNEL, signal.payload())))


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Send ``payload`` on ``channel`` to every worker (this one too) when ``session``'s
    transaction commits; nothing on SQLite (one worker)."""
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError(f"a NOTIFY payload of {len(payload.encode())} bytes")
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(select(func.pg_notify(channel, payload)))


async def notify_all(
    sessions: async_sessionmaker[AsyncSession], channel: str, payloads: Iterable[str]
) -> None:
    """Send ``payloads`` on ``channel`` in one transaction, in their order (PostgreSQL
    delivers a transaction's notifications in the order they were sent)."""
    async with sessions() as session:
        for payload in payloads:
            await notify(session, channel, payload)
        await session.commit()


_Item = TypeVar("_Item")


async def next_batch(queue: asyncio.Queue[_Item], most: int) -> list[_Item]:
    """Wait for one item of ``queue``, then take those already waiting, ``most`` in all: a
    sender's next transaction."""
    batch = [await queue.get()]
    while len(batch) < most and not queue.empty():
        batch.append(queue.get_nowait())
    return batch


async def send_resident_changed(session: AsyncSession, resident_id: str) -> None:
    """Tell every worker (this one too) that the resident's care plan or contacts changed,
    when ``session``'s transaction commits."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(select(func.pg_notify(RESIDENT_CHANNEL, resident_id)))


def derived_kind(alarm: Alarm, version: int) -> str:
    """The event kind of a stored alarm read without its signal (catch-up, a newer row):
    a first version is a raise (so the screens mark it presented), a closed alarm a
    resolution, anything else an update."""
    if not alarm.is_open:
        return "alarm.resolved"
    return "alarm.raised" if version == 1 else "alarm.updated"


def asyncpg_dsn(url: URL) -> str:
    """A plain ``postgresql://`` DSN for asyncpg from the hub's SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connector(url: URL, name: str) -> Connect:
    """Connect to the hub's database as ``name`` (visible in ``pg_stat_activity``)."""
    dsn = asyncpg_dsn(url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            dsn, timeout=10, server_settings={"application_name": name[:63]}
        )

    return connect


class AlarmFanout:
    """Listens for other workers' alarm changes and publishes them here; owns no task
    (run :meth:`run` in a task, cancel it to stop)."""

    def __init__(
        self,
        connect: Connect,
        sessionmaker: async_sessionmaker[AsyncSession],
        live: AlarmLive,
        clock: Clock,
        on_resident: ResidentChanged | None = None,
        relays: Sequence[Relay] = (),
    ) -> None:
        self._connect = connect
        self._relays = tuple(relays)
        # (relay, a payload or the time to catch up from, when it was received)
        self._relayed: asyncio.Queue[tuple[Relay, str | datetime, datetime]] = asyncio.Queue(
            QUEUE_SIZE
        )
        self._on_resident = on_resident
        self._residents: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE)
        self._sessionmaker = sessionmaker
        self._live = live
        self._clock = clock
        self._queue: asyncio.Queue[AlarmSignal] = asyncio.Queue(QUEUE_SIZE)
        self._alive_at: datetime | None = None
        # Set while LISTEN is in force (tests and the start-up wait for it).
        self.listening = asyncio.Event()
        # Counters for /metrics.
        self.signals = 0
        self.published = 0
        self.reconnects = 0
        self.caught_up = 0
        self.resyncs = 0
        self.residents = 0
        self.relayed = 0

    async def run(self) -> None:
        """Listen (reconnecting for ever) and publish what is signalled."""
        tasks = [
            asyncio.create_task(self._read_loop(), name="alarm-fanout-reader"),
            asyncio.create_task(self._resident_loop(), name="alarm-fanout-residents"),
            asyncio.create_task(self._relay_loop(), name="alarm-fanout-relays"),
        ]
        try:
            await self._listen_loop()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ listening

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError) as err:
                _LOGGER.warning("alarm fan-out cannot connect: %s", err)
            else:
                try:
                    await self._listen(connection)
                    failures = 0
                except Exception:  # whatever broke, listen again on a new connection
                    _LOGGER.warning("alarm fan-out connection lost", exc_info=True)
                finally:
                    self.listening.clear()
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.close(timeout=2))
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    async def _listen(self, connection: asyncpg.Connection) -> None:
        """LISTEN on ``connection`` (catching up on a gap first) until it is lost."""
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _: closed.set())
        await connection.add_listener(CHANNEL, self._on_notify)
        await connection.add_listener(RESIDENT_CHANNEL, self._on_resident_notify)
        for relay in self._relays:
            await connection.add_listener(relay.channel, self._relay_callback(relay))
        # LISTEN is in force before the catch-up read: a change committed meanwhile is
        # either in the read or signalled (or both: versions make that harmless).
        gap_from = self._alive_at
        self._alive_at = self._clock()
        if gap_from is not None:
            self.reconnects += 1
            self._resident_changed(None)  # plans changed meanwhile are not known
            self._relays_missed(gap_from - CATCH_UP_MARGIN)
            await self._catch_up(gap_from - CATCH_UP_MARGIN)
        self.listening.set()
        _LOGGER.info("alarm fan-out listening on %s", CHANNEL)
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KEEPALIVE_S):
                    await closed.wait()
            if closed.is_set():
                break
            # A connection can die without telling us (a network cut): ask it.
            async with asyncio.timeout(KEEPALIVE_S):
                await connection.fetchval("SELECT 1")
            self._alive_at = self._clock()
        _LOGGER.warning("alarm fan-out connection closed; reconnecting")

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        self._alive_at = self._clock()
        try:
            signal = AlarmSignal.parse(str(payload))
        except BadSignal as err:
            _LOGGER.warning("ignoring a notification on %s: %s", CHANNEL, err)
            return
        self.signals += 1
        if not self._live.is_new(signal.alarm_id, signal.version):
            return  # this worker's own change, already published
        try:
            self._queue.put_nowait(signal)
        except asyncio.QueueFull:
            self._resync(f"{QUEUE_SIZE} signals waiting")

    def _on_resident_notify(
        self, _connection: object, _pid: int, _channel: str, payload: object
    ) -> None:
        resident_id = str(payload)
        if not resident_id or len(resident_id) > MAX_ID:
            _LOGGER.warning("ignoring a notification on %s: %r", RESIDENT_CHANNEL, payload)
            return
        self._resident_changed(resident_id)

    def _resident_changed(self, resident_id: str | None) -> None:
        if self._on_resident is None:
            return
        try:
            self._residents.put_nowait(resident_id)
        except asyncio.QueueFull:  # too many to follow one by one: all of them
            while not self._residents.empty():
                self._residents.get_nowait()
            self._residents.put_nowait(None)

    async def _resident_loop(self) -> None:
        while True:
            resident_id = await self._residents.get()
            if self._on_resident is None:  # pragma: no cover - nothing queued then
                continue
            try:
                await self._on_resident(resident_id)
            except Exception:  # the resident's next timer reloads its plan anyway
                _LOGGER.exception("applying resident %s's changed plan failed", resident_id)
            self.residents += 1

    # ------------------------------------------------------------ other contexts

    def _relay_callback(self, relay: Relay) -> Callable[[object, int, str, object], None]:
        def on_notify(_connection: object, _pid: int, _channel: str, payload: object) -> None:
            now = self._alive_at = self._clock()
            try:
                self._relayed.put_nowait((relay, str(payload), now))
            except asyncio.QueueFull:
                _LOGGER.warning("%d notifications waiting; relays catch up", QUEUE_SIZE)
                self._relays_missed(now - CATCH_UP_MARGIN)

        return on_notify

    def _relays_missed(self, since: datetime) -> None:
        """Every relay reads what changed since ``since`` (or since the oldest thing still
        queued, which is dropped) instead of what was queued."""
        if not self._relays:
            return
        while not self._relayed.empty():
            _, item, at = self._relayed.get_nowait()
            since = min(since, item if isinstance(item, datetime) else at - CATCH_UP_MARGIN)
        now = self._clock()
        for relay in self._relays:
            self._relayed.put_nowait((relay, since, now))

    async def _relay_loop(self) -> None:
        while True:
            relay, item, _ = await self._relayed.get()
            try:
                if isinstance(item, datetime):
                    await relay.catch_up(item)
                else:
                    await relay.deliver(item)
            except Exception:  # that context's clients see it at their next refetch
                _LOGGER.exception("relaying a notification on %s failed", relay.channel)
            self.relayed += 1

    # ------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        while True:
            batch = await next_batch(self._queue, READ_BATCH)
            try:
                await self.deliver(batch)
            except Exception:  # these events are lost: the screens start again
                _LOGGER.exception("alarm fan-out could not read %d alarms", len(batch))
                self._resync("a read failed")

    async def deliver(self, signals: Sequence[AlarmSignal]) -> int:
        """Read the signalled alarms and publish those not yet published; returns how many."""
        latest: dict[str, AlarmSignal] = {}
        for signal in signals:
            if self._live.is_new(signal.alarm_id, signal.version):
                known = latest.get(signal.alarm_id)
                if known is None or signal.version > known.version:
                    latest[signal.alarm_id] = signal
        if not latest:
            return 0
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(AlarmRow.id, AlarmRow.version, AlarmRow.data).where(
                        AlarmRow.id.in_(list(latest))
                    )
                )
            ).all()
        now = self._clock()
        published = 0
        for alarm_id, version, data in rows:
            signal = latest[alarm_id]
            alarm = alarm_from_json(data)
            if version == signal.version:
                message = live_message(signal.kind, alarm, now, signal.action)
            else:  # changed again since: its own signal follows and will be dropped
                message = live_message(derived_kind(alarm, version), alarm, now)
            if self._live.publish(message, version):
                published += 1
        self.published += published
        return published

    async def _catch_up(self, since: datetime) -> None:
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(AlarmRow.version, AlarmRow.data)
                    .where(AlarmRow.updated_at >= since)
                    .order_by(AlarmRow.updated_at)
                    .limit(CATCH_UP_LIMIT + 1)
                )
            ).all()
        if len(rows) > CATCH_UP_LIMIT:
            self._resync(f"more than {CATCH_UP_LIMIT} alarms changed while disconnected")
            return
        now = self._clock()
        count = 0
        for version, data in rows:
            alarm = alarm_from_json(data)
            message = live_message(derived_kind(alarm, version), alarm, now)
            if self._live.publish(message, version):
                count += 1
        self.caught_up += count
        _LOGGER.info("alarm fan-out caught up on %d alarms changed since %s", count, since)

    def _resync(self, why: str) -> None:
        _LOGGER.warning("alarm fan-out lost events (%s); live screens reload", why)
        self.resyncs += 1
        while not self._queue.empty():
            self._queue.get_nowait()
        self._live.overflow_all()
