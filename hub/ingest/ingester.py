"""The ingestion pipeline: check, decode, de-duplicate, batch, store, hand on.

``Ingester.handle`` runs synchronously for each MQTT message on the event loop (it is
called by :class:`~hub.ingest.mqtt.LoopMqttClient`); everything slow happens in owned
background tasks that write batches:

- telemetry → time-series store, in batches (``batch_size`` points or ``flush_interval``);
- events → ``events`` table (idempotent by device and message id), committed BEFORE the QoS 1
  acknowledgement, then into a bounded queue towards the :class:`EventSink`\\s;
  an event that can raise an alarm triggers an immediate flush, and is handed to the
  :class:`EarlyEventSink`\\s (the alarm engine) at once, in parallel with its store
  (docs/adr/0178);
- status and every message → device presence (``last_seen``, state, battery).

When buffers pass their bound the transport stops reading the socket, so the broker
holds messages (back-pressure) instead of the hub growing without limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub import latencyprobe
from hub.clock import Clock, utc_now
from hub.db.writegate import WriteGate
from hub.ingest.dedup import MessageKey, RecentIds, SequenceTracker
from hub.ingest.devicetypes import event_allowed
from hub.ingest.events import (
    AckListener,
    ConnectListener,
    DeviceConnected,
    EarlyEvent,
    EarlyEventSink,
    EventSink,
    IngestedAck,
    IngestedEvent,
)
from hub.ingest.quarantine import dead_letter_json, is_refusal, isolate, quarantine
from hub.ingest.registry import DeviceInfo, DeviceRegistry
from hub.ingest.standby import Kept, PartitionGate
from hub.ingest.stats import IngestStats, RejectLog
from hub.ingest.store import PresenceUpdate, insert_events, write_presence
from hub.timeseries.port import Point, TimeSeriesStore
from protocol import (
    ALARM_EVENT_TYPES,
    MAX_PAYLOAD_BYTES,
    RECEIVER_EVENT_TYPES,
    Channel,
    ClockPolicy,
    DecodeError,
    Envelope,
    EventBody,
    RejectReason,
    TopicError,
    decode_for_channel,
    event_type,
    parse_device_topic,
)
from protocol.ratelimit import HUB_EVENTS, HUB_TELEMETRY, NEVER_DROPPED, FloodGuard, RateLimit

_LOGGER = logging.getLogger(__name__)


class Transport(Protocol):
    """What the ingester needs from the MQTT side."""

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a QoS 1 message."""

    def pause_reading(self) -> None:
        """Stop reading (back-pressure)."""

    def resume_reading(self) -> None:
        """Read again."""


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Batching and bounds of the pipeline."""

    batch_size: int = 2000
    flush_interval_s: float = 0.2
    event_flush_interval_s: float = 0.05
    sink_queue_size: int = 10_000
    max_buffered_points: int = 200_000
    max_pending_events: int = 20_000
    dedup_capacity: int = 200_000
    max_held_unknown: int = 1_000
    presence_interval_s: float = 2.0
    # One device's rate (docs/adr/0116): past it, routine events and readings are dropped.
    flood_events: RateLimit = HUB_EVENTS
    flood_telemetry: RateLimit = HUB_TELEMETRY
    # Devices per presence transaction (a short hold of a single-writer database's lock).
    presence_slice: int = 200
    # Routine events per transaction: a burst's backlog (ten thousand homes' first events
    # after a restart) is written in slices, so a panic waits at the gate for one slice,
    # not for the whole backlog (docs/adr/0173).
    event_slice: int = 500
    # Alarm-capable events go to the alarm engine at once, while their row is stored; on a
    # single-writer database the row waits up to ``early_wait_s`` for the alarm's write, so
    # the alarm goes first at the gate (docs/adr/0178).
    early_hand_on: bool = True
    early_wait_s: float = 0.25
    clock: ClockPolicy = field(default_factory=ClockPolicy)


_Pending = tuple[IngestedEvent, int, int]  # event, qos, mid


@dataclass(frozen=True, slots=True)
class _AfterEarly:
    """An event handed on early, now stored: for the sinks that did not take it early (all
    of them if its early sink could not take it)."""

    event: IngestedEvent
    early: EarlyEvent


_SinkItem = IngestedEvent | IngestedAck | DeviceConnected | EarlyEvent | _AfterEarly
FLOODING_TOLD_SIZE = 10_000  # devices whose flooding was told recently (oldest forgotten)
HAND_ON_SLICE = 200  # stored events handed on between two turns of the event loop
Observer = Callable[[DeviceInfo, Channel, Any, datetime], None]


class Ingester:
    """One hub worker's ingestion pipeline."""

    def __init__(
        self,
        *,
        registry: DeviceRegistry,
        sessionmaker: async_sessionmaker[AsyncSession],
        timeseries: TimeSeriesStore,
        sinks: Sequence[EventSink] = (),
        ack_listeners: Sequence[AckListener] = (),
        connect_listeners: Sequence[ConnectListener] = (),
        clock: Clock = utc_now,
        config: IngestConfig | None = None,
        gate: WriteGate | None = None,
    ) -> None:
        self.registry = registry
        self.gate = gate or WriteGate(exclusive=False)
        self.sessionmaker = sessionmaker
        self.timeseries = timeseries
        # Lists are shared with the app, so sinks added later are seen.
        self.sinks = sinks
        self.ack_listeners = ack_listeners
        self.connect_listeners = connect_listeners
        self.clock = clock
        self.config = config or IngestConfig()
        self.stats = IngestStats()
        self.reject_log = RejectLog()
        self.ids = RecentIds(self.config.dedup_capacity)
        self.sequences = SequenceTracker()
        self.transport: Transport | None = None
        self.queue: asyncio.Queue[_SinkItem] = asyncio.Queue(self.config.sink_queue_size)
        # Alarm-capable events reach the sinks through a queue and a task of their own: a
        # sink that makes routine events wait (one flooding home's full lane) never holds
        # up another home's panic behind them (docs/adr/0035-urgent-events-in-ingestion.md).
        self.urgent_queue: asyncio.Queue[_SinkItem] = asyncio.Queue(self.config.sink_queue_size)
        self._topics: dict[str, tuple[str, Channel]] = {}
        self._points: list[Point] = []
        self._point_acks: list[int] = []
        self._events: list[_Pending] = []
        # Alarm-capable events have a writer of their own, ahead of the routine one at the
        # write gate: a panic never waits for a batch of routine events to be stored.
        self._urgent_events: list[_Pending] = []
        self._urgent_events_ready = asyncio.Event()
        self._unstored: set[MessageKey] = set()  # events held in _events/_urgent_events
        # Alarm-capable events handed on early whose row is not stored yet (docs/adr/0178).
        self._early: dict[MessageKey, EarlyEvent] = {}
        # Alarm-capable events not handed on early (no room), by home, until they are
        # handed on after their store: that home's later ones wait too, never overtaking.
        self._late: collections.Counter[int] = collections.Counter()
        self._presence: dict[str, PresenceUpdate] = {}
        self._held: dict[str, list[tuple[str, bytes, int, int, datetime]]] = {}
        self._held_count = 0
        self._events_ready = asyncio.Event()
        self._points_ready = asyncio.Event()
        self._event_timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Stored routine events waiting for room in ``queue``: the event writer never waits
        # on the routine queue (a sink stuck on one home's routine work would hold every
        # later batch, another home's panic included); its own task moves them on, and a
        # backlog past ``max_pending_events`` pauses reading like any other buffer.
        self._routine: collections.deque[IngestedEvent] = collections.deque()
        self._routine_ready = asyncio.Event()
        self._handoff: asyncio.Task[None] | None = None
        self._writers_done = False
        self._lookups: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stop_event = asyncio.Event()
        # Told about every accepted message (supervision); must be cheap and synchronous.
        self.observer: Observer | None = None
        self.flood_events = FloodGuard(self.config.flood_events)
        self.flood_telemetry = FloodGuard(self.config.flood_telemetry)
        # Told once when a device starts flooding (what, e.g. "events"); cheap, synchronous.
        self.on_flooding: Callable[[DeviceInfo, str, datetime], None] | None = None
        self._flooding_told: dict[str, datetime] = {}
        # One owner per home over plain MQTT: only owned homes' messages get through.
        self.partition_gate: PartitionGate | None = None

    def replay(self, kept: list[Kept]) -> None:
        """Process messages kept while another worker owned their homes (a partition taken
        over): not acknowledged again (they were when kept); duplicates of what the old owner
        stored are one row and one alarm."""
        for item in kept:
            self._process(
                item.device, item.channel, item.topic, item.payload, 0, 0, item.received_at
            )

    # ---------------------------------------------------------------- life cycle

    async def start(self, transport: Transport) -> None:
        """Load the registry and start the background writers."""
        self.transport = transport
        count = await self.registry.load()
        _LOGGER.info("ingestion ready: %d devices in the registry", count)
        for name, coro in (
            ("ingest-points", self._point_writer()),
            ("ingest-events", self._event_writer(urgent=False)),
            ("ingest-presence", self._presence_writer()),
            ("ingest-events-urgent", self._event_writer(urgent=True)),
            ("ingest-sinks", self._sink_worker(self.queue)),
            ("ingest-sinks-urgent", self._sink_worker(self.urgent_queue)),
        ):
            self._tasks.append(asyncio.create_task(coro, name=name))
        self._handoff = asyncio.create_task(self._routine_handoff(), name="ingest-routine-handoff")

    async def stop(self) -> None:
        """Flush every buffer (points, events, presence), drain the sinks, stop the tasks."""
        self._stopping = True
        self._stop_event.set()
        for task in self._lookups:
            task.cancel()
        writers, others = self._tasks[:4], self._tasks[4:]
        self._points_ready.set()
        self._events_ready.set()
        self._urgent_events_ready.set()
        # The writers see _stopping, flush what is buffered and return.
        await asyncio.gather(*writers, return_exceptions=True)
        self._writers_done = True
        for early in self._early.values():
            # Not stored (the database is away): not acknowledged either, so the broker
            # redelivers it; its confirmation is never sent from here.
            early.stored.cancel()
        self._early.clear()
        self._routine_ready.set()
        handoff = self._handoff
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                if handoff is not None:
                    await asyncio.shield(handoff)  # the backlog is handed on, then it ends
                await self.urgent_queue.join()
                await self.queue.join()
        if handoff is not None:
            others.append(handoff)
            handoff.cancel()
            self._handoff = None
        for task in others:
            task.cancel()
        await asyncio.gather(*others, *self._lookups, return_exceptions=True)
        self._tasks.clear()

    # ---------------------------------------------------------------- per message

    def _ack(self, qos: int, mid: int) -> None:
        if qos and self.transport is not None:
            self.transport.ack(mid, qos)

    def _reject(self, reason: RejectReason, topic: str, detail: str, qos: int, mid: int) -> None:
        self.stats.rejected[reason.value] += 1
        self.reject_log.reject(reason, topic, detail)
        self._ack(qos, mid)

    def handle(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        """Process one MQTT message (synchronous; never raises for bad input)."""
        now = self.clock()
        self.stats.received += 1
        if len(payload) > MAX_PAYLOAD_BYTES:
            self._reject(RejectReason.OVERSIZE, topic, f"{len(payload)} bytes", qos, mid)
            return
        parsed = self._topics.get(topic)
        if parsed is None:
            try:
                dt = parse_device_topic(topic)
            except TopicError as err:
                self._reject(RejectReason.BAD_TOPIC, topic, err.detail, qos, mid)
                return
            parsed = (dt.device_id, dt.channel)
            if len(self._topics) < 500_000:
                self._topics[topic] = parsed
        device_id, channel = parsed
        device = self.registry.get(device_id)
        if device is None:
            self._hold_unknown(device_id, topic, payload, qos, mid, now)
            return
        self._process(device, channel, topic, payload, qos, mid, now)

    def _hold_unknown(
        self, device_id: str, topic: str, payload: bytes, qos: int, mid: int, now: datetime
    ) -> None:
        if self.registry.recently_missing(device_id) or self._held_count >= (
            self.config.max_held_unknown
        ):
            self._reject(RejectReason.UNKNOWN_DEVICE, topic, device_id, qos, mid)
            return
        held = self._held.get(device_id)
        self._held_count += 1
        if held is not None:
            held.append((topic, payload, qos, mid, now))
            return
        self._held[device_id] = [(topic, payload, qos, mid, now)]
        task = asyncio.get_running_loop().create_task(self._lookup(device_id))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _lookup(self, device_id: str) -> None:
        try:
            info = await self.registry.fetch(device_id)
        except Exception:
            _LOGGER.exception("device lookup failed for %s", device_id)
            info = None
        held = self._held.pop(device_id, [])
        self._held_count -= len(held)
        for topic, payload, qos, mid, received in held:
            if info is None:
                self._reject(RejectReason.UNKNOWN_DEVICE, topic, device_id, qos, mid)
            else:
                _, channel = self._topics.get(topic) or (
                    device_id,
                    parse_device_topic(topic).channel,
                )
                self._process(info, channel, topic, payload, qos, mid, received)

    def _process(
        self,
        device: DeviceInfo,
        channel: Channel,
        topic: str,
        payload: bytes,
        qos: int,
        mid: int,
        now: datetime,
    ) -> None:
        """One message of a known device: decoded and checked (:meth:`_admitted`), then
        taken by its channel's step. Each step acknowledges, or leaves it to the writer."""
        msg = self._admitted(device, channel, topic, payload, qos, mid, now)
        if msg is None:
            return
        self.stats.accepted[channel.value] += 1
        presence = self._presence.get(device.device_id)
        if presence is None or presence.state is None:
            self._presence[device.device_id] = PresenceUpdate(device.device_id, now)
        if channel is Channel.TELEMETRY:
            self._take_reading(device, msg, qos, mid)
        elif channel is Channel.EVENT:
            self._take_event(device, msg, qos, mid, now)
        elif channel is Channel.STATUS:
            self._take_status(device, msg, qos, mid, now)
        else:  # Channel.ACK
            self._take_ack(device, msg, qos, mid, now)

    def _admitted(
        self,
        device: DeviceInfo,
        channel: Channel,
        topic: str,
        payload: bytes,
        qos: int,
        mid: int,
        now: datetime,
    ) -> Envelope[Any] | None:
        """The decoded message, or None when it goes no further (refused, another worker's,
        a duplicate, or dropped from a flooding device), already answered to the broker."""
        msg = self._decoded(device, channel, topic, payload, qos, mid, now)
        if msg is None or not self._fresh(device, channel, msg, qos, mid):
            return None
        if self.observer is not None:
            # A flooding device is alive: supervision hears even what is dropped next.
            self.observer(device, channel, msg.body, now)
        if self._throttled(device, channel, msg.body, msg.ts, now, qos, mid):
            return None
        return msg

    def _decoded(
        self,
        device: DeviceInfo,
        channel: Channel,
        topic: str,
        payload: bytes,
        qos: int,
        mid: int,
        now: datetime,
    ) -> Envelope[Any] | None:
        """The message decoded strictly, if its device may send it and this worker owns
        the home; else None (refused or kept by the partition gate, and acknowledged)."""
        if device.revoked:
            self._reject(RejectReason.WRONG_DEVICE, topic, "device is revoked", qos, mid)
            return None
        gate = self.partition_gate
        if gate is not None and not gate.admit(Kept(device, channel, topic, payload, now)):
            # Another worker owns this home (docs/adr/0147); the gate keeps a copy.
            self.stats.not_owned += 1
            self._ack(qos, mid)
            return None
        try:
            msg = decode_for_channel(channel, payload, now=now, clock=self.config.clock)
        except DecodeError as err:
            self._reject(err.reason, topic, err.detail, qos, mid)
            return None
        if channel is Channel.EVENT:
            kind = event_type(msg.body)
            if kind in RECEIVER_EVENT_TYPES:
                detail = f"{kind} is made by the hub's receivers, not sent over MQTT"
                self._reject(RejectReason.WRONG_DEVICE, topic, detail, qos, mid)
                return None
            if not event_allowed(device.type, kind):
                detail = f"a {device.type} cannot send {kind}"
                self._reject(RejectReason.WRONG_DEVICE, topic, detail, qos, mid)
                return None
        return msg

    def _fresh(
        self, device: DeviceInfo, channel: Channel, msg: Envelope[Any], qos: int, mid: int
    ) -> bool:
        """Whether the message is new (or an alarm to answer again); the sequence is noted.
        A duplicate is counted and acknowledged unless its first copy is still unstored."""
        key = (device.device_id, msg.id)
        if self.ids.seen(*key) and not self._answer_again(channel, msg.body, key):
            self.stats.duplicates += 1
            self.stats.rejected[RejectReason.DUPLICATE.value] += 1
            # A redelivery (after a reconnect) of an event we hold but have not stored
            # yet: acknowledging it now would let the broker forget it before it is safe.
            # The stored copy's acknowledgement (same packet id) covers it.
            if key not in self._unstored:
                self._ack(qos, mid)
            return False
        check = self.sequences.observe(device.device_id, msg.seq)
        if check.missing:
            self.stats.gaps += 1
            self.stats.missing += check.missing
        elif check.late:
            self.stats.late += 1
        return True

    def _take_reading(self, device: DeviceInfo, msg: Envelope[Any], qos: int, mid: int) -> None:
        """A reading joins the next time-series batch (acknowledged once it is written)."""
        body = msg.body
        self._points.append(
            Point(device.device_id, body.kind, msg.ts, body.value, device.home_id, body.unit)
        )
        if qos:
            self._point_acks.append(mid)
        if len(self._points) >= self.config.batch_size:
            self._points_ready.set()
        if len(self._points) >= self.config.max_buffered_points:
            self._pause()

    def _take_event(
        self, device: DeviceInfo, msg: Envelope[Any], qos: int, mid: int, now: datetime
    ) -> None:
        """An event goes to its writer, urgent or routine (acknowledged once it is stored)."""
        event = IngestedEvent(
            device_id=device.device_id,
            device_type=device.type,
            home_id=device.home_id,
            resident_id=device.resident_id,
            message_id=msg.id,
            device_ts=msg.ts,
            received_at=now,
            seq=msg.seq,
            body=msg.body,
        )
        self._unstored.add((device.device_id, msg.id))
        self._buffer_event(event, event_type(msg.body) in ALARM_EVENT_TYPES, qos, mid)

    def _take_status(
        self, device: DeviceInfo, msg: Envelope[Any], qos: int, mid: int, now: datetime
    ) -> None:
        """A status updates the device's presence (written by its writer) and is
        acknowledged; a connect is passed on to the connect listeners."""
        status = msg.body
        self._presence[device.device_id] = PresenceUpdate(
            device.device_id,
            now,
            state=status.state,
            state_reason=status.reason,
            battery=status.battery,
            firmware=status.firmware,
        )
        self._ack(qos, mid)
        if self.connect_listeners and (status.state, status.reason) == ("online", "connected"):
            connected = DeviceConnected(
                device.device_id, device.type, device.home_id, device.resident_id, msg.id, now
            )
            try:
                self.queue.put_nowait(connected)
            except asyncio.QueueFull:
                _LOGGER.warning("sink queue full: connect of %s not passed on", device.device_id)

    def _take_ack(
        self, device: DeviceInfo, msg: Envelope[Any], qos: int, mid: int, now: datetime
    ) -> None:
        """A device's answer to a command is acknowledged and passed on to its listeners."""
        ack = IngestedAck(device.device_id, msg.id, msg.ts, now, msg.body)
        self._ack(qos, mid)
        if self.ack_listeners:
            try:
                self.queue.put_nowait(ack)
            except asyncio.QueueFull:
                _LOGGER.warning("sink queue full: command ack from %s dropped", device.device_id)

    def _answer_again(self, channel: Channel, body: object, key: MessageKey) -> bool:
        """Whether a duplicate goes through again: a stored alarm event that its device
        re-sends because no ``event_received`` reached it (docs/adr/0125). The database
        keeps it one row; the engine keeps it one alarm. One still waiting to be stored
        is answered when it is applied."""
        return (
            channel is Channel.EVENT
            and key not in self._unstored
            and isinstance(body, EventBody)
            and event_type(body) in ALARM_EVENT_TYPES
        )

    def _buffer_event(self, event: IngestedEvent, urgent: bool, qos: int, mid: int) -> None:
        """Hold a decoded event for its writer: the urgent one at once, routine in batches."""
        if urgent:
            latencyprobe.mark(event.message_id, "received")
            self._urgent_events.append((event, qos, mid))
            self._urgent_events_ready.set()
            if not self._hand_on_early(event):
                self._late[event.home_id] += 1
            if len(self._urgent_events) >= self.config.max_pending_events:
                self._pause()
            return
        self._events.append((event, qos, mid))
        if len(self._events) >= self.config.batch_size:
            self._events_ready.set()
        elif self._event_timer is None:
            self._event_timer = asyncio.get_running_loop().call_later(
                self.config.event_flush_interval_s, self._events_ready.set
            )
        if len(self._events) >= self.config.max_pending_events:
            self._pause()

    def _hand_on_early(self, event: IngestedEvent) -> bool:
        """Give an alarm-capable event to the early sinks now, while its row is stored
        (docs/adr/0178). Safe because the broker is still acknowledged only after the store:
        a crash before it means a redelivery (or the device's re-send, ADR 0125), which the
        engine's applied-id ledger makes a no-op if the alarm was committed; a crash after
        it is the start-up replay's, as before. With no early sink, no room in the urgent
        queue, or an earlier alarm event of the home still to be handed on after its store,
        the event is handed on after its store as before (False)."""
        if (
            not self.config.early_hand_on
            or self._late[event.home_id]
            or not any(isinstance(sink, EarlyEventSink) for sink in self.sinks)
        ):
            return False
        loop = asyncio.get_running_loop()
        early = EarlyEvent(event, loop.create_future(), loop.create_future())
        try:
            self.urgent_queue.put_nowait(early)
        except asyncio.QueueFull:
            return False
        self._early[(event.device_id, event.message_id)] = early
        return True

    async def _hand_on_late(self, event: IngestedEvent) -> None:
        """Hand on a stored alarm-capable event that was not handed on early."""
        await self._hand_on(event)
        left = self._late[event.home_id] - 1
        if left > 0:
            self._late[event.home_id] = left
        else:
            del self._late[event.home_id]

    async def _alarms_first(self, batch: Sequence[_Pending]) -> None:
        """On a single-writer database, let the alarms of the early events in ``batch`` be
        written before their rows (a bounded wait): two writes wait at the gate in series
        either way, and the operator needs the alarm, the broker only the row."""
        if not self.gate.exclusive or self._stopping:
            return
        waits = [
            early.written
            for early in (self._early.get((e.device_id, e.message_id)) for e, _, _ in batch)
            if early is not None and not early.written.done()
        ]
        if waits:
            await asyncio.wait(waits, timeout=self.config.early_wait_s)

    def _stored_early(self, event: IngestedEvent) -> EarlyEvent | None:
        """The early hand-on of ``event``, now that its row is stored (or set aside)."""
        early = self._early.pop((event.device_id, event.message_id), None)
        if early is not None and not early.stored.done():
            early.stored.set_result(None)
        return early

    def _throttled(
        self,
        device: DeviceInfo,
        channel: Channel,
        body: Any,
        sent: datetime,
        now: datetime,
        qos: int,
        mid: int,
    ) -> bool:
        """Whether this event or reading is dropped because its device floods (ADR 0116).

        Counted on the device's own timestamps, so a gateway emptying its outbox after an
        outage (hours of events arriving at once, each with its time) is not a flood; alarm-
        capable and routine events have separate buckets because the outbox sends the first
        ahead of the second (each class in time order).
        """
        if channel is Channel.EVENT:
            kind = event_type(body)
            guard, what = self.flood_events, "events"
            key = f"{device.device_id}/{'a' if kind in ALARM_EVENT_TYPES else 'r'}"
            never_drop = kind in NEVER_DROPPED
        elif channel is Channel.TELEMETRY:
            guard, what, key, never_drop = self.flood_telemetry, "readings", device.device_id, False
        else:
            return False
        decision = guard.take(key, sent.timestamp(), never_drop=never_drop)
        if decision.flooding_started and self.on_flooding is not None:
            # Once per device and flood, whichever of its buckets overflowed first.
            told = self._flooding_told.get(device.device_id)
            if told is None or (now - told).total_seconds() >= guard.limit.quiet_s:
                self._flooding_told[device.device_id] = now
                if len(self._flooding_told) > FLOODING_TOLD_SIZE:
                    self._flooding_told.pop(next(iter(self._flooding_told)))
                self.on_flooding(device, what, now)
        if decision.allowed:
            return False
        # Dropped on purpose: acknowledged (the broker must not send it again), never
        # stored; the technical alarm tells the operator why.
        self.stats.throttled += 1
        self._ack(qos, mid)
        return True

    def _pause(self) -> None:
        if self.transport is not None:
            self.stats.paused += 1
            self.transport.pause_reading()

    def _maybe_resume(self) -> None:
        if (
            self.transport is not None
            and len(self._points) < self.config.max_buffered_points // 2
            and len(self._events) < self.config.max_pending_events // 2
            and len(self._urgent_events) < self.config.max_pending_events // 2
            and len(self._routine) < self.config.max_pending_events // 2
        ):
            self.transport.resume_reading()

    # ---------------------------------------------------------------- writers

    async def _point_writer(self) -> None:
        backoff = 0.5
        while True:
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.flush_interval_s):
                        await self._points_ready.wait()
            self._points_ready.clear()
            points, acks = self._points, self._point_acks
            if points:
                self._points, self._point_acks = [], []
                try:
                    await self.timeseries.write(points)
                except Exception:
                    self.stats.write_errors += 1
                    _LOGGER.exception("time-series write failed; %d points kept", len(points))
                    self._points = points + self._points
                    self._point_acks = acks + self._point_acks
                    if self._stopping:
                        return
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.5
                self.stats.points_written += len(points)
                done = self.clock().timestamp() * 1000
                self.stats.record_latencies([done - p.ts.timestamp() * 1000 for p in points])
                for mid in acks:
                    self._ack(1, mid)
                self._maybe_resume()
            if self._stopping and not self._points:
                return

    async def _event_writer(self, *, urgent: bool) -> None:
        ready = self._urgent_events_ready if urgent else self._events_ready
        backoff = 0.5
        while True:
            if not self._stopping:
                await ready.wait()
            ready.clear()
            if not urgent and self._event_timer is not None:
                self._event_timer.cancel()
                self._event_timer = None
            batch = self._urgent_events if urgent else self._events
            if batch:
                if urgent:
                    self._urgent_events = []
                else:
                    batch, self._events = (
                        batch[: self.config.event_slice],
                        batch[self.config.event_slice :],
                    )
                    if self._events:
                        ready.set()  # the next slice, after whoever waits at the gate
                if urgent:
                    await self._alarms_first(batch)
                try:
                    stored = await self._write_events(batch, urgent=urgent)
                    retry: list[_Pending] = []
                except Exception as err:
                    self.stats.write_errors += 1
                    if not is_refusal(err):
                        _LOGGER.exception(
                            "event write failed; %d events kept, not acked", len(batch)
                        )
                        retry = batch
                    else:
                        # One refused row must not hold every event behind it (a panic
                        # included): store the rest, set the refused ones aside.
                        stored, written, retry = await self._isolate(batch, urgent=urgent)
                        await self._after_commit(written, stored, urgent=urgent)
                    if retry:
                        if urgent:
                            self._urgent_events = retry + self._urgent_events
                        else:
                            self._events = retry + self._events
                        if self._stopping:
                            return
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 10.0)
                        ready.set()
                        continue
                else:
                    await self._after_commit(batch, stored, urgent=urgent)
                backoff = 0.5
            if self._stopping and not (self._urgent_events if urgent else self._events):
                return

    async def _write_events(
        self, batch: Sequence[_Pending], *, urgent: bool
    ) -> dict[MessageKey, int]:
        """Store ``batch`` in one transaction at the write gate; row ids of the new rows."""
        async with (
            self.gate.urgent() if urgent else self.gate.routine("ingest-events"),
            self.sessionmaker() as session,
        ):
            if urgent:
                for event, _, _ in batch:
                    latencyprobe.mark(event.message_id, "gated")
            stored = await insert_events(session, [e for e, _, _ in batch])
            await session.commit()
        return stored

    async def _isolate(
        self, batch: list[_Pending], *, urgent: bool
    ) -> tuple[dict[MessageKey, int], list[_Pending], list[_Pending]]:
        """Store what the database accepts of a refused batch, quarantine what it refuses;
        return the new rows' ids, the items written (stored or duplicates) and what is left
        to retry (the database went away meanwhile)."""

        async def write(part: Sequence[_Pending]) -> dict[MessageKey, int]:
            return await self._write_events(part, urgent=urgent)

        result = await isolate(batch, write)
        refused = {id(item) for item, _ in result.refused}
        for (event, qos, mid), reason in result.refused:
            self.stats.quarantined += 1
            kept = await quarantine(self.sessionmaker, event, reason, self.clock())
            _LOGGER.error(
                "event %s/%s (%s) refused by the database, quarantined%s: %s%s",
                event.device_id, event.message_id, event.type,
                "" if kept else " IN THIS LOG ONLY", reason,
                "" if kept else f"; event {dead_letter_json(event)}",
            )  # fmt: skip
            self._unstored.discard((event.device_id, event.message_id))
            # Kept as a dead letter (or in the log): the broker may forget it.
            self._ack(qos, mid)
            early = self._stored_early(event)
            if early is not None:
                # The alarm engine has it already; the others get it as before.
                await self.urgent_queue.put(_AfterEarly(event, early))
            elif event_type(event.body) in ALARM_EVENT_TYPES:
                # Never lose a panic: the alarm engine gets it without a stored row.
                await self._hand_on_late(event)
        # Parts are written in order, so what is left is a suffix of ``batch``.
        tried = batch[: len(batch) - len(result.remaining)]
        written = [item for item in tried if id(item) not in refused]
        return result.stored, written, result.remaining

    async def _after_commit(
        self, batch: Sequence[_Pending], stored: dict[MessageKey, int], *, urgent: bool
    ) -> None:
        """Ack a committed batch, count it and hand its new events on."""
        if urgent:
            for event, _, _ in batch:
                latencyprobe.mark(event.message_id, "stored")
        # Taken before the events leave _unstored: a re-send that comes in meanwhile is a
        # new early hand-on of its own.
        earlies = [self._stored_early(e) if urgent else None for e, _, _ in batch]
        self._unstored.difference_update((e.device_id, e.message_id) for e, _, _ in batch)
        done = self.clock()
        latencies = []
        # Committed: now the broker may forget them.
        for event, qos, mid in batch:
            self._ack(qos, mid)
            latencies.append((done - event.device_ts).total_seconds() * 1000)
        self.stats.record_latencies(latencies)
        self.stats.events_stored += len(stored)
        self._maybe_resume()
        for n, ((event, _, _), early) in enumerate(zip(batch, earlies, strict=True), 1):
            if n % HAND_ON_SLICE == 0:
                # Thousands of routine events handed on in one loop turn held the loop for
                # up to a second on a loaded machine (docs/adr/0115).
                await asyncio.sleep(0)
            row_id = stored.get((event.device_id, event.message_id))
            if row_id is None:
                # Already stored by an earlier delivery or another worker.
                self.stats.duplicates += 1
                self.stats.rejected[RejectReason.DUPLICATE.value] += 1
                if early is not None:
                    await self.urgent_queue.put(_AfterEarly(event, early))
                elif event_type(event.body) in ALARM_EVENT_TYPES:
                    # A device's re-send of an alarm event: the engine skips it if applied
                    # and the device is told event_received again; if the worker that stored
                    # it died before applying it, this is where it gets applied
                    # (docs/adr/0125).
                    await self._hand_on_late(event)
                continue
            if early is not None:
                # The early sinks have it; the others get it now, stored.
                await self.urgent_queue.put(_AfterEarly(_with_id(event, row_id), early))
                continue
            # An urgent event blocks only behind urgent ones (their back-pressure);
            # a routine one joins the backlog, which never blocks this writer.
            if urgent:
                await self._hand_on_late(_with_id(event, row_id))
            else:
                await self._hand_on(_with_id(event, row_id))

    async def _presence_writer(self) -> None:
        while True:
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.presence_interval_s):
                        await self._stop_event.wait()
            updates = list(self._presence.values())
            self._presence.clear()
            # In slices, each its own transaction at the write gate: ten thousand devices'
            # last_seen in one transaction held SQLite's lock for tens of milliseconds in
            # front of any panic (docs/adr/0115).
            slice_size = self.config.presence_slice
            for start in range(0, len(updates), slice_size):
                part = updates[start : start + slice_size]
                try:
                    async with self.gate.routine("ingest-presence"), self.sessionmaker() as session:
                        await write_presence(session, part)
                        await session.commit()
                except Exception:
                    _LOGGER.exception("presence write failed (%d devices)", len(part))
                    for u in await self._write_presence_one_by_one(part):
                        self._presence.setdefault(u.device_id, u)
            if self._stopping:
                return

    async def _write_presence_one_by_one(
        self, updates: list[PresenceUpdate]
    ) -> list[PresenceUpdate]:
        """After a failed batch: each update on its own, so one device's bad update never
        keeps every other device's presence unwritten (supervision would then call them
        silent). Returns what to retry: everything if nothing could be written (the
        database is away), else nothing (the updates that still fail are dropped)."""
        failed: list[PresenceUpdate] = []
        for update in updates:
            try:
                async with self.gate.routine("ingest-presence"), self.sessionmaker() as session:
                    await write_presence(session, [update])
                    await session.commit()
            except Exception:
                failed.append(update)
        if len(failed) == len(updates):
            return failed
        for update in failed:
            _LOGGER.error("presence of %s cannot be written; dropped", update.device_id)
        return []

    def heard(self, device: DeviceInfo, now: datetime) -> None:
        """A device was heard outside MQTT (a DC-09 unit's poll or event): presence and
        supervision see it like a message on its topics."""
        if self.observer is not None:
            self.observer(device, Channel.TELEMETRY, None, now)
        presence = self._presence.get(device.device_id)
        if presence is None or presence.state is None:
            self._presence[device.device_id] = PresenceUpdate(device.device_id, now)

    async def publish_event(self, event: IngestedEvent) -> IngestedEvent | None:
        """Store a hub-made event (supervision) and queue it for the sinks like any other."""
        async with self.sessionmaker() as session:
            stored = await insert_events(session, [event])
            await session.commit()
        row_id = stored.get((event.device_id, event.message_id))
        if row_id is None:
            return None
        event = _with_id(event, row_id)
        self.stats.events_stored += 1
        await self._hand_on(event)
        return event

    async def _hand_on(self, event: IngestedEvent) -> None:
        """Towards the sinks: urgent events through their queue, routine ones via the backlog."""
        if event_type(event.body) in ALARM_EVENT_TYPES:
            await self.urgent_queue.put(event)
            return
        self._routine.append(event)
        self._routine_ready.set()
        if len(self._routine) >= self.config.max_pending_events:
            self._pause()

    async def _routine_handoff(self) -> None:
        """Move the routine backlog into ``queue`` in order, waiting for room as needed."""
        while True:
            if not self._routine:
                if self._writers_done:
                    return
                self._routine_ready.clear()
                await self._routine_ready.wait()
                continue
            await self.queue.put(self._routine[0])
            self._routine.popleft()
            self._maybe_resume()

    async def _sink_worker(self, queue: asyncio.Queue[_SinkItem]) -> None:
        while True:
            item = await queue.get()
            try:
                if isinstance(item, IngestedEvent):
                    for sink in self.sinks:
                        await sink.handle(item)
                elif isinstance(item, EarlyEvent):
                    await self._give_early(item)
                elif isinstance(item, _AfterEarly):
                    for sink in self.sinks:
                        if not item.early.taken or not isinstance(sink, EarlyEventSink):
                            await sink.handle(item.event)
                elif isinstance(item, DeviceConnected):
                    for connect_listener in self.connect_listeners:
                        await connect_listener.handle_connected(item)
                else:
                    for listener in self.ack_listeners:
                        await listener.handle_ack(item)
            except Exception:
                self.stats.sink_errors += 1
                of = item.event if isinstance(item, EarlyEvent | _AfterEarly) else item
                _LOGGER.exception("a sink failed on message %s", of.message_id)
            finally:
                queue.task_done()

    async def _give_early(self, early: EarlyEvent) -> None:
        """Hand ``early`` to the early sinks; if one fails, every sink gets the event after
        its store instead (the alarm engine skips what it applied)."""
        try:
            for sink in self.sinks:
                if isinstance(sink, EarlyEventSink):
                    await sink.handle_early(early)
        except BaseException:
            early.taken = False
            early.mark_written()
            raise

    # ---------------------------------------------------------------- views

    @property
    def routine_backlog(self) -> int:
        """Stored routine events waiting for room in the routine queue."""
        return len(self._routine)

    def snapshot(self) -> dict[str, Any]:
        """Counters plus current buffer sizes."""
        view = self.stats.snapshot()
        view["queue_depth"] = self.queue.qsize()
        view["urgent_queue_depth"] = self.urgent_queue.qsize()
        view["routine_backlog"] = self.routine_backlog
        view["buffered_points"] = len(self._points)
        view["pending_events"] = len(self._events) + len(self._urgent_events)
        view["devices"] = len(self.registry)
        return view


def _with_id(event: IngestedEvent, row_id: int) -> IngestedEvent:
    return replace(event, stored_id=row_id)
