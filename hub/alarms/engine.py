"""The alarm engine: the hub's sink for decoded device events, timers and operator actions.

- :meth:`AlarmEngine.handle_event` runs the rules for one event and COMMITS every alarm it
  raises or changes before it returns, so ingestion acknowledges the broker only after
  the alarm is safe (a crash before the commit means the broker redelivers; a message id
  already applied is skipped).
- :meth:`AlarmEngine.run_due` fires rule timers and escalation steps that are due — from
  the database, so after a restart the timers are simply "rebuilt from stored state" and
  anything due while the hub was down fires at once.
- :meth:`AlarmEngine.act` applies an operator's action (accept, note, resolve, …) with
  optimistic concurrency, writing the alarm history and the audit log in one transaction.

Every change is published to :class:`~hub.alarms.live.AlarmLive` after its commit, and
signalled to the other hub workers inside its transaction (:mod:`hub.alarms.fanout`).
Timers are claimed in the database before they fire, so with several workers each fires
once (:meth:`AlarmEngine.run_due`).
Work is serialised per home (one lock per home), never globally: a busy home cannot delay
another home's panic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import (
    Alarm,
    AlarmChange,
    CarePlan,
    Change,
    Detection,
    EscalationPolicy,
    Evaluation,
    HomeEvent,
    MissedDose,
    PromptRequest,
    PromptWithdrawal,
    ResidentState,
    RuleKind,
    apply_detection,
    due_actions,
    evaluate,
    initial_state,
    next_deadline,
    present,
    reannounce,
    reminders_withdrawn,
    tick,
)
from alerts.channels import DeliveryResult
from alerts.emergency import HandoffResult, delivered_messages
from alerts.escalation import (
    Escalate112,
    NotifyContact,
    Reannounce,
    Warn112,
    mark_112_sending,
    pending_112,
    warn_112,
)
from alerts.escalation import next_deadline as next_escalation
from hub import latencyprobe
from hub.alarms import store
from hub.alarms.fanout import AlarmSignal, send_signal
from hub.alarms.ledger import (
    CLOSE_112,
    effect_key,
    is_handoff_key,
    record_effect,
)
from hub.alarms.live import AlarmLive, live_message
from hub.alarms.missed_doses import MissedDoseSink, routed
from hub.alarms.plans import NO_CARE_SERVICE, CareService
from hub.alarms.views import alarm_view
from hub.audit import record_audit
from hub.clock import Clock
from hub.db.models import Device, Resident
from hub.db.writegate import WriteGate
from hub.ingest import delivery
from hub.ingest.dedup import MessageKey
from hub.outbox.alarms import enqueue_resolved_alarm
from protocol import ALARM_EVENT_TYPES, EventBody, event_type

_LOGGER = logging.getLogger(__name__)

AlarmAction = Callable[[Alarm], Alarm]


class AlarmEffects(Protocol):
    """What the engine asks the outside world to do (tablet, contacts, 112)."""

    async def prompt(self, request: PromptRequest) -> None:
        """Show a pre-alarm question on the resident's tablet."""
        ...

    async def alarm_received(self, alarm: Alarm, event_id: str | None) -> None:
        """Tell the home the centre has the alarm."""
        ...

    async def withdraw_prompt(self, withdrawal: PromptWithdrawal, now: datetime) -> None:
        """Take a medication reminder off the tablet: its dose was confirmed elsewhere."""
        ...

    async def notify(self, alarm: Alarm, action: NotifyContact) -> DeliveryResult:
        """Notify a contact automatically."""
        ...

    async def hand_off(self, alarm: Alarm, now: datetime) -> HandoffResult | None:
        """Send the incident to 112 (None: no gateway configured)."""
        ...


class NoEffects:
    """Effects when nothing is wired: logged, and reported as not delivered."""

    async def prompt(self, request: PromptRequest) -> None:
        """Log only."""
        _LOGGER.info("no tablet channel: prompt %s not sent", request.prompt_id)

    async def alarm_received(self, alarm: Alarm, event_id: str | None) -> None:
        """Log only."""

    async def withdraw_prompt(self, withdrawal: PromptWithdrawal, now: datetime) -> None:
        """Log only."""
        _LOGGER.info("no tablet channel: prompt %s not withdrawn", withdrawal.prompt_id)

    async def notify(self, alarm: Alarm, action: NotifyContact) -> DeliveryResult:
        """Not delivered."""
        return DeliveryResult("none", False, "no notification channel configured", 0)

    async def hand_off(self, alarm: Alarm, now: datetime) -> HandoffResult | None:
        """No gateway."""
        return None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """An operator action's outcome: the alarm after it, and any 112 result."""

    alarm: Alarm
    handoff: HandoffResult | None = None


@dataclass(eq=False, slots=True)
class _Cached:
    """A resident's rule state in memory (ahead of the database while ``dirty``)."""

    state: ResidentState
    plan: CarePlan
    policy: EscalationPolicy
    dirty: bool = False
    # False until the state has a row (its first timer must be visible to the scheduler).
    stored: bool = True
    # Message ids applied to ``state`` but not yet recorded in the database.
    pending: list[tuple[MessageKey, datetime]] = field(default_factory=list)


# A change the engine made, and the alarm's stored version after it.
_Applied = tuple[AlarmChange, int]
_CHANGE_KIND = {
    Change.RAISED: "alarm.raised",
    Change.ATTACHED: "alarm.updated",
    Change.CANCELLED: "alarm.resolved",
}
# The action named in the live event of an alarm changed by a device event.
ATTACHED = "event_attached"

RECENT_IDS = 100_000
# How often the scheduler drops applied message ids older than their retention.
PROCESSED_SWEEP_EVERY = timedelta(minutes=10)
FLUSH_BATCH = 50
CONFLICT_ATTEMPTS = 5
# A claimed effect with no result after this long was interrupted (the hub stopped).
UNFINISHED_AFTER = timedelta(minutes=10)
# A claimed 112 hand-off is given the gateway's longest delivery (every attempt timing
# out) plus this margin, then counted as interrupted and retried: 112 cannot wait
# UNFINISHED_AFTER for a hub that died mid-send (docs/adr/0135).
HANDOFF_MARGIN = timedelta(seconds=15)
# The longest a hand-off takes when the effects do not say (the default RetryPolicy:
# 4 attempts of 10 s, pauses 0.5 + 1 + 2 s).
DEFAULT_HANDOFF_LONGEST = timedelta(seconds=43.5)
INTERRUPTED = DeliveryResult(
    "unknown", False, "interrupted: the hub stopped while sending; outcome unknown", 0
)


class AlarmNotFound(LookupError):
    """No alarm with that id."""


class NotOwner(Exception):
    """This worker no longer owns the home (fenced, docs/adr/0147): nothing was written;
    the home's new owner handles the event (the broker redelivers it, its device re-sends)."""


class _AlreadyApplied(Exception):
    """The event was applied before (by another worker): nothing to write."""


@contextlib.asynccontextmanager
async def _then(done: Callable[[], None] | None) -> AsyncIterator[None]:
    """Call ``done`` (if any) when the block is over, however it ends."""
    try:
        yield
    finally:
        if done is not None:
            done()


def _is_alarm(event: HomeEvent) -> bool:
    """An alarm-capable device event: its writes go first at the write gate."""
    return isinstance(event.body, EventBody) and event_type(event.body) in ALARM_EVENT_TYPES


def new_alarm_id() -> str:
    """A fresh alarm id."""
    return uuid.uuid4().hex


class AlarmEngine:
    """Rules + alarms + timers over the hub's database."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        live: AlarmLive,
        effects: AlarmEffects | None = None,
        *,
        handoff_longest: timedelta = DEFAULT_HANDOFF_LONGEST,
        gate: WriteGate | None = None,
        care_service: CareService = NO_CARE_SERVICE,
        delivery_retention: timedelta = delivery.RETENTION,
    ) -> None:
        self._sessionmaker = sessionmaker
        # How long what was sent to tablets is kept after its expiry and last state.
        self.delivery_retention = delivery_retention
        # What the service context says of residents: their plan's terms, their pauses.
        self.care_service = care_service
        self._gate = gate or WriteGate(exclusive=False)
        # A 112 effect claimed this long ago without a result was interrupted.
        self.handoff_unfinished_after = handoff_longest + HANDOFF_MARGIN
        self._clock = clock
        self.live = live
        self.effects: AlarmEffects = effects or NoEffects()
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, _Cached] = {}
        # Applied messages by (device id, message id): ids are unique per device only.
        self._recent: OrderedDict[MessageKey, None] = OrderedDict()
        # (alarm id, effect key) being sent by this process right now.
        self._sending: set[tuple[str, str]] = set()
        self.wakeup = asyncio.Event()
        # Completed :meth:`run_due` passes (for /metrics: a scheduler that stopped shows).
        self.timer_passes = 0
        # When old applied message ids were last dropped (None: not yet since the start).
        self._swept_at: datetime | None = None
        # One owner per home (docs/adr/0147): whether this worker owns a home now (None:
        # every home is this worker's), and the fencing check run inside each transaction
        # that commits a home's alarms or timers (False: another worker owns it now).
        self.owns_home: Callable[[str], bool] | None = None
        # When ``owns_home`` says no: wait for ownership to be confirmed (True) or not.
        self.await_owner: Callable[[str], Awaitable[bool]] | None = None
        self.fence: Callable[[AsyncSession, str], Awaitable[bool]] | None = None
        # The same for the write-behind of a batch of homes: those of them still held (their
        # lease rows share-locked until the transaction ends).
        self.fence_homes: Callable[[AsyncSession, Collection[str]], Awaitable[set[str]]] | None = (
            None
        )
        # (partition count, partitions owned now): the timer loop claims only those homes.
        self.owned_partitions: Callable[[], tuple[int, Collection[int]]] | None = None
        # Where missed doses of plans that tell the family go (the family app sets it).
        self.missed_dose_sink: MissedDoseSink | None = None

    def _lock(self, home_id: str) -> asyncio.Lock:
        lock = self._locks.get(home_id)
        if lock is None:
            lock = self._locks[home_id] = asyncio.Lock()
        return lock

    # ------------------------------------------------------------ events

    async def handle_event(
        self, event: HomeEvent, *, written: Callable[[], None] | None = None
    ) -> list[AlarmChange]:
        """Apply one device event; alarms are committed when this returns.

        ``written`` is called once the event's writes are over (committed, found applied,
        failed or nothing to write), before its effects go out: ingestion writes an early
        alarm event's row after that on a single-writer database (docs/adr/0178).

        An event that changes nothing urgent (no detection, no prompt, no earlier timer)
        only updates the cached rule state; :meth:`flush` writes it soon after, and a
        crash before that is covered by the start-up replay of unapplied events.

        A dose confirmed by the pill dispenser takes its reminder off the tablet (ADR
        0174), once the event is applied and the home's lock and the write gate are
        released: the command waits on the broker and records on the database, and a
        holder of the gate must never wait for a home's lock (ADR 0173).
        """
        withdrawals: list[PromptWithdrawal] = []
        changes = await self._handle_event(event, withdrawals, written)
        for withdrawal in withdrawals:
            try:
                await self.effects.withdraw_prompt(withdrawal, self._clock())
            except Exception:  # the event is applied; the reminder then expires as before
                _LOGGER.exception("reminder %s not withdrawn", withdrawal.prompt_id)
        return changes

    async def _handle_event(
        self,
        event: HomeEvent,
        withdrawals: list[PromptWithdrawal],
        written: Callable[[], None] | None = None,
    ) -> list[AlarmChange]:
        """:meth:`handle_event`'s work; adds to ``withdrawals`` the reminders the event,
        once applied, takes off the tablet."""
        changes: list[_Applied] = []
        prompts: tuple[PromptRequest, ...] = ()
        doses: tuple[MissedDose, ...] = ()
        async with _then(written), self._lock(event.home_id):
            latencyprobe.mark(event.message_id, "engine")
            if not await self._owner_of(event.home_id):
                # Still in flight here when the home moved to another worker.
                raise NotOwner(event.home_id)
            now = self._clock()
            key = (event.device_id, event.message_id)
            if key in self._recent:
                return []
            cached = self._cache.get(event.resident_id)
            # An alarm event may be a copy applied by another worker (the previous owner of
            # its home, a re-send): the database knows, this worker's cache may not. With the
            # resident cached, the alarm's own transaction asks (one session fewer in front
            # of the panic's write, docs/adr/0159).
            unchecked = cached is not None and _is_alarm(event)
            if cached is None:
                async with self._sessionmaker() as session:
                    if await store.was_processed(session, *key):
                        _LOGGER.info("event %s already applied; skipped", event.message_id)
                        return []
                    cached = await self._load(session, event.resident_id, event.home_id, event.at)
            result = evaluate(cached.plan, cached.state, event)
            if result.state.history is not cached.state.history:
                # A day ended on the way (once a day per resident).
                async with self._sessionmaker() as session:
                    back = await _paused_until(
                        self.care_service, session, cached.plan, cached.state, result
                    )
                if back is not None:
                    result = evaluate(cached.plan, _watched_from(cached.state, back), event)
            withdrawn = reminders_withdrawn(cached.plan, cached.state, event)
            if (
                result.prompts
                or result.missed_doses
                or any(d.rule not in RAISED_WHILE_PAUSED for d in result.detections)
            ):
                # A panic or a fire is raised whatever the service's state: no query.
                async with self._sessionmaker() as session:
                    result = await _unless_paused(self.care_service, session, result, now)
            self._remember(key)
            significant = (
                result.detections
                or result.prompts
                or result.missed_doses
                or result.state.timer_fields() != cached.state.timer_fields()
            )
            if unchecked and not significant:
                # Rare (an alarm-capable event that changes nothing urgent): ask now.
                async with self._sessionmaker() as session:
                    if await store.was_processed(session, *key):
                        _LOGGER.info("event %s already applied; skipped", event.message_id)
                        return []
            before, was_dirty = cached.state, cached.dirty
            cached.state = result.state
            cached.pending.append((key, now))
            if not significant:
                cached.dirty = True
                withdrawals.extend(withdrawn)
                return []
            # An alarm's write first; any other write here holds the home's lock, which a
            # panic of that home may be waiting for: queued behind routine batches it would
            # make the panic wait for them too (priority inversion, docs/adr/0115).
            gate = self._gate.urgent() if _is_alarm(event) else self._gate.holding("engine-event")
            try:
                async with gate, self._sessionmaker() as session:
                    latencyprobe.mark(event.message_id, "engine_gated")
                    if unchecked and await store.was_processed(session, *key):
                        raise _AlreadyApplied
                    await self._check_owner(session, event.home_id)
                    result = await routed(session, self.missed_dose_sink, result)
                    changes = await self._apply(session, result.detections, cached.policy, now)
                    await self._write(session, cached, now)
                    await session.commit()
            except _AlreadyApplied:
                # Nothing written; the state goes back to before this copy (its id is kept
                # among the recent ones: a further copy is skipped without a query).
                cached.state, cached.dirty = before, was_dirty
                cached.pending = [p for p in cached.pending if p[0] != key]
                _LOGGER.info("event %s already applied; skipped", event.message_id)
                return []
            except BaseException:
                # Nothing was stored: forget this event so a retry (or the start-up
                # replay) applies it again from the state before it.
                cached.state, cached.dirty = before, was_dirty
                cached.pending = [p for p in cached.pending if p[0] != key]
                self._recent.pop(key, None)
                raise
            cached.dirty = False
            prompts, doses = result.prompts, result.missed_doses
            withdrawals.extend(withdrawn)
            deadline = next_deadline(cached.plan, cached.state)
            if deadline is not None and deadline <= now + DUE_NOW:
                # A timer due at once (a supervised device gone silent): the scheduler may
                # sleep up to its cap; wake it now that the deadline is committed.
                self.wakeup.set()
        latencyprobe.mark(event.message_id, "committed")
        for change, _ in changes:
            latencyprobe.alias(change.alarm.id, event.message_id)
        self._after_commit(changes, now)
        latencyprobe.mark(event.message_id, "published")
        for request in prompts:
            await self.effects.prompt(request)
        await self._tell_family(doses)
        for change, _ in changes:
            if change.change is Change.RAISED:
                await self.effects.alarm_received(change.alarm, event.message_id)
        return [change for change, _ in changes]

    async def prefetch(self, events: Sequence[HomeEvent], *, check_applied: bool = True) -> int:
        """Load the rule inputs of the residents in ``events`` that are not cached yet, in
        one session for the whole batch; returns how many residents were loaded.

        After a start-up or a reconnection thousands of homes send their first event at
        once; loading each resident on its own (three queries, one session) would keep the
        database and the event loop busy in front of a panic. Ids already applied are
        remembered, so :meth:`handle_event` skips them without a query (``check_applied``
        False: the caller just read these events as not applied, and no other worker
        applies them: the start-up backlog of a single owner).
        """
        first: dict[str, HomeEvent] = {}
        for event in events:
            if event.resident_id not in self._cache:
                first.setdefault(event.resident_id, event)
        if not first:
            return 0
        ids = [(e.device_id, e.message_id) for e in events if e.resident_id in first]
        async with self._sessionmaker() as session:
            applied = await store.processed_among(session, ids) if check_applied else set()
            inputs = await store.load_rule_inputs(session, first, self.care_service)
        for key in applied:
            self._remember(key)
        now = self._clock()
        loaded = 0
        for rid, (plan, policy, state) in inputs.items():
            if rid in self._cache:  # loaded by a worker meanwhile: that one is newer
                continue
            event = first[rid]
            self._cache_inputs(rid, plan, policy, state, event.home_id, min(event.at, now))
            loaded += 1
        return loaded

    async def reload_plan(self, resident_id: str, home_id: str) -> None:
        """Apply a changed care plan, contact list or language to the resident now.

        The rule state is written with its next deadline under the new plan, so a timer
        the change creates (a check-in deadline switched on) is scheduled even if the
        resident's devices send nothing.
        """
        async with self._lock(home_id):
            now = self._clock()
            async with self._gate.holding("engine-plan"), self._sessionmaker() as session:
                cached = self._cache.get(resident_id)
                if cached is None:
                    cached = await self._load(session, resident_id, home_id, now)
                else:
                    cached.plan, cached.policy = await store.load_plan(
                        session, resident_id, self.care_service
                    )
                await self._write(session, cached, now)
                await session.commit()
                cached.dirty = False
        self.wakeup.set()

    async def plan_changed_elsewhere(self, resident_id: str | None) -> None:
        """A resident's plan changed on some hub worker (``None``: any resident's may have):
        the cached plan is replaced, so what this worker writes next (its rule state's next
        deadline) follows the new plan. Residents not cached load it when they are needed."""
        if resident_id is None:
            for rid in [r for r, c in self._cache.items() if not c.dirty]:
                del self._cache[rid]
            ids = list(self._cache)  # the dirty ones keep their state, take the new plan
        else:
            ids = [resident_id] if resident_id in self._cache else []
        for rid in ids:
            cached = self._cache.get(rid)
            if cached is None:
                continue
            async with self._lock(cached.state.home_id):
                cached = self._cache.get(rid)
                if cached is None:
                    continue
                async with self._sessionmaker() as session:
                    cached.plan, cached.policy = await store.load_plan(
                        session, rid, self.care_service
                    )

    async def _load(
        self, session: AsyncSession, resident_id: str, home_id: str, at: datetime
    ) -> _Cached:
        plan, policy, state = (
            await store.load_rule_inputs(session, [resident_id], self.care_service)
        )[resident_id]
        return self._cache_inputs(resident_id, plan, policy, state, home_id, min(at, self._clock()))

    def _cache_inputs(
        self,
        resident_id: str,
        plan: CarePlan,
        policy: EscalationPolicy,
        state: ResidentState | None,
        home_id: str,
        start: datetime,
    ) -> _Cached:
        """Cache a resident's rule inputs (a first state from ``start`` if none is stored)."""
        stored = state is not None
        if state is None:
            state = initial_state(plan, home_id, start)
        cached = self._cache[resident_id] = _Cached(state, plan, policy, stored=stored)
        return cached

    async def _write(self, session: AsyncSession, cached: _Cached, now: datetime) -> None:
        """Stage the resident's state and its applied message ids in ``session``."""
        state = cached.state
        await store.save_state(
            session, state, next_deadline(cached.plan, state), now, known_new=not cached.stored
        )
        cached.stored = True
        ids, cached.pending = cached.pending, []
        try:
            await store.add_processed(session, ids)
        except BaseException:
            cached.pending = ids + cached.pending
            raise

    async def _owner_of(self, home_id: str) -> bool:
        if self.owns_home is None or self.owns_home(home_id):
            return True
        return self.await_owner is not None and await self.await_owner(home_id)

    async def _check_owner(self, session: AsyncSession, home_id: str) -> None:
        if self.fence is not None and not await self.fence(session, home_id):
            self._forget_home(home_id)
            raise NotOwner(home_id)

    def _forget_home(self, home_id: str) -> None:
        for resident_id, cached in list(self._cache.items()):
            if cached.state.home_id == home_id:
                del self._cache[resident_id]

    async def release_homes(self, owned_elsewhere: Callable[[str], bool]) -> int:
        """Write what is cached of the homes another worker owns from now on, then forget
        it (their next owner loads the stored state); returns how many residents."""
        await self.flush()
        gone = [
            resident_id
            for resident_id, cached in self._cache.items()
            if owned_elsewhere(cached.state.home_id) and not cached.dirty
        ]
        for resident_id in gone:
            del self._cache[resident_id]
        return len(gone)

    def _forget(self, resident_id: str) -> None:
        """Drop a resident's cached rule inputs unless they hold unwritten changes."""
        cached = self._cache.get(resident_id)
        if cached is not None and not cached.dirty:
            del self._cache[resident_id]

    def _remember(self, key: MessageKey) -> None:
        self._recent[key] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)

    async def flush(self, batch: int = FLUSH_BATCH) -> int:
        """Write cached rule states changed by routine events; returns how many.

        Small transactions (``batch`` residents each) keep the database's write lock
        short, so an alarm never waits long behind a flush.
        """
        dirty = sorted((c.state.home_id, rid) for rid, c in self._cache.items() if c.dirty)
        written = 0
        for start in range(0, len(dirty), batch):
            # A chunk's transaction is never cancelled halfway (a stop cancels the flusher and
            # the timer loop): a commit cancelled on aiosqlite could leave SQLite's write lock
            # with a connection nobody closed, and the final flush then failed "database is
            # locked" after 10 s. A chunk is small: a stop waits for it.
            chunk = asyncio.ensure_future(self._flush_chunk(dirty[start : start + batch]))
            try:
                written += await asyncio.shield(chunk)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await chunk
                raise
            await asyncio.sleep(0)  # let urgent work run between chunks
        return written

    async def _flush_chunk(self, chunk: list[tuple[str, str]]) -> int:
        """Write the dirty states of ``chunk`` (home id, resident id) in one transaction;
        returns how many."""
        async with contextlib.AsyncExitStack() as stack:
            # Only homes nobody is working on: the flush never waits for a busy home
            # while holding other homes' locks (that would hold up their alarms).
            # Taking a free asyncio lock does not suspend, so check-then-take is safe.
            free = {home for home, _ in chunk if not self._lock(home).locked()}
            for home_id in sorted(free):
                await stack.enter_async_context(self._lock(home_id))
            now = self._clock()
            # A resident forgotten meanwhile (its home fenced out in an earlier chunk) is
            # skipped.
            cached_now = [self._cache.get(rid) for home, rid in chunk if home in free]
            entries = [c for c in cached_now if c is not None and c.dirty]
            pending = [cached.pending for cached in entries]
            for cached in entries:
                cached.pending = []
            try:
                # Ahead of routine batches: it holds these homes' locks, and a panic of
                # one of them may be waiting (docs/adr/0115). The gate is taken after the
                # locks, as in handle_event: one order, no deadlock (a free-looking lock
                # can still suspend its taker).
                async with self._gate.holding("engine-flush"), self._sessionmaker() as session:
                    lost = await self._fenced_out(session, {c.state.home_id for c in entries})
                    kept = [
                        (cached, ids)
                        for cached, ids in zip(entries, pending, strict=True)
                        if cached.state.home_id not in lost
                    ]
                    await store.save_states(
                        session,
                        [(c.state, next_deadline(c.plan, c.state)) for c, _ in kept],
                        now,
                    )
                    await store.add_processed(session, [i for _, ids in kept for i in ids])
                    await session.commit()
            except BaseException:
                for cached, ids in zip(entries, pending, strict=True):
                    cached.pending = ids + cached.pending
                raise
            for cached, _ in kept:
                cached.dirty = False
                cached.stored = True
            lost_ids = [
                ids
                for cached, ids in zip(entries, pending, strict=True)
                if cached.state.home_id in lost
            ]
            self._drop_lost(lost, lost_ids)
            return len(kept)

    async def _fenced_out(self, session: AsyncSession, homes: set[str]) -> set[str]:
        """Of ``homes``, those whose partition another worker holds now (fencing the
        write-behind, docs/adr/0161): their cached state must not be written."""
        if self.fence_homes is None or not homes:
            return set()
        return homes - await self.fence_homes(session, homes)

    def _drop_lost(self, homes: set[str], pending: list[list[tuple[MessageKey, datetime]]]) -> None:
        """Forget what this worker applied of homes it no longer owns, unwritten: the new
        owner applies those events again (they are not marked processed), and so would this
        worker if the home came back to it (their ids leave the recent set too)."""
        if not homes:
            return
        for ids in pending:
            for key, _ in ids:
                self._recent.pop(key, None)
        for home_id in homes:
            self._forget_home(home_id)
        _LOGGER.warning(
            "%d homes' cached rule state not written: their partition is another worker's now",
            len(homes),
        )

    async def _apply(
        self,
        session: AsyncSession,
        detections: tuple[Any, ...],
        policy: EscalationPolicy,
        now: datetime,
    ) -> list[_Applied]:
        """Raise, attach or cancel in ``session``; each change with its new version."""
        if not detections:
            return []
        changes: list[_Applied] = []
        current = await store.open_alarms_of_home(session, detections[0].home_id)
        versions = {alarm.id: version for version, alarm in current}
        alarms = {alarm.id: alarm for _, alarm in current}
        for detection in await _devices_named(session, detections):
            change = apply_detection(
                [a for a in alarms.values() if a.is_open], detection, now, new_alarm_id()
            )
            if change is None:
                continue
            alarm = change.alarm
            if change.change is Change.RAISED:
                # Raised when detected (a timer due during downtime keeps its true age).
                alarm = _raised_at(alarm, min(detection.at, now))
                if self.live.subscribers:
                    # Published to open operator screens right after this commit.
                    alarm = present(alarm, now)
                change = AlarmChange(alarm, change.change)
                await store.insert_alarm(session, alarm, next_escalation(policy, alarm), now)
                versions[alarm.id] = 1
            else:
                versions[alarm.id] = await store.update_alarm(
                    session,
                    versions[alarm.id],
                    alarms[alarm.id],
                    alarm,
                    next_escalation(policy, alarm),
                    now,
                )
            alarms[alarm.id] = alarm
            await send_signal(
                session,
                AlarmSignal(alarm.id, versions[alarm.id], _CHANGE_KIND[change.change], ATTACHED),
            )
            changes.append((change, versions[alarm.id]))
        return changes

    def _after_commit(self, changes: list[_Applied], now: datetime) -> None:
        for change, version in changes:
            self.publish(_CHANGE_KIND[change.change], change.alarm, now, version, ATTACHED)
        if changes:
            self.wakeup.set()

    def publish(
        self, kind: str, alarm: Alarm, now: datetime, version: int, action: str | None = None
    ) -> None:
        """Send a live event about stored ``version`` of ``alarm`` to this worker's
        subscribers (views in each reader's language are built by the socket)."""
        self.live.publish(live_message(kind, alarm, now, action), version)

    # ------------------------------------------------------------ timers

    async def run_due(self) -> int:
        """Fire due rule timers and escalation steps; returns how many were handled."""
        # Cached states first, so every resident's next timer is in the database.
        await self.flush()
        now = self._clock()
        async with self._sessionmaker() as session:
            owned = self.owned_partitions() if self.owned_partitions is not None else None
            residents = await store.due_residents(session, now, partitions=owned)
            alarm_ids = await store.due_alarm_ids(session, now)
        for resident_id in residents:
            await self.tick_resident(resident_id)
        for alarm_id in alarm_ids:
            await self._escalate(alarm_id)
        await self._recover_unfinished(now)
        if self._swept_at is None or now - self._swept_at >= PROCESSED_SWEEP_EVERY:
            await self.forget_old_processed(now)
        self.timer_passes += 1
        return len(residents) + len(alarm_ids)

    async def forget_old_processed(self, now: datetime) -> None:
        """Drop applied message ids older than the retention, and what was sent to tablets
        past its own (``[alarms] delivery_retention_days``): housekeeping, so a routine
        writer at the write gate, and not on every pass (the scheduler wakes at every alarm;
        a write there held SQLite's lock just when the next panic came, docs/adr/0159)."""
        async with self._gate.routine("engine-forget"), self._sessionmaker() as session:
            await store.forget_processed(session, now - store.PROCESSED_RETENTION)
            pruned = await delivery.prune(session, now - self.delivery_retention)
            await session.commit()
        if pruned:
            _LOGGER.info("dropped %d tablet deliveries past their retention", pruned)
        self._swept_at = now

    async def seconds_until_due(self, cap: float = 30.0) -> float:
        """How long the scheduler may sleep."""
        async with self._sessionmaker() as session:
            due = await store.earliest_due(session)
        if due is None:
            return cap
        return max(0.0, min(cap, (due - self._clock()).total_seconds()))

    async def tick_resident(self, resident_id: str) -> None:
        """Fire the resident's due rule timers, if this worker claims them first."""
        cached = self._cache.get(resident_id)
        if cached is None:
            async with self._sessionmaker() as session:
                state = await store.load_state(session, resident_id)
            if state is None:
                return
            home_id = state.home_id
        else:
            home_id = cached.state.home_id
        changes: list[_Applied] = []
        prompts: tuple[PromptRequest, ...] = ()
        doses: tuple[MissedDose, ...] = ()
        async with self._lock(home_id):
            now = self._clock()
            # A rule timer's write holds the home's lock, as an event's does: after alarms'
            # writes, before routine batches (docs/adr/0173).
            async with self._gate.holding("engine-tick"), self._sessionmaker() as session:
                if self.owns_home is not None and not self.owns_home(home_id):
                    self._forget(resident_id)
                    return
                stored = await store.claim_due_state(session, resident_id, now)
                if stored is None:
                    # Another worker fired it (or is firing it): what this worker cached
                    # of the resident is behind; the next event loads it again.
                    self._forget(resident_id)
                    return
                cached = self._cache.get(resident_id)
                if cached is None:
                    cached = await self._load(session, resident_id, home_id, now)
                elif not cached.dirty:
                    # The claimed row is the truth: another worker may have moved the
                    # state on, or changed the plan, since this one cached it.
                    cached.state = stored
                    cached.plan, cached.policy = await store.load_plan(
                        session, resident_id, self.care_service
                    )
                result = tick(cached.plan, cached.state, now)
                if result.state.history is not cached.state.history:
                    back = await _paused_until(
                        self.care_service, session, cached.plan, cached.state, result
                    )
                    if back is not None:
                        result = tick(cached.plan, _watched_from(cached.state, back), now)
                if result.detections or result.prompts or result.missed_doses:
                    result = await _unless_paused(self.care_service, session, result, now)
                await self._check_owner(session, home_id)
                result = await routed(session, self.missed_dose_sink, result)
                changes = await self._apply(session, result.detections, cached.policy, now)
                cached.state = result.state
                await self._write(session, cached, now)
                await session.commit()
                cached.dirty = False
                prompts, doses = result.prompts, result.missed_doses
        self._after_commit(changes, now)
        for request in prompts:
            await self.effects.prompt(request)
        await self._tell_family(doses)

    async def _tell_family(self, doses: tuple[MissedDose, ...]) -> None:
        """Hand the committed missed doses to the family (a failure is logged: the dose is
        in the rule history, and the family app shows adherence from the events)."""
        sink = self.missed_dose_sink
        if sink is None:
            return
        for dose in doses:
            try:
                await sink.tell(dose)
            except Exception:
                _LOGGER.exception("telling the family of a missed dose failed")

    async def _escalate(self, alarm_id: str) -> None:
        """Run an alarm's due escalation steps; each external effect happens once.

        1. *Plan* (one transaction, version-checked): pure steps (re-announce) are applied
           and every effect to send is claimed in ``alarm_effects``. Nothing has left the
           hub yet, so a :class:`~hub.alarms.store.ConcurrentUpdate` simply plans again
           from the fresh alarm (where a claim by someone else is already visible).
        2. *Send* the claimed effects (outside the home's lock: a slow SMS gateway does
           not hold up that home's next panic).
        3. *Record* the results on the alarm; a conflict now re-reads the alarm and
           records again — it never sends again.
        """
        planned = await self._plan_escalation(alarm_id)
        if planned is None:
            return
        alarm, sends, now = planned
        if not sends:
            return
        self._sending.update((alarm_id, key) for key, _ in sends)
        try:
            results: list[tuple[str, DeliveryResult | HandoffResult | None]] = []
            for key, action in sends:
                results.append((key, await self._send(alarm, action, now)))
            await self._record_effects(alarm_id, results)
        finally:
            self._sending.difference_update((alarm_id, key) for key, _ in sends)

    async def _plan_escalation(
        self, alarm_id: str
    ) -> tuple[Alarm, list[tuple[str, NotifyContact | Escalate112]], datetime] | None:
        for attempt in range(CONFLICT_ATTEMPTS):
            async with self._sessionmaker() as session:
                loaded = await store.load_alarm(session, alarm_id)
            if loaded is None:
                return None
            async with self._lock(loaded[1].home_id):
                now = self._clock()
                gate = self._gate.holding("engine-escalate")
                async with gate, self._sessionmaker() as session:
                    loaded = await store.load_alarm(session, alarm_id)
                    if loaded is None:
                        return None
                    version, alarm = loaded
                    _, policy = await store.load_plan(session, alarm.resident_id, self.care_service)
                    claimed = await store.claimed_effects(session, alarm_id)
                    after = provisional = alarm
                    sends: list[tuple[str, NotifyContact | Escalate112]] = []
                    for action in due_actions(policy, alarm, now):
                        if isinstance(action, Reannounce):
                            after = reannounce(after, now, to_supervisor=action.to_supervisor)
                            provisional = reannounce(
                                provisional, now, to_supervisor=action.to_supervisor
                            )
                            continue
                        if isinstance(action, Warn112):
                            # A note on the alarm: the version check makes it once, and the
                            # live update puts it on the operator's card.
                            after = warn_112(after, now, action.deadline)
                            provisional = warn_112(provisional, now, action.deadline)
                            continue
                        key = effect_key(action)
                        # The next deadline must not count a claimed effect as still due.
                        provisional = record_effect(provisional, key, None, now)
                        if key not in claimed:
                            sends.append((key, action))
                            if isinstance(action, Escalate112):
                                # On the card at once; the first one fixes the message's
                                # identity that every retry repeats.
                                after = mark_112_sending(after, now, action.attempt)
                                provisional = mark_112_sending(provisional, now, action.attempt)
                    try:
                        await store.update_alarm(
                            session,
                            version,
                            alarm,
                            after,
                            next_escalation(policy, provisional),
                            now,
                        )
                        if after is not alarm:
                            await send_signal(
                                session, AlarmSignal(alarm_id, version + 1, "alarm.updated")
                            )
                        await store.claim_effects(session, alarm_id, [k for k, _ in sends], now)
                        await session.commit()
                    except store.ConcurrentUpdate:
                        await session.rollback()
                        if attempt == CONFLICT_ATTEMPTS - 1:
                            raise
                        continue
            if after is not alarm:
                self.publish("alarm.updated", after, now, version + 1)
            return after, sends, now
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, alarm: Alarm, action: NotifyContact | Escalate112, now: datetime
    ) -> DeliveryResult | HandoffResult | None:
        if isinstance(action, NotifyContact):
            return await self.effects.notify(alarm, action)
        first = pending_112(alarm)
        # Every attempt of one hand-off is the same message (identifier and sent time).
        return await self.effects.hand_off(alarm, first.at if first is not None else now)

    async def _record_effects(
        self, alarm_id: str, results: list[tuple[str, DeliveryResult | HandoffResult | None]]
    ) -> Alarm | None:
        """Write what came of the sent effects on the alarm (re-read on every conflict)."""
        keys = [key for key, _ in results]
        for attempt in range(CONFLICT_ATTEMPTS):
            async with self._sessionmaker() as session:
                loaded = await store.load_alarm(session, alarm_id)
            if loaded is None:
                return None
            async with self._lock(loaded[1].home_id):
                now = self._clock()
                gate = self._gate.holding("engine-effects")
                async with gate, self._sessionmaker() as session:
                    loaded = await store.load_alarm(session, alarm_id)
                    if loaded is None:
                        return None
                    version, alarm = loaded
                    _, policy = await store.load_plan(session, alarm.resident_id, self.care_service)
                    after = alarm
                    for key, result in results:
                        after = record_effect(after, key, result, now, sent=True)
                    try:
                        await store.update_alarm(
                            session, version, alarm, after, next_escalation(policy, after), now
                        )
                        await send_signal(
                            session, AlarmSignal(alarm_id, version + 1, "alarm.updated")
                        )
                        await store.finish_effects(session, alarm_id, keys, now)
                        await session.commit()
                    except store.ConcurrentUpdate:
                        await session.rollback()
                        if attempt == CONFLICT_ATTEMPTS - 1:
                            raise
                        continue
            self.publish("alarm.updated", after, now, version + 1)
            return after
        raise AssertionError("unreachable")  # pragma: no cover

    async def _recover_unfinished(self, now: datetime) -> None:
        """Effects claimed long ago with no recorded result: the hub stopped while sending.

        Notifications are NOT sent again; the alarm says the outcome is unknown so the
        operator checks by phone. An automatic 112 hand-off is recorded as interrupted
        once the gateway's longest delivery is over (not after UNFINISHED_AFTER), and
        retried at once with the same message identity: 112 deduplicates by it.
        """
        async with self._sessionmaker() as session:
            unfinished = await store.unfinished_effects(
                session, now - min(UNFINISHED_AFTER, self.handoff_unfinished_after)
            )
        cutoff = now - UNFINISHED_AFTER
        for alarm_id, claims in unfinished.items():
            keys = [
                key
                for key, claimed_at in claims
                if (alarm_id, key) not in self._sending
                and (is_handoff_key(key) or claimed_at < cutoff)
            ]
            if keys:
                _LOGGER.warning("alarm %s: outcome of %s unknown (interrupted)", alarm_id, keys)
                await self._record_effects(alarm_id, [(key, INTERRUPTED) for key in keys])

    # ------------------------------------------------------------ operator actions

    async def act(
        self,
        alarm_id: str,
        action: AlarmAction,
        *,
        audit_actor: str,
        audit_action: str,
        details: dict[str, Any] | None = None,
        live_kind: str = "alarm.updated",
    ) -> Alarm:
        """Apply ``action`` (a pure alarm function) and record it; raises AlarmError."""
        for attempt in range(3):
            # On the alarm's path: after alarms' writes, before routine ones (ADR 0173).
            async with self._gate.holding("engine-act"), self._sessionmaker() as session:
                loaded = await store.load_alarm(session, alarm_id)
                if loaded is None:
                    raise AlarmNotFound(alarm_id)
                version, alarm = loaded
                now = self._clock()
                after = action(alarm)
                _, policy = await store.load_plan(session, alarm.resident_id, self.care_service)
                try:
                    await store.update_alarm(
                        session, version, alarm, after, next_escalation(policy, after), now
                    )
                except store.ConcurrentUpdate:
                    await session.rollback()
                    if attempt == 2:
                        raise
                    continue
                await send_signal(session, AlarmSignal(alarm_id, version + 1, live_kind))
                await record_audit(
                    session, audit_actor, audit_action, f"alarm:{alarm_id}", details, at=now
                )
                tell_112 = False
                if alarm.is_open and not after.is_open:
                    # The outcome goes to the social record in the same transaction.
                    await enqueue_resolved_alarm(session, after)
                    # 112 has this incident: it is told of the close (claimed first, so
                    # a crash while sending is reported, never sent twice).
                    tell_112 = bool(delivered_messages(after))
                    if tell_112:
                        await store.claim_effects(session, alarm_id, [CLOSE_112], now)
                await session.commit()
            self.publish(live_kind, after, now, version + 1)
            self.wakeup.set()
            if tell_112:
                return await self._tell_112_closed(after, now) or after
            return after
        raise AssertionError("unreachable")  # pragma: no cover

    async def _tell_112_closed(self, alarm: Alarm, now: datetime) -> Alarm | None:
        """Send 112 the close of an alarm it has (Cancel, or an all-clear Update)."""
        self._sending.add((alarm.id, CLOSE_112))
        try:
            result = await self.effects.hand_off(alarm, now)
            return await self._record_effects(alarm.id, [(CLOSE_112, result)])
        finally:
            self._sending.discard((alarm.id, CLOSE_112))

    async def mark_presented(self, alarm_id: str) -> None:
        """The alarm is on at least one operator screen."""
        try:
            await self.act(
                alarm_id,
                lambda a: present(a, self._clock()),
                audit_actor="system",
                audit_action="alarm.present",
            )
        except Exception:
            _LOGGER.debug("alarm %s not marked presented", alarm_id, exc_info=True)


DUE_NOW = timedelta(seconds=1)

RAISED_WHILE_PAUSED = frozenset(
    {
        # Someone in the home asks for help or is hurt, or the home is in danger:
        # whoever is there (the resident back early, a relative, a carer) needs us.
        RuleKind.PANIC,
        RuleKind.FALL,
        RuleKind.PROMPT_HELP,
        RuleKind.SMOKE,
        RuleKind.CO,
        RuleKind.GAS,
        RuleKind.FLOOD,
        RuleKind.MEDICAL,
        RuleKind.FIRE,
        # The equipment must work when the resident comes home (maintenance queue).
        RuleKind.DEVICE_OFFLINE,
        RuleKind.LOW_BATTERY,
        RuleKind.TAMPER,
        RuleKind.POWER_LOST,
        RuleKind.DEVICE_FAULT,
        RuleKind.UNIT_EVENT,
    }
)
"""Rules that still raise while the resident's service is paused (hospital, holiday).

The others watch the resident's routine (inactivity, missed check-in, night door, bed,
temperature, baseline, medication): with the resident away they would only raise false
alarms, and no tablet prompt is sent either. See docs/alerts.md.
"""


# Devices worn by someone: a technical alarm names the wearer ("el penjoll de Maria Puig").
_WORN = frozenset({"pendant", "fall_detector"})


async def _devices_named(session: AsyncSession, detections: Sequence[Detection]) -> list[Detection]:
    """Detections whose explanation names a device by its id, with the registry's kind, room
    and wearer added beside it, so every reader's text says what and where ("el detector de
    moviment del dormitori", "Maria Puig's pendant"; alerts.values.device_phrase). What the
    registry said when the alarm was raised is kept: a device moved later does not rename an
    old alarm. One query, and only for technical alarms (care alarms name no device)."""
    ids = {d.explanation.param("device") for d in detections} - {None}
    if not ids:
        return list(detections)
    rows = (
        await session.execute(
            select(Device.id, Device.type, Device.room, Device.resident_id).where(
                Device.id.in_(ids)
            )
        )
    ).all()
    residents = {r.resident_id for r in rows if r.resident_id is not None} | {
        int(d.resident_id) for d in detections if d.resident_id.isdigit()
    }
    names: dict[int, str] = {}
    if residents:
        query = select(Resident.id, Resident.name).where(Resident.id.in_(residents))
        names = {rid: name for rid, name in (await session.execute(query)).all()}
    found = {r.id: r for r in rows}
    named = []
    for detection in detections:
        row = found.get(detection.explanation.param("device") or "")
        if row is None:
            named.append(detection)
            continue
        wearer_id = row.resident_id or (
            int(detection.resident_id) if detection.resident_id.isdigit() else None
        )
        extra = {"device_kind": row.type, "device_room": row.room or ""}
        if row.type in _WORN and wearer_id in names:
            extra["device_wearer"] = names[wearer_id]
        named.append(replace(detection, explanation=detection.explanation.with_params(**extra)))
    return named


async def _service_paused(
    service: CareService, session: AsyncSession, resident_id: str, now: datetime
) -> bool:
    """Is the resident's service paused? (A home without a resident never is.)"""
    return resident_id.isdigit() and await service.is_paused(session, int(resident_id), now)


async def _unless_paused(
    service: CareService, session: AsyncSession, result: Evaluation, now: datetime
) -> Evaluation:
    """``result`` without what a paused service must not raise or ask."""
    detections = result.detections
    if not detections and not result.prompts and not result.missed_doses:
        return result
    first = detections or result.prompts or result.missed_doses
    resident_id = first[0].resident_id
    if not await _service_paused(service, session, resident_id, now):
        return result
    return _while_paused(result)


async def _paused_until(
    service: CareService,
    session: AsyncSession,
    plan: CarePlan,
    before: ResidentState,
    result: Evaluation,
) -> datetime | None:
    """If ``result`` would teach the baseline a day during which the service was paused,
    the local midnight after the last such day (watch from there instead); else None.

    The days of a hospital stay are not the resident's days (an empty home would teach
    the profile a quiet that is not hers), nor are the days it starts or ends.
    """
    known = {d.day for d in before.history}
    days = [d.day for d in result.state.history if d.day not in known]
    if not days or not before.resident_id.isdigit():
        return None
    zone = ZoneInfo(plan.timezone)
    start = datetime.combine(min(days), time(0, 0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(max(days) + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)
    if await service.was_paused(session, int(before.resident_id), start, end):
        return end
    return None


def _watched_from(state: ResidentState, moment: datetime) -> ResidentState:
    """``state`` as if watching started at ``moment``: the rules learn no day before it."""
    return replace(state, monitored_since=max(state.monitored_since, moment))


def _while_paused(result: Evaluation) -> Evaluation:
    """What a step may still raise while the service is paused (no prompts at all)."""
    detections = result.detections
    kept = tuple(d for d in detections if d.rule in RAISED_WHILE_PAUSED)
    for dropped in detections:
        if dropped.rule not in RAISED_WHILE_PAUSED:
            _LOGGER.info(
                "resident %s: service paused, %s not raised",
                dropped.resident_id,
                dropped.rule.value,
            )
    return replace(result, detections=kept, prompts=(), missed_doses=())


def _raised_at(alarm: Alarm, when: datetime) -> Alarm:
    from dataclasses import replace

    first = replace(alarm.history[0], at=when)
    return replace(alarm, raised_at=when, history=(first, *alarm.history[1:]))


def alarm_json(alarm: Alarm, language: str, now: datetime) -> dict[str, Any]:
    """Shortcut for the API."""
    return alarm_view(alarm, language, now)
