"""The alarm engine's backlog: stored events it had not applied when the hub stopped or died.

Ingestion commits each event before it hands it to the engine, so a hub killed in between
leaves events stored but not applied. :func:`load_backlog` reads them (one query, the
ingester's device registry) and groups them by home, in the order they were stored;
:class:`Backlog` applies them:

- :meth:`Backlog.run` in the background, a batch of homes at a time with their residents
  loaded together, yielding to urgent work between homes;
- :meth:`Backlog.ready` in front of every live event (the alarm sink's per-home gate): a
  home's live event waits until that home's backlog is applied, and a home nobody has started
  yet is applied at once, ahead of the others — a panic never waits for other homes' backlog.

So the hub serves while its backlog is applied, each home's events still in the order they
came (docs/adr/0184-serve-while-the-alarm-backlog-is-applied.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import HomeEvent
from hub.alarms.engine import AlarmEngine, NotOwner
from hub.alarms.models import ProcessedEventRow
from hub.alarms.sink import home_event, rule_body
from hub.db.models import StoredEvent
from hub.ingest.registry import DeviceRegistry
from hub.supervision.events import DeviceOffline, DeviceOnline
from protocol import Event

_LOGGER = logging.getLogger(__name__)

# What the events table holds: contract events and supervision's own.
_STORED = Event | DeviceOffline | DeviceOnline

REPLAY_WINDOW = timedelta(hours=6)
REPLAY_LIMIT = 200_000
# Events whose residents are loaded in one session: ten times the lanes' batch (one query per
# 50 events was a third of the replay's time at 10,000 homes).
REPLAY_BATCH = 500


async def load_backlog(
    engine: AlarmEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    window: timedelta = REPLAY_WINDOW,
    *,
    homes: Callable[[int], bool] | None = None,
    registry: DeviceRegistry | None = None,
    batch: int = REPLAY_BATCH,
) -> Backlog:
    """The stored events of the last ``window`` the engine has not applied (of the homes
    ``homes`` accepts, if given: partitions this worker took over), by home.

    ``registry``: the ingester's device registry, already loaded (else one is loaded here);
    ``batch``: events whose residents :meth:`Backlog.run` loads together.
    """
    applied = (
        select(ProcessedEventRow.message_id)
        .where(ProcessedEventRow.device_id == StoredEvent.device_id)
        .where(ProcessedEventRow.message_id == StoredEvent.message_id)
        .exists()
    )
    async with sessionmaker() as session:
        # Columns, not entities: thousands of rows are read before the hub serves.
        rows = (
            await session.execute(
                select(
                    StoredEvent.device_id, StoredEvent.message_id, StoredEvent.ts, StoredEvent.body
                )
                .where(StoredEvent.received_at >= now - window)
                .where(~applied)
                .order_by(StoredEvent.id)
                .limit(REPLAY_LIMIT)
            )
        ).all()
    by_home: dict[str, list[HomeEvent]] = {}
    if rows and registry is None:
        registry = DeviceRegistry(sessionmaker)
        await registry.load()
    for device_id, message_id, ts, stored in rows:
        assert registry is not None
        info = registry.get(device_id)
        if info is None or (homes is not None and not homes(info.home_id)):
            continue
        try:
            body = msgspec.convert(stored, _STORED)
        except msgspec.ValidationError:
            _LOGGER.warning("stored event %s is not a contract event; skipped", message_id)
            continue
        event = home_event(
            device_id=device_id,
            device_type=info.type,
            home_id=info.home_id,
            resident_id=info.resident_id,
            message_id=message_id,
            at=ts,
            body=rule_body(body),
        )
        by_home.setdefault(event.home_id, []).append(event)
    # Another worker may apply these homes' events meanwhile only with partitions (a home
    # that changed hands): then the ledger is asked again when the residents are loaded.
    return Backlog(engine, by_home, batch=batch, check_applied=homes is not None)


class Backlog:
    """Unapplied stored events by home, applied once each, every home in its own order."""

    def __init__(
        self,
        engine: AlarmEngine,
        homes: dict[str, list[HomeEvent]],
        *,
        batch: int = REPLAY_BATCH,
        check_applied: bool = True,
    ) -> None:
        self._engine = engine
        self._waiting = homes  # not started, in the order their first event was stored
        self._busy: dict[str, asyncio.Event] = {}  # being applied now
        self._batch = batch
        self._check_applied = check_applied
        self.events = sum(len(events) for events in homes.values())
        self.applied = 0
        self.failed = 0
        self.done = asyncio.Event()
        if not homes:
            self.done.set()

    @property
    def homes_left(self) -> int:
        """Homes whose backlog is not applied yet."""
        return len(self._waiting) + len(self._busy)

    async def ready(self, home_id: str) -> None:
        """Return once ``home_id`` has no backlog left: at once if it had none, after
        applying it here (ahead of every other home) if nobody started it, else when the
        one applying it is done."""
        events = self._waiting.pop(home_id, None)
        if events is not None:
            await self._apply(home_id, events)
            return
        busy = self._busy.get(home_id)
        if busy is not None:
            await busy.wait()

    async def run(self, pause: Callable[[], Awaitable[None]] | None = None) -> int:
        """Apply every home's backlog, ``REPLAY_BATCH`` events' residents loaded at a time,
        awaiting ``pause`` (the sink's yield to urgent work) before each home; returns how
        many events were applied."""
        while self._waiting:
            chunk: list[HomeEvent] = []
            homes: list[str] = []
            for home_id, waiting in self._waiting.items():
                homes.append(home_id)
                chunk += waiting
                if len(chunk) >= self._batch:
                    break
            try:
                await self._engine.prefetch(chunk, check_applied=self._check_applied)
            except Exception:  # each event then loads its resident on its own
                _LOGGER.exception("loading %d residents of the backlog failed", len(homes))
            for home_id in homes:
                if pause is not None:
                    await pause()
                # Taken from the waiting ones and marked busy with no await in between: a
                # live event of this home either applies the backlog itself or waits for it.
                events = self._waiting.pop(home_id, None)
                if events is not None:  # else a live event of the home applied it meanwhile
                    await self._apply(home_id, events)
        await self.done.wait()  # homes applied by live events may still be busy
        return self.applied

    async def _apply(self, home_id: str, events: list[HomeEvent]) -> None:
        busy = self._busy[home_id] = asyncio.Event()
        try:
            for event in events:
                try:
                    await self._engine.handle_event(event)
                except NotOwner:  # the home changed hands meanwhile: its new owner has it
                    continue
                except Exception:  # as a live event after its retries: logged, not lost
                    # (still unapplied in the table: the next start-up applies it late)
                    self.failed += 1
                    _LOGGER.exception("backlog event %s not applied", event.message_id)
                    continue
                self.applied += 1
        finally:
            del self._busy[home_id]
            busy.set()
            if not self._waiting and not self._busy:
                self.done.set()


async def replay_unprocessed(
    engine: AlarmEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    window: timedelta = REPLAY_WINDOW,
    *,
    homes: Callable[[int], bool] | None = None,
    registry: DeviceRegistry | None = None,
) -> int:
    """Load the backlog and apply all of it now (nothing served meanwhile); returns how many
    events it held."""
    began, cpu = time.perf_counter(), time.process_time()
    backlog = await load_backlog(engine, sessionmaker, now, window, homes=homes, registry=registry)
    await backlog.run()
    log_applied(backlog, time.perf_counter() - began, time.process_time() - cpu)
    return backlog.events


def log_applied(backlog: Backlog, wall_s: float, cpu_s: float) -> None:
    """Say how long the backlog took (the restart's phases, docs/benchmarks.md)."""
    if backlog.events:
        _LOGGER.info(
            "replayed %d stored events into the alarm engine in %.2f s (process CPU %.2f s)",
            backlog.events,
            wall_s,
            cpu_s,
        )
