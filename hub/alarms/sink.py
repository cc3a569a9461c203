"""The alarm engine as ingestion's :class:`~hub.ingest.EventSink`, with priority.

Ingestion commits each event to the ``events`` table before it acknowledges the broker,
then hands it here. :meth:`AlarmSink.handle` only queues it — alarm-capable events
(panic, fall, smoke…) in an URGENT queue that the workers always empty first — so a
burst of routine events from one home (a faulty PIR) never waits in front of another
home's panic. Workers run the engine (one lock per home, never a global one).

If the hub dies after the acknowledgement and before the engine committed, nothing is
lost: at start-up :func:`replay_unprocessed` feeds the engine every stored event of the
last hours that it has not applied yet (the engine skips message ids it already applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import DeviceType, HomeEvent
from hub.alarms.engine import AlarmEngine
from hub.alarms.models import ProcessedEventRow
from hub.db.models import StoredEvent
from hub.ingest.events import IngestedEvent
from hub.ingest.registry import DeviceRegistry
from protocol import ALARM_EVENT_TYPES, Event, EventBody, event_type

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
WORKERS = 4
REPLAY_WINDOW = timedelta(hours=6)
RETRIES = 4
SLOW_S = 0.25
RETRY_DELAY_S = 0.5
REPLAY_LIMIT = 200_000


def home_event(
    *,
    device_id: str,
    device_type: str,
    home_id: int,
    resident_id: int | None,
    message_id: str,
    at: datetime,
    body: EventBody,
) -> HomeEvent:
    """The alerts core's input for one ingested event.

    A home without a resident still gets its alarms (a visitor may press the button):
    the home stands in for the resident.
    """
    return HomeEvent(
        home_id=str(home_id),
        resident_id=str(resident_id) if resident_id is not None else f"home-{home_id}",
        device_id=device_id,
        device_type=DeviceType.of(device_type),
        message_id=message_id,
        at=at,
        body=body,
    )


def from_ingested(event: IngestedEvent) -> HomeEvent:
    """Convert ingestion's value."""
    return home_event(
        device_id=event.device_id,
        device_type=event.device_type,
        home_id=event.home_id,
        resident_id=event.resident_id,
        message_id=event.message_id,
        at=event.device_ts,
        body=event.body,
    )


class AlarmSink:
    """Two bounded queues (urgent first) and the workers that drain them."""

    def __init__(self) -> None:
        self.engine: AlarmEngine | None = None
        self.urgent: asyncio.Queue[HomeEvent] = asyncio.Queue(QUEUE_SIZE)
        self.routine: asyncio.Queue[HomeEvent] = asyncio.Queue(QUEUE_SIZE)
        self._items = asyncio.Semaphore(0)
        self._urgent_items = asyncio.Semaphore(0)
        self._tasks: list[asyncio.Task[None]] = []
        self.failures = 0

    async def handle(self, event: IngestedEvent) -> None:
        """Queue one event (waits only if its queue is full: back-pressure)."""
        await self.put(from_ingested(event))

    async def put(self, item: HomeEvent) -> None:
        """Queue a :class:`HomeEvent`."""
        urgent = isinstance(item.body, EventBody) and event_type(item.body) in ALARM_EVENT_TYPES
        await (self.urgent if urgent else self.routine).put(item)
        self._items.release()
        if urgent:
            self._urgent_items.release()

    def start(self, engine: AlarmEngine, workers: int = WORKERS) -> None:
        """Start the workers (owned here; :meth:`stop` cancels and awaits them).

        One worker only ever takes urgent events, so a panic never waits for a worker
        busy with routine ones.
        """
        self.engine = engine
        self._tasks = [
            asyncio.create_task(self._work(), name=f"alarm-sink-{i}") for i in range(workers)
        ]
        self._tasks.append(asyncio.create_task(self._work_urgent(), name="alarm-sink-urgent"))

    async def stop(self) -> None:
        """Cancel and await the workers (queued events are in the events table)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _work_urgent(self) -> None:
        while True:
            await self._urgent_items.acquire()
            if self.urgent.empty():
                continue  # a general worker took it
            await self._handle(self.urgent.get_nowait())

    async def _work(self) -> None:
        while True:
            await self._items.acquire()
            if not self.urgent.empty():
                item = self.urgent.get_nowait()
            elif not self.routine.empty():
                item = self.routine.get_nowait()
            else:
                continue  # the urgent worker took it
            await self._handle(item)

    async def _handle(self, item: HomeEvent) -> None:
        began = time.monotonic()
        try:
            await self._handle_with_retries(item)
        finally:
            took = time.monotonic() - began
            if took > SLOW_S:
                _LOGGER.warning("alarm engine took %.0f ms for %s", took * 1000, item.message_id)

    async def _handle_with_retries(self, item: HomeEvent) -> None:
        engine = self.engine
        if engine is None:  # pragma: no cover - started with an engine
            return
        for attempt in range(1, RETRIES + 1):
            try:
                await engine.handle_event(item)
                break
            except Exception:  # retried; after that the start-up replay has it
                self.failures += 1
                _LOGGER.exception(
                    "alarm engine failed on event %s (attempt %d)", item.message_id, attempt
                )
                if attempt < RETRIES:
                    await asyncio.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))


async def replay_unprocessed(
    engine: AlarmEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    window: timedelta = REPLAY_WINDOW,
) -> int:
    """Feed the engine stored events it has not applied yet; returns how many."""
    applied = select(ProcessedEventRow.message_id)
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(StoredEvent)
                .where(StoredEvent.received_at >= now - window)
                .where(StoredEvent.message_id.not_in(applied))
                .order_by(StoredEvent.id)
                .limit(REPLAY_LIMIT)
            )
        ).all()
    if not rows:
        return 0
    registry = DeviceRegistry(sessionmaker)
    await registry.load()
    replayed = 0
    for row in rows:
        info = registry.get(row.device_id)
        if info is None:
            continue
        try:
            body = msgspec.convert(row.body, Event)  # type: ignore[arg-type]
        except msgspec.ValidationError:
            _LOGGER.warning("stored event %s is not a contract event; skipped", row.message_id)
            continue
        await engine.handle_event(
            home_event(
                device_id=row.device_id,
                device_type=info.type,
                home_id=info.home_id,
                resident_id=info.resident_id,
                message_id=row.message_id,
                at=row.ts,
                body=body,
            )
        )
        replayed += 1
    _LOGGER.info("replayed %d stored events into the alarm engine", replayed)
    return replayed
