"""The hub's side of a call: state, ring timeout, relaying offers/answers/ICE, history.

One :class:`CallService` per hub process owns the live calls and their timers. Every
change is written to ``family_calls`` and told to both parties' connections (``call.state``);
signalling data is relayed verbatim and never stored.

Centre calls (:meth:`CallService.start_centre`: an operator speaking with a home's tablet)
add: one operator per home at a time, an immediate failure when the tablet is offline, a
media timeout after the answer, and a :class:`CallObserver` that the alarm engine uses to
put each call's outcome in the alarm's history.

The worker where a call starts holds it; on PostgreSQL a party whose socket is on another
worker is found there and its frames forwarded both ways (:mod:`hub.family.calls.across`,
docs/adr/0185): the ``remote_*`` methods are the holder's side of that. There each open
call's row names its holder, which renews a hold on it: a starting worker fails only calls
whose holder died, and the busy checks read every live worker's open calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.clock import Clock
from hub.family.calls.across import CallLinks
from hub.family.calls.listen import Listen, ListenIns
from hub.family.calls.state import (
    FINAL,
    CallError,
    CallEvent,
    CallKind,
    CallState,
    CallStatus,
    Failure,
    apply_event,
    failed_call,
    start_call,
)
from hub.family.live import LiveHub
from hub.family.models import CallRecord
from hub.family.parties import party_names
from hub.throttle import Limit, take

_LOGGER = logging.getLogger(__name__)

MAX_SIGNAL_BYTES = 64 * 1024
# A party whose every connection dropped mid-call has this long to come back.
RECONNECT_GRACE_S = 20.0
# An answered centre call whose media has not connected by then is ended as failed.
MEDIA_TIMEOUT_S = 20.0

MayContact = Callable[[AsyncSession, str, str], Awaitable[bool]]

# Several workers (PostgreSQL): a worker renews the hold of the calls it holds every
# HOLD_BEAT_S for HOLD_S (the database's clock); an open call whose hold ran out is one whose
# worker died, and any worker fails it (``hub_restart``).
HOLD_S = 15.0
HOLD_BEAT_S = 5.0
# First key of the transaction advisory lock that makes call starts to a party serial
# across workers (the second is the party's hash): "fc".
LOCK_SPACE = 0x6663
OPEN_STATUSES = [s.value for s in CallStatus if s not in FINAL]

# Family calls (not the centre's): rings from one party to another per window.
RING_LIMIT = Limit("family.ring", 6, timedelta(minutes=10))

# A participant's frames on the live socket and what they do to the call.
FRAME_EVENTS = {
    "call.accept": CallEvent.ACCEPT,
    "call.decline": CallEvent.DECLINE,
    "call.hangup": CallEvent.HANGUP,
    "call.connected": CallEvent.CONNECTED,  # a participant's media is flowing
}
_FRAME_OF = {event: frame for frame, event in FRAME_EVENTS.items()}


class HomeBusy(CallError):
    """Another operator already speaks with this home."""

    def __init__(self, held_by: str, name: str) -> None:
        super().__init__("home_busy", f"{name} is already speaking with this home")
        self.held_by = held_by
        self.name = name


class CallObserver(Protocol):
    """Told about centre calls (the alarm's history); failures are logged, never raised."""

    async def connected(self, call_id: int, call: CallState, names: dict[str, str]) -> None:
        """The media of ``call`` connected (voice contact made)."""

    async def ended(self, call_id: int, call: CallState, names: dict[str, str]) -> None:
        """``call`` reached a final state."""


# Set by the part of the hub that records centre calls (the console's voice module).
CALL_OBSERVER: web.AppKey[CallObserver] = web.AppKey("call_observer")


@dataclass
class _LiveCall:
    id: int
    state: CallState
    timer: asyncio.Task[None] | None = None
    grace: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    # Parties whose sockets are on other workers (ADR 0185): party → worker → last heard of
    # (the event loop's clock); each party's first event, for a worker found after it; and
    # the parties a worker was found for at least once.
    hosts: dict[str, dict[str, float]] = field(default_factory=dict)
    first: dict[str, dict[str, Any]] = field(default_factory=dict)
    found: set[str] = field(default_factory=set)


def call_view(record: CallRecord | CallState, call_id: int) -> dict[str, Any]:
    """A call for JSON answers and events."""
    duration = 0
    if record.answered_at is not None and record.ended_at is not None:
        duration = int((record.ended_at - record.answered_at).total_seconds())
    return {
        "id": call_id,
        "caller": record.caller,
        "callee": record.callee,
        "status": str(record.status),
        "started_at": record.started_at.isoformat(),
        "answered_at": record.answered_at.isoformat() if record.answered_at else None,
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "ended_by": record.ended_by,
        "duration_s": duration,
        "kind": str(record.kind),
        "alarm_ref": record.alarm_ref,
        "connected_at": record.connected_at.isoformat() if record.connected_at else None,
        "failure": str(record.failure) if record.failure else None,
    }


def _hold_until(seconds: float) -> ColumnElement[datetime]:
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def state_of(record: CallRecord) -> CallState:
    """The stored call as a state (for views and the observer)."""
    return CallState(
        caller=record.caller, callee=record.callee, status=CallStatus(record.status),
        started_at=record.started_at, answered_at=record.answered_at,
        ended_at=record.ended_at, ended_by=record.ended_by, kind=CallKind(record.kind),
        alarm_ref=record.alarm_ref, connected_at=record.connected_at,
        failure=Failure(record.failure) if record.failure else None,
    )  # fmt: skip


class CallService:
    """Live calls of this process; cancel its timers with :meth:`close`."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        live: LiveHub,
        clock: Clock,
        may_contact: MayContact,
        ring_timeout_s: float,
        grace_s: float = RECONNECT_GRACE_S,
        media_timeout_s: float = MEDIA_TIMEOUT_S,
        observer: CallObserver | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._live = live
        self._clock = clock
        self._may_contact = may_contact
        self.ring_timeout_s = ring_timeout_s
        self.grace_s = grace_s
        self.media_timeout_s = media_timeout_s
        self.observer = observer
        self._observing: set[asyncio.Task[None]] = set()
        self._observer_lock = asyncio.Lock()
        self._recovered: list[tuple[int, CallState, dict[str, str]]] = []
        self._starting: dict[str, str] = {}  # home → the operator whose call is being set up
        self._starting_names: dict[str, str] = {}
        self._calls: dict[int, _LiveCall] = {}
        self._names: dict[int, dict[str, str]] = {}
        self.listens = ListenIns(live)  # supervisors listening in to centre calls
        # Set on PostgreSQL: parties whose sockets are on other workers (ADR 0185).
        self.links: CallLinks | None = None
        # Set on PostgreSQL: this worker's name on the rows of the calls it holds (its
        # links' origin); None: the only worker, whose start fails every open call.
        self.holder: str | None = None
        self.hold_s = HOLD_S
        self.hold_beat_s = HOLD_BEAT_S

    def active_for(self, party: str) -> list[int]:
        """Ids of live calls ``party`` takes part in."""
        return [c.id for c in self._calls.values() if party in (c.state.caller, c.state.callee)]

    async def start(self, caller: str, callee: str) -> int:
        """Ring ``callee``; raise :class:`CallError` if not allowed or busy."""
        now = self._clock()
        state = start_call(caller, callee, now)
        async with self._sessionmaker() as session:
            if not await self._may_contact(session, caller, callee):
                raise CallError(
                    "not_allowed", "you can only call people of your circles and groups"
                )
            # A tablet that rings again and again is a nuisance to an older person:
            # a few rings per pair and window (counted atomically, across workers).
            slot = await take(session, RING_LIMIT, f"{caller}>{callee}", now)
            await session.commit()
            if not slot.allowed:
                raise CallError(
                    "too_many_calls", f"too many calls to this person; wait {slot.retry_after_s} s"
                )
            busy = bool(self.active_for(callee))
            if not busy and self.holder is not None:
                # A call of the callee's held by any live worker; the lock keeps two workers
                # from both ringing the callee until this transaction ends.
                await self._lock(session, callee)
                busy = bool(await self._open_calls(session, callee))
            if busy:
                record = CallRecord(
                    caller=caller, callee=callee, status=CallStatus.MISSED.value,
                    started_at=now, ended_at=now,
                )  # fmt: skip
                session.add(record)
                await session.commit()
                raise CallError("busy", "the person is already in a call")
            record = self._held(
                CallRecord(caller=caller, callee=callee, status=state.status.value, started_at=now)
            )
            session.add(record)
            await session.commit()
            call_id = record.id
            self._names[call_id] = await party_names(session, [caller, callee])
        live = _LiveCall(call_id, state)
        self._calls[call_id] = live
        live.timer = asyncio.create_task(self._timeout_after(call_id, self.ring_timeout_s))
        names = self._names[call_id]
        live.first[caller] = {
            "type": "call.state", "call_id": call_id, "status": "ringing",
            "call": call_view(state, call_id), "names": names,
        }  # fmt: skip
        live.first[callee] = {
            "type": "call.incoming", "call_id": call_id, "caller": caller,
            "caller_name": names.get(caller, caller), "call": call_view(state, call_id),
            "names": names,
        }  # fmt: skip
        self._ring(live)
        return call_id

    def _ring(self, live: _LiveCall) -> None:
        """Tell both parties about a new call; look on the other workers for a party
        with no socket here (the worker that has it is told once it answers)."""
        for party, event in live.first.items():
            self._tell(live, [party], event)
        for party in live.first:
            if self._live.online(party) or party in live.hosts:
                live.found.add(party)  # told already: a worker found later tells no more
            elif self.links is not None:
                self.links.look_for(party, live.id)

    def centre_call_with(self, home: str) -> tuple[int, CallState] | None:
        """The live centre call with ``home`` (a resident party), if any."""
        for live in self._calls.values():
            if live.state.kind is CallKind.CENTRE and live.state.callee == home:
                return live.id, live.state
        return None

    def centre_call_about(self, alarm_ref: str) -> tuple[int, CallState] | None:
        """The live centre call about the alarm ``alarm_ref``, if any."""
        for live in self._calls.values():
            if live.state.kind is CallKind.CENTRE and live.state.alarm_ref == alarm_ref:
                return live.id, live.state
        return None

    async def listen_in(self, alarm_ref: str, listener: str) -> Listen:
        """``listener`` (a supervisor) joins the live centre call about ``alarm_ref`` to
        listen; ``CallError("no_call")`` when nobody is speaking with the home about it."""
        found = self.centre_call_about(alarm_ref)
        if found is None:
            raise CallError("no_call", "nobody is speaking with this home now")
        call_id, _ = found
        async with self._sessionmaker() as session:
            listener_name = (await party_names(session, [listener])).get(listener, listener)
        live = self._calls.get(call_id)  # the call may have ended while we asked the names
        if live is None:
            raise CallError("no_call", "nobody is speaking with this home now")
        names = {**self._names.get(call_id, {}), listener: listener_name}
        return self.listens.join(call_id, live.state, listener, names)

    async def start_centre(self, caller: str, home: str, alarm_ref: str | None) -> int:
        """An operator ``caller`` rings the tablet of ``home`` (about ``alarm_ref``).

        Raises :class:`HomeBusy` if another operator speaks with the home, and
        ``CallError("tablet_offline")`` (after recording the failed attempt) when the
        tablet has no live connection. A family call in progress gives way.
        """
        now = self._clock()
        state = start_call(caller, home, now, CallKind.CENTRE, alarm_ref)
        held = self.centre_call_with(home)
        if held is not None:
            holder = held[1].caller
            raise HomeBusy(holder, self._names.get(held[0], {}).get(holder, holder))
        if home in self._starting:  # another operator's call is being set up right now
            holder = self._starting[home]
            name = self._starting_names.get(home)
            if name is None:
                async with self._sessionmaker() as session:
                    name = (await party_names(session, [holder])).get(holder, holder)
            raise HomeBusy(holder, name)
        # Held from here, before the first await, so two operators cannot both pass.
        self._starting[home] = caller
        try:
            return await self._start_centre(state, caller, home, alarm_ref)
        finally:
            self._starting.pop(home, None)
            self._starting_names.pop(home, None)

    async def _start_centre(
        self, state: CallState, caller: str, home: str, alarm_ref: str | None
    ) -> int:
        # The tablet's socket may be on another worker: asked for first (ADR 0185).
        host = None
        if not self._live.online(home) and self.links is not None:
            host = await self.links.find(home)
        give_way: list[CallRecord] = []
        async with self._sessionmaker() as session:
            names = await party_names(session, [caller, home])
            self._starting_names[home] = names.get(caller, caller)
            if self.holder is not None:
                # Other workers' calls with the home: another operator's makes it busy, a
                # family call gives way (told once this call is in); the lock makes two
                # operators' starts on two workers serial.
                await self._lock(session, home)
                elsewhere = [r for r in await self._open_calls(session, home)
                             if r.id not in self._calls]  # fmt: skip
                for row in elsewhere:
                    if row.kind == CallKind.CENTRE.value:
                        held_by = await party_names(session, [row.caller])
                        raise HomeBusy(row.caller, held_by.get(row.caller, row.caller))
                give_way = elsewhere
            if host is None and not self._live.online(home):
                failed = failed_call(state, Failure.TABLET_OFFLINE, state.started_at)
                record = self._record(failed)
                session.add(record)
                await session.commit()
                self._observe("ended", record.id, failed, names)
                raise CallError("tablet_offline", "the home's tablet is not connected")
            record = self._held(self._record(state))
            session.add(record)
            await session.commit()
            call_id = record.id
        for row in give_way:
            if self.links is not None and row.holder is not None:
                _LOGGER.info("call %s (worker %s) gives way to the centre's call %s", row.id,
                             row.holder, call_id)  # fmt: skip
                self.links.give_way(row.holder, row.id)
        for other in [c for c in self._calls.values() if home in (c.state.caller, c.state.callee)]:
            _LOGGER.info("call %s gives way to the centre's call %s", other.id, call_id)
            with contextlib.suppress(CallError):
                await self._apply(other, CallEvent.HANGUP, None)
        self._names[call_id] = names
        live = _LiveCall(call_id, state)
        self._calls[call_id] = live
        if host is not None and not self._live.online(home):
            live.hosts[home] = {host: self._now()}
            live.found.add(home)
        live.timer = asyncio.create_task(self._timeout_after(call_id, self.ring_timeout_s))
        view = call_view(state, call_id)
        live.first[caller] = {
            "type": "call.state", "call_id": call_id, "status": "ringing", "call": view,
            "names": names,
        }  # fmt: skip
        live.first[home] = {
            "type": "call.incoming", "call_id": call_id, "caller": caller,
            "caller_name": names.get(caller, caller), "call": view, "names": names,
            "kind": CallKind.CENTRE.value, "alarm_ref": alarm_ref,
        }  # fmt: skip
        self._ring(live)
        return call_id

    def _held(self, record: CallRecord) -> CallRecord:
        """``record`` of a new call, marked as held here (several workers)."""
        if self.holder is not None:
            record.holder = self.holder
            # Set by the database (its clock is the one every worker compares with).
            record.held_until = _hold_until(self.hold_s)
        return record

    @staticmethod
    async def _lock(session: AsyncSession, party: str) -> None:
        """Until ``session``'s transaction ends, no other worker starts a call to ``party``."""
        await session.execute(select(func.pg_advisory_xact_lock(LOCK_SPACE, func.hashtext(party))))

    @staticmethod
    async def _open_calls(session: AsyncSession, party: str) -> list[CallRecord]:
        """The open calls of ``party`` whose holder is alive, on any worker."""
        query = select(CallRecord).where(
            CallRecord.status.in_(OPEN_STATUSES),
            or_(CallRecord.caller == party, CallRecord.callee == party),
            CallRecord.held_until > func.now(),
        )
        return list(await session.scalars(query))

    @staticmethod
    def _record(state: CallState) -> CallRecord:
        return CallRecord(
            caller=state.caller, callee=state.callee, status=state.status.value,
            started_at=state.started_at, ended_at=state.ended_at, kind=state.kind.value,
            alarm_ref=state.alarm_ref, failure=state.failure.value if state.failure else None,
        )  # fmt: skip

    def _observe(self, what: str, call_id: int, state: CallState, names: dict[str, str]) -> None:
        """Tell the observer about a centre call, in a task this service owns."""
        if self.observer is None or state.kind is not CallKind.CENTRE:
            return
        method = self.observer.connected if what == "connected" else self.observer.ended
        task = asyncio.get_running_loop().create_task(self._safely(method(call_id, state, names)))
        self._observing.add(task)
        task.add_done_callback(self._observing.discard)

    async def _safely(self, work: Awaitable[None]) -> None:
        # One at a time, in the order the call changed (asyncio.Lock is first come, first
        # served): "connected" must reach the alarm before "ended".
        async with self._observer_lock:
            try:
                await work
            except Exception:  # the call goes on whatever its record keeper thinks
                _LOGGER.exception("recording a centre call failed")

    async def recover(self) -> int:
        """At start-up: calls a previous process left open are failed (``hub_restart``).

        No live call survives a restart (the parties' connections went with it), so a
        card must never keep showing one as connected. With several workers only the calls
        whose holder's hold ran out are (and rows naming no holder, from before holds): the
        others' live calls go on. Returns how many were closed.
        """
        conditions = []
        if self.holder is not None:
            conditions = [or_(CallRecord.holder.is_(None), CallRecord.held_until < func.now())]
        self._recovered = await self._fail_open(*conditions)
        return len(self._recovered)

    async def sweep(self) -> int:
        """Several workers: fail the open calls of other workers whose hold ran out (they
        died) and tell the observer; how many."""
        if self.holder is None:
            return 0
        failed = await self._fail_open(
            CallRecord.held_until < func.now(), CallRecord.holder != self.holder
        )
        for call_id, state, names in failed:
            _LOGGER.warning("call %s: its worker stopped holding it; failed", call_id)
            self._observe("ended", call_id, state, names)
        return len(failed)

    async def renew(self) -> None:
        """Several workers: extend the hold of the calls held here."""
        if self.holder is None or not self._calls:
            return
        async with self._sessionmaker() as session:
            await session.execute(
                update(CallRecord)
                .where(CallRecord.id.in_(list(self._calls)), CallRecord.holder == self.holder)
                .values(held_until=_hold_until(self.hold_s))
            )
            await session.commit()

    async def keep(self) -> None:
        """Several workers, until cancelled: :meth:`renew` and :meth:`sweep` every beat."""
        while True:
            await asyncio.sleep(self.hold_beat_s)
            try:
                await self.renew()
                await self.sweep()
            except Exception:  # the next beat tries again (a hold lasts three beats)
                _LOGGER.exception("renewing or sweeping the family calls failed")

    async def _fail_open(
        self, *conditions: ColumnElement[bool]
    ) -> list[tuple[int, CallState, dict[str, str]]]:
        """Fail (``hub_restart``) the open calls matching ``conditions``."""
        now = self._clock()
        query = select(CallRecord).where(CallRecord.status.in_(OPEN_STATUSES), *conditions)
        if self.holder is not None:  # two workers sweeping fail (and tell) each call once
            query = query.with_for_update(skip_locked=True)
        async with self._sessionmaker() as session:
            rows = list(await session.scalars(query))
            for row in rows:
                row.status = CallStatus.FAILED.value
                row.ended_at = now
                row.failure = Failure.HUB_RESTART.value
            await session.commit()
            names = await party_names(session, [p for r in rows for p in (r.caller, r.callee)])
        return [(row.id, state_of(row), names) for row in rows]

    async def tell_recovered(self) -> None:
        """Hand the calls :meth:`recover` closed to the observer (once it can take them)."""
        recovered, self._recovered = self._recovered, []
        for call_id, state, names in recovered:
            self._observe("ended", call_id, state, names)

    def _get(self, call_id: int, party: str) -> _LiveCall:
        live = self._calls.get(call_id)
        if live is None or party not in (live.state.caller, live.state.callee):
            raise CallError("call_unknown", "no such call in progress")
        return live

    def _forwards(self, call_id: int, party: str) -> bool:
        """Whether ``party``'s frames for ``call_id`` go to another worker, which holds it."""
        return (
            call_id not in self._calls
            and self.links is not None
            and self.links.proxies(call_id, party)
        )

    async def act(self, call_id: int, party: str, event: CallEvent) -> CallState | None:
        """Apply a participant's accept/decline/hangup (None: sent to the worker holding
        the call, which answers on the party's sockets)."""
        if self._forwards(call_id, party) and event in _FRAME_OF and self.links is not None:
            self.links.forward(call_id, party, _FRAME_OF[event], None)
            return None
        live = self._get(call_id, party)
        return await self._apply(live, event, party)

    async def _apply(self, live: _LiveCall, event: CallEvent, party: str | None) -> CallState:
        before = live.state
        state = apply_event(before, event, self._clock(), by=party)
        if state == before:
            return state  # a repeated "connected": nothing to store or tell
        live.state = state
        if live.timer is not None and live.timer is not asyncio.current_task():
            live.timer.cancel()
            live.timer = None
        if state.kind is CallKind.CENTRE and state.status is CallStatus.ACCEPTED:
            if state.connected_at is None:
                live.timer = asyncio.create_task(
                    self._timeout_after(live.id, self.media_timeout_s, CallEvent.MEDIA_TIMEOUT)
                )
            elif before.connected_at is None:
                self._observe("connected", live.id, state, self._names.get(live.id, {}))
        names = self._names.get(live.id, {})
        if state.final:
            self._calls.pop(live.id, None)
            self._names.pop(live.id, None)
            self.listens.call_over(live.id)
            for task in live.grace.values():
                if task is not asyncio.current_task():
                    task.cancel()
            live.grace.clear()
        async with self._sessionmaker() as session:
            record = await session.get(CallRecord, live.id)
            if record is not None:
                record.status = state.status.value
                record.answered_at = state.answered_at
                record.ended_at = state.ended_at
                record.ended_by = state.ended_by
                record.connected_at = state.connected_at
                record.failure = state.failure.value if state.failure else None
                await session.commit()
        if state.final:
            self._observe("ended", live.id, state, names)
        # "connected" is told as a status of its own: a client that sees "accepted" again
        # would start a second peer connection (the caller offers on "accepted").
        status = "connected" if event is CallEvent.CONNECTED else state.status.value
        self._tell(
            live,
            [state.caller, state.callee],
            {"type": "call.state", "call_id": live.id, "status": status,
             "call": call_view(state, live.id), "names": names},
            final=state.final,
        )  # fmt: skip
        _LOGGER.info("call %s %s", live.id, status)
        return state

    def relay(self, call_id: int, party: str, data: object, size: int) -> None:
        """Pass offer/answer/ICE ``data`` to the other participant."""
        forwards = self._forwards(call_id, party)
        live = None if forwards else self._get(call_id, party)
        if size > MAX_SIGNAL_BYTES:
            raise CallError("signal_too_large", "signalling message too large")
        if not isinstance(data, dict):
            raise CallError("signal_invalid", "data must be an object with sdp or candidate")
        if live is None:
            if self.links is not None:
                self.links.forward(call_id, party, "call.signal", data)
            return
        other = live.state.other(party)
        self._tell(
            live, [other], {"type": "call.signal", "call_id": call_id, "from": party, "data": data}
        )

    def _tell(
        self, live: _LiveCall, parties: Iterable[str], event: dict[str, Any], final: bool = False
    ) -> None:
        """Publish a call's event to ``parties``' sockets here and on the workers that have
        their sockets (in the order told: one sender per worker)."""
        parties = list(parties)
        self._live.publish(parties, event)
        if self.links is None or not live.hosts:
            return
        by_host: dict[str, list[str]] = {}
        for party in parties:
            for host in live.hosts.get(party, {}):
                by_host.setdefault(host, []).append(party)
        for host, some in by_host.items():
            self.links.tell(host, live.id, some, event, final)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # ------------------------------------------------------------ parties on other workers

    async def remote_frame(
        self, call_id: int, party: str, host: str, frame: str, data: dict[str, Any] | None
    ) -> None:
        """A frame of ``party``'s socket on worker ``host`` for a call held here."""
        live = self._calls.get(call_id)
        try:
            if live is None or party not in (live.state.caller, live.state.callee):
                raise CallError("call_unknown", "no such call in progress")
            live.hosts.setdefault(party, {})[host] = self._now()
            if frame == "call.signal":
                self.relay(call_id, party, data, len(json.dumps(data)))
            else:
                await self._apply(live, FRAME_EVENTS[frame], party)
        except CallError as err:
            if self.links is not None:
                error = {"type": "error", "error": err.code, "message": err.message,
                         "call_id": call_id}  # fmt: skip
                self.links.tell(host, call_id, [party], error, False)

    def remote_found(self, call_id: int, party: str, host: str) -> None:
        """Worker ``host`` has a socket of ``party``: it gets the call's events from now
        on (the first of them if it is the first found), and a grace ends."""
        live = self._calls.get(call_id)
        if live is None:
            return
        hosts = live.hosts.setdefault(party, {})
        new = host not in hosts
        hosts[host] = self._now()
        task = live.grace.pop(party, None)
        if task is not None:
            task.cancel()
        if not new or self.links is None:
            return
        # A call that rings rings on every device found; a party found again after it
        # dropped is told nothing more (its client keeps the call as it was).
        event = live.first.get(party)
        if live.state.status is not CallStatus.RINGING or event is None:
            if party in live.found:
                return
            event = {
                "type": "call.state", "call_id": call_id, "status": str(live.state.status),
                "call": call_view(live.state, call_id), "names": self._names.get(call_id, {}),
            }  # fmt: skip
        live.found.add(party)
        self.links.tell(host, call_id, [party], event, False)

    async def remote_give_way(self, call_id: int) -> None:
        """A centre call started on another worker takes a party of family call
        ``call_id`` held here: it ends, as it would for a centre call started here."""
        live = self._calls.get(call_id)
        if live is None or live.state.kind is not CallKind.FAMILY:
            return
        _LOGGER.info("call %s gives way to a centre call on another worker", call_id)
        with contextlib.suppress(CallError):
            await self._apply(live, CallEvent.HANGUP, None)

    def remote_gone(self, call_id: int, party: str, host: str) -> None:
        """Worker ``host`` lost ``party``'s last socket there."""
        live = self._calls.get(call_id)
        if live is None:
            return
        live.hosts.get(party, {}).pop(host, None)
        self._maybe_grace(live, party)

    def remote_beat(self, host: str, call_ids: Iterable[int], now: float) -> None:
        """Worker ``host`` is alive and still has its parties of ``call_ids``."""
        for call_id in call_ids:
            live = self._calls.get(call_id)
            for hosts in live.hosts.values() if live is not None else ():
                if host in hosts:
                    hosts[host] = now

    def remote_check(self, now: float, dead_after_s: float) -> list[tuple[int, str]]:
        """Forget workers not heard from in ``dead_after_s`` (their parties' grace starts);
        the parties in grace, to be looked for on the other workers."""
        lost: list[tuple[int, str]] = []
        for live in list(self._calls.values()):
            for party, hosts in live.hosts.items():
                stale = [h for h, seen in hosts.items() if now - seen > dead_after_s]
                for host in stale:
                    _LOGGER.warning("call %s: worker %s of %s stopped answering", live.id,
                                    host, party)  # fmt: skip
                    del hosts[host]
                if stale:
                    self._maybe_grace(live, party)
            lost += [(live.id, party) for party in live.grace]
        return lost

    def remote_hosts(self) -> dict[str, list[int]]:
        """The calls held here with a party on another worker, by that worker."""
        out: dict[str, list[int]] = {}
        for live in self._calls.values():
            for host in {h for hosts in live.hosts.values() for h in hosts}:
                out.setdefault(host, []).append(live.id)
        return out

    def _maybe_grace(self, live: _LiveCall, party: str) -> None:
        """``party`` may have no socket left anywhere: its grace starts."""
        if live.hosts.get(party) or self._live.online(party) or party in live.grace:
            return
        if live.state.final:
            return
        live.grace[party] = asyncio.create_task(self._grace(live.id, party))

    async def _timeout_after(
        self, call_id: int, delay: float, event: CallEvent = CallEvent.TIMEOUT
    ) -> None:
        await asyncio.sleep(delay)
        live = self._calls.get(call_id)
        if live is not None and not live.state.final:
            with contextlib.suppress(CallError):
                await self._apply(live, event, None)

    def disconnected(self, party: str) -> None:
        """``party`` has no connection left: give them a grace period, then end their calls."""
        self.listens.disconnected(party)
        if self.links is not None:
            self.links.party_gone(party)  # calls held by other workers
        for call_id in self.active_for(party):
            self._maybe_grace(self._calls[call_id], party)

    def reconnected(self, party: str) -> None:
        """``party`` is back: cancel pending grace timers."""
        for call_id in self.active_for(party):
            task = self._calls[call_id].grace.pop(party, None)
            if task is not None:
                task.cancel()

    async def _grace(self, call_id: int, party: str) -> None:
        await asyncio.sleep(self.grace_s)
        live = self._calls.get(call_id)
        if live is not None:
            live.grace.pop(party, None)
            with contextlib.suppress(CallError):
                await self._apply(live, CallEvent.HANGUP, party)

    async def close(self) -> None:
        """Cancel every timer and wait for them (hub shutdown)."""
        tasks = [c.timer for c in self._calls.values() if c.timer is not None]
        tasks += [t for c in self._calls.values() for t in c.grace.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.holder is not None and self._calls:
            # Its calls end with this worker: failed now, not when their hold runs out.
            try:
                ended = await self._fail_open(CallRecord.id.in_(list(self._calls)))
            except Exception:  # then by another worker once the hold runs out
                _LOGGER.exception("failing this worker's calls at its stop failed")
                ended = []
            for call_id, state, names in ended:
                self._observe("ended", call_id, state, names)
        # The records of what already happened are finished, not dropped.
        await asyncio.gather(*self._observing, return_exceptions=True)
        self._calls.clear()
        self._names.clear()
        self.listens.clear()
