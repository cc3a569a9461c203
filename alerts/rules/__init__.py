"""The detection rules: pure functions over a resident's state, an event and a time.

- :func:`initial_state` starts watching a resident;
- :func:`evaluate` applies one :class:`~alerts.model.HomeEvent` (timers due before it
  fire first, so every rule sees the world in time order);
- :func:`tick` fires the timers due up to ``now``;
- :func:`next_deadline` says when :func:`tick` must be called next;
- :func:`reminders_withdrawn` says which reminders a dose confirmed elsewhere ends.

Nothing here reads a clock, touches a socket or mutates its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from alerts.careplan import CarePlan
from alerts.errors import AlertsValueError
from alerts.model import Detection, HomeEvent, MissedDose, PromptRequest
from alerts.rules import events, timers
from alerts.rules.common import Findings, new_day
from alerts.rules.events import ACTIVITY_EVENT_TYPES
from alerts.rules.reminders import reminders_withdrawn
from alerts.rules.timers import Timer, TimerKind, pending_timers
from alerts.state import ResidentState

# A step can fire at most this many timers; far more than a day of catch-up needs.
_MAX_TIMERS_PER_STEP = 100_000

__all__ = [
    "ACTIVITY_EVENT_TYPES",
    "Evaluation",
    "Timer",
    "TimerKind",
    "evaluate",
    "initial_state",
    "next_deadline",
    "pending_timers",
    "plan_changed",
    "reminders_withdrawn",
    "tick",
]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a step produced: the new state, detections, tablet prompts to send, and missed
    doses the family is to hear of."""

    state: ResidentState
    detections: tuple[Detection, ...] = ()
    prompts: tuple[PromptRequest, ...] = ()
    missed_doses: tuple[MissedDose, ...] = ()


def _aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AlertsValueError(f"{name} must be timezone-aware, got {moment!r}")


def initial_state(plan: CarePlan, home_id: str, now: datetime) -> ResidentState:
    """A resident whose monitoring starts at ``now``."""
    _aware("now", now)
    return ResidentState(
        home_id=home_id,
        resident_id=plan.resident_id,
        cursor=now,
        monitored_since=now,
        today=new_day(plan, now),
    )


def _check(plan: CarePlan, state: ResidentState) -> None:
    if plan.resident_id != state.resident_id:
        raise AlertsValueError(
            f"care plan of {plan.resident_id!r} used with the state of {state.resident_id!r}"
        )


def _run_timers(
    plan: CarePlan, state: ResidentState, now: datetime, out: Findings
) -> ResidentState:
    if now < state.cursor:
        return state
    if state.timer_hint is not None and now < state.timer_hint:
        return replace(state, cursor=now)  # fast path: nothing can be due yet
    if now - state.cursor > plan.max_catch_up:
        # After a long outage only the last max_catch_up is replayed; older timers
        # are late anyway and would only pile up copies of the same alarm.
        restart = now - plan.max_catch_up
        state = replace(state, cursor=restart, today=new_day(plan, restart))
    hint: datetime | None = None
    for _ in range(_MAX_TIMERS_PER_STEP):
        pending = sorted(pending_timers(plan, state), key=lambda t: t.sort_key)
        if not pending or pending[0].at > now:
            hint = pending[0].at if pending else None
            break
        due_at = pending[0].at
        for timer in pending:
            if timer.at != due_at:
                break
            state = timers.fire(plan, state, timer, out)
        state = replace(state, cursor=due_at)
    else:  # pragma: no cover - a rule that never makes progress is a bug
        raise AssertionError("timer rules did not make progress")
    return replace(state, cursor=now, timer_hint=hint)


def tick(plan: CarePlan, state: ResidentState, now: datetime) -> Evaluation:
    """Fire every timer due up to and at ``now`` (a ``now`` before the cursor changes nothing)."""
    _aware("now", now)
    _check(plan, state)
    out = Findings()
    state = _run_timers(plan, state, now, out)
    return Evaluation(state, tuple(out.detections), tuple(out.prompts), tuple(out.missed_doses))


def evaluate(plan: CarePlan, state: ResidentState, event: HomeEvent) -> Evaluation:
    """Apply ``event``; timers due before it fire first.

    A late event (store-and-forward) is applied at the state's cursor: the rules never
    go back in time, but nothing the event says is dropped.
    """
    _check(plan, state)
    if event.resident_id != state.resident_id or event.home_id != state.home_id:
        raise AlertsValueError(
            f"event for {event.home_id}/{event.resident_id} given to the state of"
            f" {state.home_id}/{state.resident_id}"
        )
    out = Findings()
    state = _run_timers(plan, state, event.at, out)
    at = max(event.at, state.cursor)
    before = state.timer_fields()
    state = events.apply(plan, state, event, at, out)
    if state.timer_fields() != before:
        # The event may have started a timer earlier than the cached hint.
        state = replace(state, timer_hint=None)
    return Evaluation(state, tuple(out.detections), tuple(out.prompts), tuple(out.missed_doses))


def plan_changed(state: ResidentState) -> ResidentState:
    """Call when the care plan changed: forgets the cached next timer."""
    return replace(state, timer_hint=None)


def next_deadline(plan: CarePlan, state: ResidentState) -> datetime | None:
    """When :func:`tick` must run next (may be in the past: then run it now)."""
    _check(plan, state)
    pending = pending_timers(plan, state)
    return min(t.at for t in pending) if pending else None
