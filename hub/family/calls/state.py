"""The call state machine: ringing → accepted → ended, or declined / missed.

Pure: a :class:`CallState` and an event go in, the next state comes out, or
:class:`CallError` says why the event does not apply. The hub's signalling stores the
result; nothing about a call's content is ever kept, only these states and times.

```
ringing --accept(callee)--> accepted --hangup(either)--> ended
ringing --decline(callee)-> declined
ringing --hangup(caller)--> missed      (the caller gave up)
ringing --timeout---------> missed      (failure "no_answer")
accepted --connected------> accepted    (media flows: connected_at is set once)
accepted --media_timeout--> failed      (media never connected: "media_failed")
accepted --timeout--------> ended       (a peer vanished; the hub cleans up)
```

A centre call (an operator speaking with a home's tablet, ``kind="centre"``) may name
the alarm it is about; :func:`failed_call` records one that never rang (tablet offline)
and :func:`interrupted` one the hub lost by restarting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from hub.errors import HubError


class CallStatus(StrEnum):
    """Where a call is; the last four are final."""

    RINGING = "ringing"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    MISSED = "missed"
    ENDED = "ended"
    FAILED = "failed"


FINAL: frozenset[CallStatus] = frozenset(
    {CallStatus.DECLINED, CallStatus.MISSED, CallStatus.ENDED, CallStatus.FAILED}
)


class CallKind(StrEnum):
    """Between people of a circle, or the centre speaking with a home."""

    FAMILY = "family"
    CENTRE = "centre"


class Failure(StrEnum):
    """Why a call did not (or no longer) carry voice."""

    TABLET_OFFLINE = "tablet_offline"
    NO_ANSWER = "no_answer"
    MEDIA_FAILED = "media_failed"
    HUB_RESTART = "hub_restart"


class CallEvent(StrEnum):
    """What can happen to a call."""

    ACCEPT = "accept"
    DECLINE = "decline"
    HANGUP = "hangup"
    TIMEOUT = "timeout"
    CONNECTED = "connected"
    MEDIA_TIMEOUT = "media_timeout"


class CallError(HubError):
    """An event that does not apply to the call in its current state."""

    status = 409

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class CallState:
    """A call between ``caller`` and ``callee`` (party keys such as ``u:3``, ``r:7``)."""

    caller: str
    callee: str
    status: CallStatus
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    kind: CallKind = CallKind.FAMILY
    alarm_ref: str | None = None
    connected_at: datetime | None = None
    failure: Failure | None = None

    @property
    def final(self) -> bool:
        """True once the call can no longer change."""
        return self.status in FINAL

    def other(self, party: str) -> str:
        """The other participant."""
        return self.callee if party == self.caller else self.caller

    def duration_s(self) -> int:
        """Seconds between answer and end (0 if never answered or still going)."""
        if self.answered_at is None or self.ended_at is None:
            return 0
        return int((self.ended_at - self.answered_at).total_seconds())


def start_call(
    caller: str,
    callee: str,
    now: datetime,
    kind: CallKind = CallKind.FAMILY,
    alarm_ref: str | None = None,
) -> CallState:
    """A new ringing call; calling yourself is refused."""
    if caller == callee:
        raise CallError("call_self", "you cannot call yourself")
    return CallState(
        caller=caller, callee=callee, status=CallStatus.RINGING, started_at=now,
        kind=kind, alarm_ref=alarm_ref,
    )  # fmt: skip


def failed_call(call: CallState, failure: Failure, now: datetime) -> CallState:
    """``call`` as failed for ``failure`` (it never rang, or the hub lost it)."""
    return replace(call, status=CallStatus.FAILED, ended_at=now, failure=failure)


def apply_event(
    call: CallState, event: CallEvent, now: datetime, by: str | None = None
) -> CallState:
    """The state after ``event`` (by participant ``by``; ``None`` for the hub's timer)."""
    if by is not None and by not in (call.caller, call.callee):
        raise CallError("not_in_call", "you are not a participant of this call")
    if call.final:
        raise CallError("call_over", f"the call is already {call.status.value}")
    status = call.status
    if event is CallEvent.ACCEPT:
        if status is not CallStatus.RINGING:
            raise CallError("call_not_ringing", "only a ringing call can be answered")
        if by != call.callee:
            raise CallError("not_callee", "only the person called can answer")
        return replace(call, status=CallStatus.ACCEPTED, answered_at=now)
    if event is CallEvent.DECLINE:
        if status is not CallStatus.RINGING:
            raise CallError("call_not_ringing", "only a ringing call can be declined")
        if by != call.callee:
            raise CallError("not_callee", "only the person called can decline")
        return replace(call, status=CallStatus.DECLINED, ended_at=now, ended_by=by)
    if event is CallEvent.HANGUP:
        if status is CallStatus.RINGING:
            if by == call.callee:
                # Hanging up a call that rings for you is declining it.
                return replace(call, status=CallStatus.DECLINED, ended_at=now, ended_by=by)
            return replace(call, status=CallStatus.MISSED, ended_at=now, ended_by=by)
        return replace(call, status=CallStatus.ENDED, ended_at=now, ended_by=by)
    if event is CallEvent.CONNECTED:
        if status is not CallStatus.ACCEPTED:
            raise CallError("call_not_accepted", "only an answered call can connect")
        return call if call.connected_at is not None else replace(call, connected_at=now)
    if event is CallEvent.MEDIA_TIMEOUT:
        if status is CallStatus.RINGING:
            raise CallError("call_not_accepted", "a ringing call has no media yet")
        if call.connected_at is not None:
            return call
        return replace(call, status=CallStatus.FAILED, ended_at=now, failure=Failure.MEDIA_FAILED)
    # TIMEOUT: nobody answered, or an answered call lost both peers.
    if status is CallStatus.RINGING:
        return replace(call, status=CallStatus.MISSED, ended_at=now, failure=Failure.NO_ANSWER)
    return replace(call, status=CallStatus.ENDED, ended_at=now)
