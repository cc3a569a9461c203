"""The alarm engine as ingestion's :class:`~hub.ingest.EventSink`, with priority.

Ingestion commits each event to the ``events`` table before it acknowledges the broker,
then hands it here; an alarm-capable event comes earlier, through
:meth:`AlarmSink.handle_early`, while its row is being stored (docs/adr/0178: its
``event_received`` still waits for the store). :meth:`AlarmSink.handle` only queues it —
alarm-capable events (panic, fall, smoke…) in an URGENT queue with workers of its own,
routine ones in lanes by home — so a burst of routine events (a faulty PIR, ten thousand
homes reconnecting) never waits in front of another home's panic. Workers run the engine
(one lock per home, never a global one). See docs/adr/0037-alarm-sink-lanes-and-prefetch.md.

If the hub dies after the acknowledgement and before the engine committed, nothing is
lost: at start-up the engine's backlog (:mod:`hub.alarms.backlog`) is every stored event of
the last hours that it has not applied yet; while it is applied, :attr:`AlarmSink.gate` holds
each live event until its home's backlog is done (docs/adr/0184).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from alerts import DeviceType, HomeEvent
from hub.alarms.engine import AlarmEngine, NotOwner
from hub.alarms.fanout import next_batch
from hub.ingest.events import EarlyEvent, IngestedEvent
from hub.supervision.events import DeviceOffline, DeviceOnline
from hub.tasks import cancel_and_wait
from protocol import ALARM_EVENT_TYPES, EventBody, Status, event_type

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
WORKERS = 4
RETRIES = 4
SLOW_S = 0.25
RETRY_DELAY_S = 0.5
PREFETCH_BATCH = 50
URGENT_YIELD_S = 0.5
STOP_ROUNDS = 30
# Urgent events handled at once (each in a task of its own; a stuck home holds a slot).
URGENT_CONCURRENCY = 64


def home_event(
    *,
    device_id: str,
    device_type: str,
    home_id: int,
    resident_id: int | None,
    message_id: str,
    at: datetime,
    body: EventBody | Status,
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
    """Convert ingestion's value (supervision's verdicts become the status they mean)."""
    return home_event(
        device_id=event.device_id,
        device_type=event.device_type,
        home_id=event.home_id,
        resident_id=event.resident_id,
        message_id=event.message_id,
        at=event.device_ts,
        body=rule_body(event.body),
    )


def rule_body(body: EventBody) -> EventBody | Status:
    """What the alerts core reads for ``body``.

    Supervision's ``device_offline``/``device_online`` are hub-made events the rules do
    not know; they mean the device's status went offline (or back online), which is what
    the technical rule watches (a silent device raises ``device_offline``).
    """
    if isinstance(body, DeviceOffline):
        return Status(state="offline", reason=body.reason)
    if isinstance(body, DeviceOnline):
        return Status(state="online", reason="heartbeat")
    return body


class AlarmSink:
    """An urgent queue, per-home lanes of routine events, and the workers that drain them.

    Routine events go to one of ``workers`` lanes by home, so one home's events are applied
    in arrival order while different homes proceed in parallel; each lane worker takes its
    backlog in batches and loads the residents it has not seen in one query per batch.
    While an urgent event is being applied, lane workers do not start new routine events:
    on a busy event loop and database, the panic gets them first.
    """

    def __init__(
        self, workers: int = WORKERS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine: AlarmEngine | None = None
        self._monotonic = monotonic
        # Each with the early hand-on it came from (None: a stored event).
        self.urgent: asyncio.Queue[tuple[HomeEvent, EarlyEvent | None]] = asyncio.Queue(QUEUE_SIZE)
        self.lanes: list[asyncio.Queue[HomeEvent]] = [
            asyncio.Queue(max(1, QUEUE_SIZE // workers)) for _ in range(workers)
        ]
        self._urgent_items = asyncio.Semaphore(0)
        self._urgent_busy = 0
        self._urgent_since = 0.0  # when the latest urgent event started
        self._calm = asyncio.Event()
        self._calm.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._requeues: set[asyncio.Task[None]] = set()  # early events failed, stored now
        self.failures = 0
        # Told of each event the engine applied (or found applied): the end-to-end
        # acknowledgement of alarm events to their device (docs/adr/0125).
        self.on_applied: Callable[[HomeEvent], None] | None = None
        # Awaited with an event's home before the event is applied: returns once that home's
        # start-up backlog is applied (:meth:`hub.alarms.backlog.Backlog.ready`).
        self.gate: Callable[[str], Awaitable[None]] | None = None

    @property
    def routine_depth(self) -> int:
        """Routine events waiting, over all lanes."""
        return sum(lane.qsize() for lane in self.lanes)

    async def handle(self, event: IngestedEvent) -> None:
        """Queue one event (waits only if its queue is full: back-pressure)."""
        await self.put(from_ingested(event))

    async def handle_early(self, early: EarlyEvent) -> None:
        """Queue an alarm-capable event whose row is being stored (docs/adr/0178): applied
        at once; confirmed to its device (``on_applied``) only once it is stored too."""
        await self._put_urgent(from_ingested(early.event), early)

    async def put(self, item: HomeEvent) -> None:
        """Queue a :class:`HomeEvent`."""
        if isinstance(item.body, EventBody) and event_type(item.body) in ALARM_EVENT_TYPES:
            await self._put_urgent(item, None)
        else:
            await self.lanes[zlib.crc32(item.home_id.encode()) % len(self.lanes)].put(item)

    async def _put_urgent(self, item: HomeEvent, early: EarlyEvent | None) -> None:
        await self.urgent.put((item, early))
        self._urgent_items.release()

    def start(self, engine: AlarmEngine) -> None:
        """Start the workers (owned here; :meth:`stop` cancels and awaits them)."""
        self.engine = engine
        # The urgent dispatcher first, so a backlog found at start-up yields to it from
        # the outset.
        self._tasks = [asyncio.create_task(self._work_urgent(), name="alarm-urgent")]
        self._tasks += [
            asyncio.create_task(self._work_lane(lane), name=f"alarm-lane-{i}")
            for i, lane in enumerate(self.lanes)
        ]

    async def stop(self) -> None:
        """Cancel and await the workers (queued events are in the events table)."""
        # A worker cancelled in the middle of a library call can lose the cancellation and
        # wait for its next event for ever; cancel_and_wait cancels it again (a CI teardown
        # once hung here).
        await cancel_and_wait([*self._tasks, *self._requeues], rounds=STOP_ROUNDS)
        self._tasks = []

    async def _work_urgent(self) -> None:
        # Each urgent event in a task of its own (at most URGENT_CONCURRENCY): an urgent
        # event of a home whose work is stuck (its lock busy: a flooding home sends door
        # and bed events too) waits alone and never holds up another home's panic.
        # Order within a home is the engine's per-home lock (FIFO). See ADR 0034.
        slots = asyncio.Semaphore(URGENT_CONCURRENCY)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await self._urgent_items.acquire()
                await slots.acquire()
                item, early = self.urgent.get_nowait()
                self._urgent_busy += 1
                self._urgent_since = self._monotonic()
                self._calm.clear()
                task = asyncio.create_task(self._handle_urgent(item, early, slots))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _handle_urgent(
        self, item: HomeEvent, early: EarlyEvent | None, slots: asyncio.Semaphore
    ) -> None:
        try:
            await self._handle(item, early)
        finally:
            if early is not None:
                early.mark_written()
            slots.release()
            self._urgent_busy -= 1
            if self._urgent_busy == 0:
                self._calm.set()

    async def _work_lane(self, lane: asyncio.Queue[HomeEvent]) -> None:
        while True:
            batch = await next_batch(lane, PREFETCH_BATCH)
            await self.yield_to_urgent()
            await self._prefetch(batch)
            for item in batch:
                await self.yield_to_urgent()
                await self._handle(item)

    async def yield_to_urgent(self) -> None:
        """Wait while urgent events are being applied (for at most ``URGENT_YIELD_S`` after
        the latest one started)."""
        # Only for URGENT_YIELD_S after the latest urgent event started: a storm of urgent
        # events (a faulty pendant) slows routine work without stopping it, and one stuck
        # urgent event (its home's lock held) does not slow every routine event after it.
        left = URGENT_YIELD_S - (self._monotonic() - self._urgent_since)
        if self._calm.is_set() or left <= 0:
            return
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set (the hub's stop sets it), and this lane would
        # never end.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await self._calm.wait()

    async def _prefetch(self, batch: list[HomeEvent]) -> None:
        if self.engine is None or len(batch) < 2:
            return
        try:
            await self.engine.prefetch(batch)
        except Exception:  # each event then loads its resident on its own
            _LOGGER.exception("alarm engine prefetch of %d events failed", len(batch))

    async def _handle(self, item: HomeEvent, early: EarlyEvent | None = None) -> None:
        if self.gate is not None:
            # The home's events stored before the restart first (its own order).
            await self.gate(item.home_id)
        began = time.monotonic()
        try:
            await self._handle_with_retries(item, early)
        finally:
            took = time.monotonic() - began
            if took > SLOW_S:
                _LOGGER.warning("alarm engine took %.0f ms for %s", took * 1000, item.message_id)

    async def _handle_with_retries(self, item: HomeEvent, early: EarlyEvent | None) -> None:
        engine = self.engine
        if engine is None:  # pragma: no cover - started with an engine
            return
        for attempt in range(1, RETRIES + 1):
            try:
                if early is None:
                    await engine.handle_event(item)
                else:
                    # The row may be written once the alarm's transaction is over (the
                    # tablet's alarm_received and other effects come after it).
                    await engine.handle_event(item, written=early.mark_written)
            except NotOwner:
                # Fenced: another worker owns the home now and gets the event (the broker
                # redelivers it, the device re-sends an alarm event); not confirmed here.
                _LOGGER.info("event %s left to the home's new owner", item.message_id)
                return
            except Exception:  # retried; after that the start-up replay has it
                self.failures += 1
                _LOGGER.exception(
                    "alarm engine failed on event %s (attempt %d)", item.message_id, attempt
                )
                if early is not None:
                    # Early, the database may be away for the engine as for the row: the
                    # event is tried again, with every retry, once its row is stored.
                    self._retry_once_stored(item, early)
                    return
                if attempt < RETRIES:
                    await asyncio.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))
                continue
            self._applied(item, early)
            return

    def _retry_once_stored(self, item: HomeEvent, early: EarlyEvent) -> None:
        """Queue ``item`` again as a stored event once its row is stored (not if the hub
        stops first: the broker redelivers it, or the start-up replay has it)."""

        def once_stored(stored: asyncio.Future[None]) -> None:
            if stored.cancelled():
                return
            task = asyncio.get_running_loop().create_task(self._put_urgent(item, None))
            self._requeues.add(task)
            task.add_done_callback(self._requeues.discard)

        early.stored.add_done_callback(once_stored)

    def _applied(self, item: HomeEvent, early: EarlyEvent | None) -> None:
        """Tell ``on_applied`` of an applied event, once its row is stored (ADR 0125: the
        device's ``event_received`` means the hub has the event, not only its alarm)."""
        told = self.on_applied
        if told is None:
            return
        if early is None:
            told(item)
            return

        def once_stored(stored: asyncio.Future[None]) -> None:
            if not stored.cancelled():  # cancelled: the hub stopped first; the device re-sends
                told(item)

        if early.stored.done():
            once_stored(early.stored)
        else:
            early.stored.add_done_callback(once_stored)
