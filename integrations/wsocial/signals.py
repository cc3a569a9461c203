"""Weekly risk and needs signals per resident (pure functions, no I/O, no clock).

Each signal compares the week with the resident's *own* baseline (the median of up to
:attr:`Thresholds.baseline_weeks` previous weeks), is explained in words (ca/es/en), and
names the SSM-Cat domains it informs. Standing risks become :class:`RiskFlag` events with
hysteresis: a flag is set after ``weeks_to_set`` raised weeks in a row and cleared after
``weeks_to_clear`` quiet weeks, so one odd week neither flags nor unflags anyone.

Inputs are counts the platform already has: active hours from motion sensors, night
events from bed/PIR sensors, check-ins, alarms and falls, and social contact (messages and
calls with the circle, group sessions from the family network).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from integrations.wsocial.events import RiskFlag, RiskKind, RiskSignal, SsmDomain
from protocol.i18n import LANGUAGES, Catalog

CATALOG = Catalog.load(Path(__file__).with_name("i18n.toml"))

DOMAINS: dict[RiskKind, tuple[SsmDomain, ...]] = {
    "activity_decline": ("daily_activities", "physical_health"),
    "night_restlessness": ("physical_health", "mental_health"),
    "missed_check_ins": ("daily_activities", "mental_health"),
    "frequent_alarms": ("physical_health", "housing"),
    "social_contact_decline": ("social_network", "community_participation"),
    "social_isolation": ("social_network", "community_participation", "mental_health"),
    "at_risk_for_falls": ("physical_health", "housing"),
    "lives_alone": ("social_network", "housing"),
}

# Signals that become standing flags when they persist.
FLAGGED: tuple[RiskKind, ...] = ("social_isolation", "at_risk_for_falls", "lives_alone")


@dataclass(frozen=True)
class WeeklyInputs:
    """What the platform knows about one resident for one week (Monday to Sunday)."""

    week_start: date
    active_hours_per_day: float
    night_events_per_night: float
    check_ins_expected: int
    check_ins_done: int
    alarms: int
    falls: int
    messages: int
    calls: int
    group_sessions: int

    def __post_init__(self) -> None:
        if self.week_start.weekday() != 0:
            raise ValueError("week_start must be a Monday")
        if not 0 <= self.check_ins_done <= self.check_ins_expected:
            raise ValueError("check_ins_done must be between 0 and check_ins_expected")
        numbers = (
            self.active_hours_per_day,
            self.night_events_per_night,
            self.alarms,
            self.falls,
            self.messages,
            self.calls,
            self.group_sessions,
        )
        if min(numbers) < 0:
            raise ValueError("counts and hours cannot be negative")
        if self.active_hours_per_day > 24:
            raise ValueError("active_hours_per_day cannot exceed 24")

    @property
    def social_contacts(self) -> int:
        """Contacts with the circle; a call or a group session weighs like three messages."""
        return self.messages + 3 * self.calls + 3 * self.group_sessions


@dataclass(frozen=True)
class Thresholds:
    """Tunable limits (defaults chosen to keep steady residents quiet; see the tests)."""

    baseline_weeks: int = 8
    min_baseline_weeks: int = 3
    activity_drop: float = 0.30
    activity_drop_hours: float = 1.0
    night_ratio: float = 1.6
    night_min: float = 2.0
    check_in_share: float = 0.7
    alarms_ratio: float = 2.0
    alarms_min: int = 3
    contact_drop: float = 0.6
    contact_min_baseline: float = 6.0
    isolation_contacts: int = 3
    isolation_share: float = 0.35
    falls_window_weeks: int = 12
    weeks_to_set: int = 2
    weeks_to_clear: int = 2


@dataclass(frozen=True)
class WeekAssessment:
    """The signals of one week and the flag changes they caused."""

    week_start: date
    signals: tuple[RiskSignal, ...]
    flag_changes: tuple[RiskFlag, ...]

    @property
    def raised(self) -> tuple[RiskSignal, ...]:
        """Only the signals that were raised."""
        return tuple(s for s in self.signals if s.raised)


@dataclass
class _FlagState:
    active: bool = False
    since: datetime | None = None
    streak_on: int = 0
    streak_off: int = 0


@dataclass
class ResidentAssessment:
    """Every week of one resident, and the flags standing at the end."""

    resident_id: str
    weeks: list[WeekAssessment] = field(default_factory=list)
    active_flags: dict[RiskKind, datetime] = field(default_factory=dict)

    def flag_events(self) -> list[RiskFlag]:
        """Every flag change, oldest first."""
        return [change for week in self.weeks for change in week.flag_changes]


def _explain(kind: str, **values: object) -> dict[str, str]:
    return {lang: CATALOG.text(f"signal.{kind}", lang, **values) for lang in LANGUAGES}


def _week_end(week_start: date) -> datetime:
    return datetime.combine(week_start + timedelta(days=7), time(0), tzinfo=UTC)


def _change(current: float, baseline: float) -> float:
    return 0.0 if baseline == 0 else 100.0 * (current - baseline) / baseline


def _signal(
    resident: str, week: date, kind: RiskKind, score: float, raised: bool, text: dict[str, str]
) -> RiskSignal:
    return RiskSignal(
        resident_id=resident,
        occurred_at=_week_end(week),
        week_start=week,
        risk=kind,
        score=round(max(0.0, min(1.0, score)), 3),
        raised=raised,
        domains=DOMAINS[kind],
        explanation=text,  # type: ignore[arg-type]
    )


def week_signals(
    resident: str,
    history: Sequence[WeeklyInputs],
    week: WeeklyInputs,
    thresholds: Thresholds = Thresholds(),
    low_contact_streak: int = 0,
    contact_history: Sequence[WeeklyInputs] | None = None,
) -> list[RiskSignal]:
    """The signals of ``week`` given earlier weeks ``history`` (oldest first).

    ``contact_history`` (default ``history``) is what social contact is compared with;
    :func:`assess_resident` leaves out the weeks already judged isolated, so a lasting
    isolation does not become the resident's new normal and quietly clear its flag.
    """
    t = thresholds
    base = list(history)[-t.baseline_weeks :]
    signals: list[RiskSignal] = []
    start = week.week_start

    if len(base) >= t.min_baseline_weeks:
        active = statistics.median(w.active_hours_per_day for w in base)
        drop = active - week.active_hours_per_day
        raised = drop >= t.activity_drop_hours and drop >= t.activity_drop * active
        signals.append(
            _signal(
                resident,
                start,
                "activity_decline",
                drop / (2 * t.activity_drop * active) if active else 0.0,
                raised,
                _explain(
                    "activity_decline",
                    current=week.active_hours_per_day,
                    baseline=active,
                    change=_change(week.active_hours_per_day, active),
                ),
            )
        )
        night = statistics.median(w.night_events_per_night for w in base)
        limit = max(t.night_min, t.night_ratio * night)
        signals.append(
            _signal(
                resident,
                start,
                "night_restlessness",
                week.night_events_per_night / (2 * limit),
                week.night_events_per_night >= limit,
                _explain("night_restlessness", current=week.night_events_per_night, baseline=night),
            )
        )
        alarms = statistics.median(w.alarms for w in base)
        alarm_limit = max(float(t.alarms_min), t.alarms_ratio * alarms)
        signals.append(
            _signal(
                resident,
                start,
                "frequent_alarms",
                week.alarms / (2 * alarm_limit),
                week.alarms >= alarm_limit,
                _explain("frequent_alarms", current=week.alarms, baseline=alarms),
            )
        )
        contact_base = list(history if contact_history is None else contact_history)[
            -t.baseline_weeks :
        ]
        contacts = statistics.median(w.social_contacts for w in contact_base or base)
        if contacts >= t.contact_min_baseline:
            fall = 1.0 - week.social_contacts / contacts
            signals.append(
                _signal(
                    resident,
                    start,
                    "social_contact_decline",
                    fall,
                    fall >= t.contact_drop,
                    _explain(
                        "social_contact_decline",
                        current=week.social_contacts,
                        baseline=contacts,
                        change=_change(week.social_contacts, contacts),
                    ),
                )
            )
            low = week.social_contacts <= max(t.isolation_contacts, t.isolation_share * contacts)
            streak = low_contact_streak + 1 if low else 0
            signals.append(
                _signal(
                    resident,
                    start,
                    "social_isolation",
                    min(1.0, streak / t.weeks_to_set) * (fall if fall > 0 else 0.0),
                    low,
                    _explain(
                        "social_isolation",
                        weeks=max(streak, 1),
                        current=week.social_contacts,
                        baseline=contacts,
                    ),
                )
            )

    missed = week.check_ins_expected - week.check_ins_done
    share = week.check_ins_done / week.check_ins_expected if week.check_ins_expected else 1.0
    signals.append(
        _signal(
            resident,
            start,
            "missed_check_ins",
            1.0 - share,
            week.check_ins_expected > 0 and share < t.check_in_share,
            _explain(
                "missed_check_ins",
                done=week.check_ins_done,
                expected=week.check_ins_expected,
                missed=missed,
            ),
        )
    )
    recent = [*list(history)[-(t.falls_window_weeks - 1) :], week]
    falls = sum(w.falls for w in recent)
    signals.append(
        _signal(
            resident,
            start,
            "at_risk_for_falls",
            min(1.0, falls / 2),
            falls > 0,
            _explain("at_risk_for_falls", falls=falls, weeks=t.falls_window_weeks),
        )
    )
    return signals


def assess_resident(
    resident_id: str,
    weeks: Sequence[WeeklyInputs],
    *,
    lives_alone: bool = False,
    thresholds: Thresholds = Thresholds(),
) -> ResidentAssessment:
    """Walk a resident's weeks in order: signals per week, flags set and cleared."""
    ordered = sorted(weeks, key=lambda w: w.week_start)
    for earlier, later in itertools.pairwise(ordered):
        if later.week_start - earlier.week_start != timedelta(days=7):
            raise ValueError(f"weeks must be consecutive; gap after {earlier.week_start}")
    result = ResidentAssessment(resident_id)
    states: dict[RiskKind, _FlagState] = {kind: _FlagState() for kind in FLAGGED}
    low_streak = 0
    usual_contact: list[WeeklyInputs] = []
    for index, week in enumerate(ordered):
        signals = week_signals(
            resident_id, ordered[:index], week, thresholds, low_streak, usual_contact
        )
        by_kind = {s.risk: s for s in signals}
        isolation = by_kind.get("social_isolation")
        low_streak = low_streak + 1 if isolation is not None and isolation.raised else 0
        if not low_streak:
            usual_contact.append(week)
        if lives_alone:
            signals.append(
                _signal(
                    resident_id, week.week_start, "lives_alone", 1.0, True, _explain("lives_alone")
                )
            )
            by_kind["lives_alone"] = signals[-1]
        changes: list[RiskFlag] = []
        moment = _week_end(week.week_start)
        for kind, state in states.items():
            signal = by_kind.get(kind)
            raised = signal is not None and signal.raised
            state.streak_on = state.streak_on + 1 if raised else 0
            state.streak_off = 0 if raised else state.streak_off + 1
            needed = 1 if kind in ("lives_alone", "at_risk_for_falls") else thresholds.weeks_to_set
            if not state.active and state.streak_on >= needed:
                state.active, state.since = True, moment
                changes.append(
                    RiskFlag(
                        resident_id=resident_id,
                        occurred_at=moment,
                        risk=kind,
                        active=True,
                        since=moment,
                    )
                )
            elif state.active and state.streak_off >= thresholds.weeks_to_clear:
                assert state.since is not None
                changes.append(
                    RiskFlag(
                        resident_id=resident_id,
                        occurred_at=moment,
                        risk=kind,
                        active=False,
                        since=state.since,
                        until=moment,
                    )
                )
                state.active, state.since = False, None
        result.weeks.append(WeekAssessment(week.week_start, tuple(signals), tuple(changes)))
    result.active_flags = {k: s.since for k, s in states.items() if s.active and s.since}
    return result
