"""Helpers shared by the rules: local time, text of times, activity bookkeeping."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from alerts.careplan import CarePlan
from alerts.i18n import Explanation
from alerts.model import Detection, MissedDose, PromptRequest, RuleKind
from alerts.state import DayActivity, PendingPrompt, ResidentState


@dataclass(slots=True)
class Findings:
    """Collects what one pure step found (local to the step, never shared)."""

    detections: list[Detection] = field(default_factory=list)
    prompts: list[PromptRequest] = field(default_factory=list)
    missed_doses: list[MissedDose] = field(default_factory=list)

    def detect(
        self,
        state: ResidentState,
        rule: RuleKind,
        at: datetime,
        explanation: Explanation,
        *,
        event_ids: tuple[str, ...] = (),
        device_id: str | None = None,
        cancels: bool = False,
        restores: bool = False,
    ) -> None:
        """Record a detection for the state's resident."""
        self.detections.append(
            Detection(
                rule=rule,
                home_id=state.home_id,
                resident_id=state.resident_id,
                at=at,
                explanation=explanation,
                event_ids=event_ids,
                device_id=device_id,
                cancels=cancels,
                restores=restores,
            )
        )


def local(plan: CarePlan, moment: datetime) -> datetime:
    """``moment`` in the resident's time zone."""
    return moment.astimezone(plan.tz)


@functools.lru_cache(maxsize=4096)
def _at_local(timezone: str, day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def at_local(plan: CarePlan, day: date, moment: time) -> datetime:
    """The UTC instant of local wall-clock ``moment`` on local ``day``."""
    # Cached: the rules ask for the same few instants at every event.
    return _at_local(plan.timezone, day, moment)


def next_local(plan: CarePlan, moment: time, after: datetime) -> datetime:
    """First UTC instant strictly after ``after`` at local wall-clock ``moment``."""
    ordinal = local(plan, after).toordinal()
    for offset in range(3):
        candidate = _at_local(plan.timezone, date.fromordinal(ordinal + offset), moment)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a local time recurs within three days")


def hhmm(plan: CarePlan, moment: datetime | None, reference: datetime | None = None) -> str:
    """ "07:40" in local time; "22/11 07:40" when not on the reference's local day."""
    if moment is None:
        return "—"
    here = local(plan, moment)
    if reference is not None and local(plan, reference).date() != here.date():
        return here.strftime("%d/%m %H:%M")
    return here.strftime("%H:%M")


def prompt_id(resident_id: str, kind: str, sent_at: datetime) -> str:
    """Deterministic prompt id, so replaying the same step gives the same prompt."""
    digest = hashlib.sha256(f"{resident_id}|{kind}|{sent_at.isoformat()}".encode())
    return digest.hexdigest()[:32]


def start_prompt(
    plan: CarePlan,
    state: ResidentState,
    at: datetime,
    rule: RuleKind,
    alarm_explanation: Explanation,
    prompt_text: Explanation,
    out: Findings,
) -> ResidentState:
    """Ask the resident first; ``rule`` fires with ``alarm_explanation`` if unanswered."""
    pid = prompt_id(state.resident_id, "inactivity", at)
    expires = at + plan.inactivity.prompt_timeout
    out.prompts.append(
        PromptRequest(
            home_id=state.home_id,
            resident_id=state.resident_id,
            prompt_id=pid,
            kind="inactivity",
            sent_at=at,
            expires=expires,
            explanation=prompt_text,
        )
    )
    pending = PendingPrompt(pid, "inactivity", rule, at, expires, alarm_explanation)
    return replace(state, prompt=pending)


def register_activity(plan: CarePlan, state: ResidentState, at: datetime) -> ResidentState:
    """The resident moved: inactivity timers restart, a pending prompt is answered."""
    last = state.last_activity_at
    today = state.today
    here = local(plan, at)
    if today is not None and today.day == here.date():
        minute = here.hour * 60 + here.minute
        waking = here.time() >= plan.baseline.day_start
        today = today.add(here.hour, minute, waking)
    return replace(
        state,
        last_activity_at=at if last is None or at > last else last,
        inactivity_alarmed=False,
        prompt=None,
        today=today,
    )


def new_day(plan: CarePlan, moment: datetime) -> DayActivity:
    """An empty activity record for the local day of ``moment``."""
    return DayActivity(local(plan, moment).date())
