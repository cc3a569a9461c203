"""The hub's side of a call: state, ring timeout, relaying offers/answers/ICE, history.

One :class:`CallService` per hub process owns the live calls and their timers. Every
change is written to ``family_calls`` and told to both parties' connections (``call.state``);
signalling data is relayed verbatim and never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.calls.state import CallError, CallEvent, CallState, CallStatus, apply_event, start_call
from hub.clock import Clock
from hub.family.live import LiveHub
from hub.family.models import CallRecord
from hub.family.parties import party_names

_LOGGER = logging.getLogger(__name__)

MAX_SIGNAL_BYTES = 64 * 1024
# A party whose every connection dropped mid-call has this long to come back.
RECONNECT_GRACE_S = 20.0

MayContact = Callable[[AsyncSession, str, str], Awaitable[bool]]


@dataclass
class _LiveCall:
    id: int
    state: CallState
    timer: asyncio.Task[None] | None = None
    grace: dict[str, asyncio.Task[None]] = field(default_factory=dict)


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
        "duration_s": duration,
    }


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
    ) -> None:
        self._sessionmaker = sessionmaker
        self._live = live
        self._clock = clock
        self._may_contact = may_contact
        self.ring_timeout_s = ring_timeout_s
        self.grace_s = grace_s
        self._calls: dict[int, _LiveCall] = {}
        self._names: dict[int, dict[str, str]] = {}

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
            if self.active_for(callee):
                record = CallRecord(
                    caller=caller, callee=callee, status=CallStatus.MISSED.value,
                    started_at=now, ended_at=now,
                )  # fmt: skip
                session.add(record)
                await session.commit()
                raise CallError("busy", "the person is already in a call")
            record = CallRecord(
                caller=caller, callee=callee, status=state.status.value, started_at=now
            )
            session.add(record)
            await session.commit()
            call_id = record.id
            self._names[call_id] = await party_names(session, [caller, callee])
        live = _LiveCall(call_id, state)
        self._calls[call_id] = live
        live.timer = asyncio.create_task(self._timeout_after(call_id, self.ring_timeout_s))
        names = self._names[call_id]
        self._live.publish(
            [caller],
            {"type": "call.state", "call_id": call_id, "status": "ringing",
             "call": call_view(state, call_id), "names": names},
        )  # fmt: skip
        self._live.publish(
            [callee],
            {"type": "call.incoming", "call_id": call_id, "caller": caller,
             "caller_name": names.get(caller, caller), "call": call_view(state, call_id),
             "names": names},
        )  # fmt: skip
        return call_id

    def _get(self, call_id: int, party: str) -> _LiveCall:
        live = self._calls.get(call_id)
        if live is None or party not in (live.state.caller, live.state.callee):
            raise CallError("call_unknown", "no such call in progress")
        return live

    async def act(self, call_id: int, party: str, event: CallEvent) -> CallState:
        """Apply a participant's accept/decline/hangup."""
        live = self._get(call_id, party)
        return await self._apply(live, event, party)

    async def _apply(self, live: _LiveCall, event: CallEvent, party: str | None) -> CallState:
        state = apply_event(live.state, event, self._clock(), by=party)
        live.state = state
        if live.timer is not None and live.timer is not asyncio.current_task():
            live.timer.cancel()
            live.timer = None
        names = self._names.get(live.id, {})
        if state.final:
            self._calls.pop(live.id, None)
            self._names.pop(live.id, None)
            for task in live.grace.values():
                if task is not asyncio.current_task():
                    task.cancel()
        async with self._sessionmaker() as session:
            record = await session.get(CallRecord, live.id)
            if record is not None:
                record.status = state.status.value
                record.answered_at = state.answered_at
                record.ended_at = state.ended_at
                record.ended_by = state.ended_by
                await session.commit()
        self._live.publish(
            [state.caller, state.callee],
            {"type": "call.state", "call_id": live.id, "status": state.status.value,
             "call": call_view(state, live.id), "names": names},
        )  # fmt: skip
        _LOGGER.info("call %s %s", live.id, state.status.value)
        return state

    def relay(self, call_id: int, party: str, data: object, size: int) -> None:
        """Pass offer/answer/ICE ``data`` to the other participant."""
        live = self._get(call_id, party)
        if size > MAX_SIGNAL_BYTES:
            raise CallError("signal_too_large", "signalling message too large")
        if not isinstance(data, dict):
            raise CallError("signal_invalid", "data must be an object with sdp or candidate")
        other = live.state.other(party)
        self._live.publish(
            [other], {"type": "call.signal", "call_id": call_id, "from": party, "data": data}
        )

    async def _timeout_after(self, call_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        live = self._calls.get(call_id)
        if live is not None and not live.state.final:
            with contextlib.suppress(CallError):
                await self._apply(live, CallEvent.TIMEOUT, None)

    def disconnected(self, party: str) -> None:
        """``party`` has no connection left: give them a grace period, then end their calls."""
        for call_id in self.active_for(party):
            live = self._calls[call_id]
            if party not in live.grace:
                live.grace[party] = asyncio.create_task(self._grace(call_id, party))

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
        self._calls.clear()
        self._names.clear()
