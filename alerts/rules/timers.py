"""Timer-driven rules: each pending timer says when it is due and what it checks.

The hub schedules :func:`next_deadline` and calls :func:`alerts.rules.tick` then; a
deadline that passed while the hub was down is simply in the past and fires at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum

from alerts import baseline
from alerts.careplan import CarePlan, MedicationSchedule, TimeWindow
from alerts.i18n import Explanation
from alerts.model import MissedDose, PromptRequest, RuleKind
from alerts.rules.common import (
    Findings,
    at_local,
    hhmm,
    local,
    new_day,
    next_local,
    prompt_id,
    start_prompt,
)
from alerts.state import ResidentState

# Movement this soon after lying down is part of lying down (PIR of the bedroom).
IN_BED_SLACK = timedelta(minutes=2)
# Back in bed for this long at the end of the morning window counts as "not up".
BACK_IN_BED_FOR = timedelta(minutes=60)


class TimerKind(StrEnum):
    """What a timer checks when it is due."""

    INACTIVITY_PERIOD = "inactivity_period"
    PROMPT_EXPIRY = "prompt_expiry"
    INACTIVITY_WINDOW = "inactivity_window"
    CHECK_IN = "check_in"
    MEDICATION_REMINDER = "medication_reminder"
    MEDICATION = "medication"
    BED_RETURN = "bed_return"
    TEMPERATURE = "temperature"
    DEVICE_OFFLINE = "device_offline"
    BASELINE = "baseline"
    BASELINE_NIGHT = "baseline_night"
    MIDNIGHT = "midnight"


# Firing order for timers due at the same instant: day bookkeeping last.
_ORDER = {kind: i for i, kind in enumerate(TimerKind)}


@dataclass(frozen=True, slots=True)
class Timer:
    """A pending timer: due ``at``; ``key`` names the window, schedule, room or device."""

    at: datetime
    kind: TimerKind
    key: str = ""

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Chronological, then a fixed order among simultaneous timers."""
        return (self.at, _ORDER[self.kind], self.key)


def pending_timers(plan: CarePlan, state: ResidentState) -> list[Timer]:
    """Every timer of this resident; dynamic ones overdue are due at the cursor."""
    cursor = state.cursor
    timers: list[Timer] = []

    def dynamic(at: datetime, kind: TimerKind, key: str = "") -> None:
        timers.append(Timer(max(at, cursor), kind, key))

    def scheduled(moment: time, kind: TimerKind, key: str = "") -> None:
        timers.append(Timer(next_local(plan, moment, cursor), kind, key))

    inactivity = plan.inactivity
    if inactivity.enabled:
        if state.prompt is not None:
            dynamic(state.prompt.expires, TimerKind.PROMPT_EXPIRY)
        elif not state.inactivity_alarmed:
            since = state.last_activity_at or state.monitored_since
            dynamic(since + inactivity.period, TimerKind.INACTIVITY_PERIOD)
        for window in inactivity.windows:
            scheduled(window.end, TimerKind.INACTIVITY_WINDOW, window.label())
    if plan.check_in.enabled:
        for deadline in plan.check_in.deadlines:
            scheduled(deadline, TimerKind.CHECK_IN, f"{deadline:%H:%M}")
    medication = plan.medication
    for schedule in medication.schedules:
        # Due + ack timeout may cross midnight: find the next due whose check is ahead.
        due = _next_dose(plan, schedule, cursor - medication.ack_timeout)
        if due is None:
            continue  # the schedule has ended
        timers.append(Timer(due + medication.ack_timeout, TimerKind.MEDICATION, schedule.name))
        if medication.remind:
            reminder = _next_dose(plan, schedule, cursor)
            if reminder is not None:
                timers.append(Timer(reminder, TimerKind.MEDICATION_REMINDER, schedule.name))
    if plan.night.bed_alarm and state.bed_out_since is not None and not state.bed_alarmed:
        dynamic(state.bed_out_since + plan.night.bed_return, TimerKind.BED_RETURN)
    if plan.temperature.enabled:
        for room in state.rooms:
            if room.out_since is not None and not room.alarmed:
                dynamic(
                    room.out_since + plan.temperature.duration, TimerKind.TEMPERATURE, room.room
                )
    for device in state.devices:
        if device.offline_since is not None and not device.offline_alarmed:
            grace = timedelta(0) if device.supervised else plan.technical.offline_grace
            dynamic(
                device.offline_since + grace,
                TimerKind.DEVICE_OFFLINE,
                device.device_id,
            )
    if plan.baseline.enabled:
        for checkpoint in plan.baseline.checkpoints:
            scheduled(checkpoint, TimerKind.BASELINE, f"{checkpoint:%H:%M}")
        scheduled(plan.baseline.day_start, TimerKind.BASELINE_NIGHT)
    scheduled(time(0, 0), TimerKind.MIDNIGHT)
    return timers


def _next_dose(plan: CarePlan, schedule: MedicationSchedule, after: datetime) -> datetime | None:
    """The first due time of ``schedule`` strictly after ``after`` on a day it runs
    (None: it has ended)."""
    moment = after
    for _ in range(8):  # a weekly schedule recurs within eight days
        due = next_local(plan, schedule.due, moment)
        day = local(plan, due).date()
        if schedule.end is not None and day > schedule.end:
            return None
        if schedule.on(day):
            return due
        moment = due
    return None


def fire(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    """Run the rule of ``timer`` at its due time; returns the new state."""
    handler = _HANDLERS[timer.kind]
    return handler(plan, state, timer, out)


def _usual_up(plan: CarePlan, state: ResidentState, reference: datetime) -> Explanation | None:
    minute = baseline.usual_first_activity(state.history, plan.baseline.min_days)
    if minute is None:
        return None
    day = local(plan, reference).date()
    usual = at_local(plan, day, time(minute // 60, minute % 60))
    return Explanation.of("usually_up_by", time=hhmm(plan, usual))


def _inactivity_found(
    plan: CarePlan, state: ResidentState, at: datetime, explanation: Explanation, out: Findings
) -> ResidentState:
    if plan.inactivity.prompt_first:
        since = hhmm(plan, state.last_activity_at or state.monitored_since, at)
        prompt_text = Explanation.of("prompt_inactivity", since=since)
        return start_prompt(plan, state, at, RuleKind.INACTIVITY, explanation, prompt_text, out)
    out.detect(state, RuleKind.INACTIVITY, at, explanation)
    return replace(state, inactivity_alarmed=True)


def _inactivity_period(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    since = state.last_activity_at or state.monitored_since
    hours = round((timer.at - since).total_seconds() / 3600, 1)
    explanation = Explanation.of(
        "inactivity_period", since=hhmm(plan, since, timer.at), hours=f"{hours:g}"
    )
    return _inactivity_found(plan, state, timer.at, explanation, out)


def _prompt_expiry(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    prompt = state.prompt
    if prompt is None:  # pragma: no cover - the timer exists only with a prompt
        return state
    explanation = Explanation(
        prompt.explanation.key,
        prompt.explanation.params,
        (*prompt.explanation.clauses, Explanation.of("no_prompt_answer")),
    )
    out.detect(state, prompt.rule, timer.at, explanation)
    return replace(state, prompt=None, inactivity_alarmed=True)


def _window(plan: CarePlan, key: str) -> TimeWindow:
    return next(w for w in plan.inactivity.windows if w.label() == key)


def _inactivity_window(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    if state.inactivity_alarmed or state.prompt is not None:
        return state  # an inactivity alarm or question is already under way
    window = _window(plan, timer.key)
    start = at_local(plan, local(plan, timer.at).date(), window.start)
    last = state.last_activity_at
    if state.monitored_since > start:
        return state  # we were not watching the whole window
    in_bed = state.in_bed_since
    if (
        in_bed is not None
        and last is not None
        and last <= in_bed + IN_BED_SLACK
        and timer.at - in_bed >= BACK_IN_BED_FOR
    ):
        # Up at night or early, back to bed, and never up again: not "up" at all.
        clauses = [c for c in (_usual_up(plan, state, timer.at),) if c is not None]
        explanation = Explanation.of(
            "inactivity_in_bed",
            *clauses,
            since=hhmm(plan, in_bed, timer.at),
            end=f"{window.end:%H:%M}",
        )
        return _inactivity_found(plan, state, timer.at, explanation, out)
    if last is not None and last >= start:
        return state
    clauses = [c for c in (_usual_up(plan, state, timer.at),) if c is not None]
    explanation = Explanation.of(
        "inactivity_window",
        *clauses,
        start=f"{window.start:%H:%M}",
        end=f"{window.end:%H:%M}",
        since=hhmm(plan, last, timer.at) if last else "—",
    )
    return _inactivity_found(plan, state, timer.at, explanation, out)


def _check_in(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    # Monitoring that began after the window opened still counts: when in doubt, alarm.
    # (The tablet mirrors this rule: tablet_app.wording.next_deadline, ADR 0183.)
    last = state.last_check_in_at
    if plan.check_in.covers(last, timer.at, plan.tz):
        return state
    explanation = Explanation.of(
        "missed_check_in", deadline=timer.key, last=hhmm(plan, last, timer.at)
    )
    out.detect(state, RuleKind.MISSED_CHECK_IN, timer.at, explanation)
    return state


def _medication_reminder(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    """The dose is due: the tablet shows and speaks the reminder, unless it was already
    confirmed (taken early)."""
    settings = plan.medication
    taken = state.taken_at(timer.key)
    if taken is not None and taken >= timer.at - settings.early:
        return state
    out.prompts.append(
        PromptRequest(
            home_id=state.home_id,
            resident_id=state.resident_id,
            prompt_id=prompt_id(state.resident_id, f"medication|{timer.key}", timer.at),
            kind="medication",
            sent_at=timer.at,
            expires=timer.at + settings.ack_timeout,
            explanation=Explanation.of(
                "prompt_medication", schedule=timer.key, due=hhmm(plan, timer.at)
            ),
            schedule=timer.key,
        )
    )
    return state


def _medication(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    settings = plan.medication
    due = timer.at - settings.ack_timeout
    taken = state.taken_at(timer.key)
    if (taken is not None and taken >= due - settings.early) or state.monitored_since > due:
        return state
    minutes = int(settings.ack_timeout.total_seconds() // 60)
    explanation = Explanation.of(
        "medication", schedule=timer.key, due=hhmm(plan, due), minutes=minutes
    )
    if settings.missed_to != "family":
        out.detect(state, RuleKind.MEDICATION, timer.at, explanation)
    if settings.missed_to != "centre":
        out.missed_doses.append(
            MissedDose(state.home_id, state.resident_id, timer.key, due, timer.at, explanation)
        )
    return state


def _bed_return(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    since = state.bed_out_since
    if since is None:  # pragma: no cover - the timer exists only while out of bed
        return state
    if not plan.night.window.contains(local(plan, timer.at).time().replace(tzinfo=None)):
        # The night ended while up: getting up for the day is not wandering.
        return replace(state, bed_out_since=None, bed_alarmed=False)
    minutes = int(plan.night.bed_return.total_seconds() // 60)
    explanation = Explanation.of(
        "bed_not_returned", since=hhmm(plan, since, timer.at), minutes=minutes
    )
    out.detect(state, RuleKind.BED_NOT_RETURNED, timer.at, explanation)
    return replace(state, bed_alarmed=True)


def _temperature(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    room = state.room(timer.key)
    if room is None or room.out_since is None:  # pragma: no cover - timer needs both
        return state
    low = room.celsius < plan.temperature.low
    explanation = Explanation.of(
        "temperature_low" if low else "temperature_high",
        room=room.room,
        celsius=f"{room.celsius:.1f}",
        since=hhmm(plan, room.out_since, timer.at),
        limit=f"{plan.temperature.low if low else plan.temperature.high:g}",
    )
    out.detect(state, RuleKind.TEMPERATURE, timer.at, explanation)
    return state.with_room(replace(room, alarmed=True))


def _device_offline(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    device = state.device(timer.key)
    explanation = Explanation.of(
        "device_offline", device=device.device_id, since=hhmm(plan, device.offline_since, timer.at)
    )
    out.detect(state, RuleKind.DEVICE_OFFLINE, timer.at, explanation, device_id=device.device_id)
    return state.with_device(replace(device, offline_alarmed=True))


def _baseline(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    if state.today is None or "low" in state.baseline_flagged:
        return state
    checkpoint = local(plan, timer.at).time()
    departure = baseline.low_activity(plan.baseline, state.today, state.history, checkpoint)
    if departure is None:
        return state
    hours = ", ".join(
        f"{h:02d}–{h + 1:02d} ({seen} / {usual:.0f})" for h, seen, usual in departure.worst_hours
    )
    explanation = Explanation.of(
        "baseline_low",
        Explanation.of("baseline_quiet_hours", hours=hours),
        observed=departure.observed,
        expected=f"{departure.expected:.0f}",
        start=f"{departure.start_hour:02d}:00",
        end=f"{checkpoint:%H:%M}",
        change=departure.change_percent,
    )
    out.detect(state, RuleKind.BASELINE, timer.at, explanation)
    return replace(state, baseline_flagged=state.baseline_flagged | {"low"})


def _baseline_night(
    plan: CarePlan, state: ResidentState, timer: Timer, out: Findings
) -> ResidentState:
    if state.today is None or "night" in state.baseline_flagged:
        return state
    departure = baseline.restless_night(plan.baseline, state.today, state.history)
    if departure is None:
        return state
    explanation = Explanation.of(
        "baseline_night",
        observed=departure.observed,
        expected=f"{departure.expected:.0f}",
        start="00:00",
        end=f"{plan.baseline.day_start:%H:%M}",
    )
    out.detect(state, RuleKind.BASELINE, timer.at, explanation)
    return replace(state, baseline_flagged=state.baseline_flagged | {"night"})


def _midnight(plan: CarePlan, state: ResidentState, timer: Timer, out: Findings) -> ResidentState:
    history = state.history
    # A day only partly watched would teach the baseline a false quiet morning.
    watched_all_day = state.today is not None and state.monitored_since <= at_local(
        plan, state.today.day, time(0, 0)
    )
    if state.today is not None and watched_all_day:
        history = baseline.fold(history, state.today, plan.baseline.history_days)
    return replace(
        state, history=history, today=new_day(plan, timer.at), baseline_flagged=frozenset()
    )


_HANDLERS = {
    TimerKind.INACTIVITY_PERIOD: _inactivity_period,
    TimerKind.PROMPT_EXPIRY: _prompt_expiry,
    TimerKind.INACTIVITY_WINDOW: _inactivity_window,
    TimerKind.CHECK_IN: _check_in,
    TimerKind.MEDICATION_REMINDER: _medication_reminder,
    TimerKind.MEDICATION: _medication,
    TimerKind.BED_RETURN: _bed_return,
    TimerKind.TEMPERATURE: _temperature,
    TimerKind.DEVICE_OFFLINE: _device_offline,
    TimerKind.BASELINE: _baseline,
    TimerKind.BASELINE_NIGHT: _baseline_night,
    TimerKind.MIDNIGHT: _midnight,
}
