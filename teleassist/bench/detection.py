"""``teleassist bench detection``: the alert rules against simulated resident-days.

Runs ``firmware_sim`` homes through the pure rules of ``alerts`` and scores them against
the simulator's ground truth:

- incident runs (incidents injected at ``--incident-rate`` a day): per rule, incidents,
  detections, misses and detection delay (from the incident's start to the detection);
- normal runs (no incident at all): every detection is a false alarm; reported per
  resident-month (30 days) — the target is under one on every profile.

The care plan is what a coordinator would set for each profile (night window, check-in
deadline and morning window from the resident's habits); see :func:`care_plan_for`.
Pre-alarm prompts are never answered by the simulated resident, so an inactivity
prompt always becomes an alarm here (the conservative count).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time as wallclock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from alerts import (
    CRITICAL_RULES,
    CarePlan,
    CheckInSettings,
    Detection,
    DeviceType,
    HomeEvent,
    InactivitySettings,
    NightSettings,
    RuleKind,
    TemperatureSettings,
    TimeWindow,
    evaluate,
    initial_state,
    tick,
)
from firmware_sim import (
    HIGH_TEMP_C,
    LOW_TEMP_C,
    PROFILES,
    Incident,
    IncidentKind,
    Profile,
    Trace,
    plan_incidents,
    profile_params,
    simulate_days,
    standard_home,
)
from teleassist.config import Config

NAME = "detection"
HELP = "alert rules vs simulated resident-days: detections, misses, false alarms, delay"

# The simulator's rule names -> ours.
SIM_RULES: dict[str, RuleKind] = {
    "fall": RuleKind.FALL,
    "panic": RuleKind.PANIC,
    "inactivity": RuleKind.INACTIVITY,
    "night_wandering": RuleKind.NIGHT_DOOR,
    "not_back_to_bed": RuleKind.BED_NOT_RETURNED,
    "missed_check_in": RuleKind.MISSED_CHECK_IN,
    "smoke": RuleKind.SMOKE,
    "co": RuleKind.CO,
    "flood": RuleKind.FLOOD,
    "room_temperature": RuleKind.TEMPERATURE,
    "device_offline": RuleKind.DEVICE_OFFLINE,
    "low_battery": RuleKind.LOW_BATTERY,
}
# A detection counts for an incident from shortly before its start (clock jitter) to
# this long after its end (supervision and prompts add delay after the condition ends).
MATCH_BEFORE = timedelta(minutes=2)
MATCH_AFTER = timedelta(hours=3)
START = date(2026, 1, 5)
DAYS_PER_MONTH = 30


def _minutes(value: float) -> time:
    value = max(0, min(int(value), 24 * 60 - 1))
    return time(value // 60, value % 60)


def care_plan_for(profile: str, resident_id: str) -> CarePlan:
    """The care plan a coordinator would set for a resident of ``profile``."""
    params = profile_params(profile)
    # Expect movement from 06:00 until half an hour after the latest usual waking time.
    window_end = _minutes(params.wake_max + 30)
    return CarePlan(
        resident_id,
        inactivity=InactivitySettings(windows=(TimeWindow(time(6, 0), window_end),)),
        check_in=CheckInSettings(enabled=True, deadlines=(_minutes(params.check_in_deadline),)),
        night=NightSettings(window=TimeWindow(time(23, 0), time(6, 0))),
        temperature=TemperatureSettings(low=LOW_TEMP_C, high=HIGH_TEMP_C),
    )


@dataclass(frozen=True, slots=True)
class Found:
    """A detection of a run, with the profile it came from."""

    profile: str
    detection: Detection


def run_trace(trace: Trace, profile: str) -> list[Detection]:
    """Feed one trace through the rules in arrival order; every detection found."""
    home = trace.home
    plan = care_plan_for(profile, home.resident_id)
    records = sorted(trace.records, key=lambda r: r.arrival)
    if not records:
        return []
    state = initial_state(plan, home.home_id, records[0].arrival - timedelta(seconds=1))
    found: list[Detection] = []
    for index, record in enumerate(records):
        event = HomeEvent(
            home_id=home.home_id,
            resident_id=home.resident_id,
            device_id=record.device_id,
            device_type=DeviceType.of(record.device_type.value),
            message_id=f"{home.home_id}-{index}",
            at=record.ts,
            body=record.body,
        )
        result = evaluate(plan, state, event)
        state = result.state
        found.extend(result.detections)
    end = datetime.combine(trace.start_date + timedelta(days=trace.days), time(0), tzinfo=plan.tz)
    found.extend(tick(plan, state, end).detections)
    return [d for d in found if not d.cancels]


@dataclass
class RuleScore:
    """Figures of one rule."""

    incidents: int = 0
    detected: int = 0
    delays_s: list[float] = field(default_factory=list)
    false_alarms_normal: int = 0
    unexplained_incident_runs: int = 0

    @property
    def missed(self) -> int:
        """Incidents without a matching detection."""
        return self.incidents - self.detected

    def as_dict(self) -> dict[str, Any]:
        """JSON view."""
        delays = sorted(self.delays_s)
        return {
            "incidents": self.incidents,
            "detected": self.detected,
            "missed": self.missed,
            "delay_median_s": round(statistics.median(delays)) if delays else None,
            "delay_max_s": round(delays[-1]) if delays else None,
            "false_alarms_normal": self.false_alarms_normal,
            "unexplained_on_incident_runs": self.unexplained_incident_runs,
        }


@dataclass
class DetectionReport:
    """Everything the benchmark measured."""

    rules: dict[str, RuleScore] = field(default_factory=lambda: defaultdict(RuleScore))
    normal_days: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_alarms: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    incident_days: int = 0
    critical_incidents: int = 0
    critical_detected: int = 0
    cancelled_falls: int = 0
    cancelled_falls_alarmed: int = 0
    missed_examples: list[str] = field(default_factory=list)
    false_examples: list[str] = field(default_factory=list)

    def per_resident_month(self, profile: str) -> float:
        """False alarms per resident-month on the normal runs of ``profile``."""
        days = self.normal_days.get(profile, 0)
        return self.false_alarms.get(profile, 0) / (days / DAYS_PER_MONTH) if days else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON view (the benchmark's last line)."""
        total_days = sum(self.normal_days.values())
        total_false = sum(self.false_alarms.values())
        return {
            "benchmark": NAME,
            "normal_resident_days": total_days,
            "incident_resident_days": self.incident_days,
            "false_alarms_per_resident_month": round(total_false / (total_days / DAYS_PER_MONTH), 3)
            if total_days
            else None,
            "false_alarms_per_resident_month_by_profile": {
                p: round(self.per_resident_month(p), 3) for p in sorted(self.normal_days)
            },
            "critical_incidents": self.critical_incidents,
            "critical_detected": self.critical_detected,
            "cancelled_falls": self.cancelled_falls,
            "cancelled_falls_alarmed": self.cancelled_falls_alarmed,
            "rules": {r: s.as_dict() for r, s in sorted(self.rules.items())},
        }


def _matches(incident: Incident, rules: set[RuleKind], detection: Detection) -> bool:
    return (
        detection.rule in rules
        and incident.start - MATCH_BEFORE <= detection.at <= incident.end + MATCH_AFTER
    )


def score_incident_run(
    report: DetectionReport, incidents: tuple[Incident, ...], detections: list[Detection]
) -> None:
    """Match detections with the ground truth of one incident run."""
    explained: set[int] = set()
    # The simulator may inject the same condition on the same device again while it
    # still lasts (a battery already low); the earlier alarm already covers it.
    ongoing: dict[tuple[str, str | None], tuple[datetime, datetime]] = {}
    for incident in sorted(incidents, key=lambda i: i.start):
        rule = SIM_RULES.get(incident.rule)
        if rule is None:  # pragma: no cover - a simulator rule we do not know
            continue
        also = {SIM_RULES[r] for r in incident.also if r in SIM_RULES}
        matching = [d for d in detections if _matches(incident, {rule}, d)]
        for index, detection in enumerate(detections):
            if _matches(incident, {rule, *also}, detection):
                explained.add(index)
        if incident.kind is IncidentKind.FALL_CANCELLED:
            report.cancelled_falls += 1
            if matching:
                report.cancelled_falls_alarmed += 1
            continue
        score = report.rules[rule.value]
        score.incidents += 1
        critical = rule in CRITICAL_RULES or incident.kind in _CRITICAL_KINDS
        report.critical_incidents += critical
        key = (incident.kind.value, incident.device_id)
        earlier = ongoing.get(key)
        if not matching and earlier is not None and incident.start <= earlier[0]:
            matching = [d for d in detections if d.rule is rule and d.at == earlier[1]]
        if matching:
            first = min(d.at for d in matching)
            score.detected += 1
            score.delays_s.append(max(0.0, (first - incident.start).total_seconds()))
            report.critical_detected += critical
            previous_end = earlier[0] if earlier is not None else incident.end
            ongoing[key] = (max(incident.end, previous_end), first)
        elif len(report.missed_examples) < 20:
            report.missed_examples.append(
                f"{incident.kind} {incident.home_id} {incident.start:%Y-%m-%d %H:%M}Z"
            )
    for index, detection in enumerate(detections):
        if index not in explained:
            report.rules[detection.rule.value].unexplained_incident_runs += 1


def _critical_kinds() -> frozenset[IncidentKind]:
    from firmware_sim import CRITICAL_KINDS

    return frozenset(CRITICAL_KINDS)


_CRITICAL_KINDS = _critical_kinds()


def run_benchmark(
    *,
    homes_per_profile: int,
    days: int,
    seed: int,
    incident_rate: float,
    profiles: list[str],
) -> DetectionReport:
    """Simulate and score; pure apart from CPU time."""
    report = DetectionReport()
    for profile in profiles:
        for n in range(homes_per_profile):
            home = standard_home(f"{profile[:3]}{n:03d}")
            normal = simulate_days(home, profile, START, days, seed=f"{seed}:normal:{n}")
            for detection in run_trace(normal, profile):
                report.false_alarms[profile] += 1
                report.rules[detection.rule.value].false_alarms_normal += 1
                if len(report.false_examples) < 20:
                    report.false_examples.append(
                        f"{profile} {home.home_id} {detection.at:%Y-%m-%d %H:%M}Z "
                        f"{detection.explanation.text('en')}"
                    )
            report.normal_days[profile] += days
            specs = plan_incidents(f"{seed}:{profile}:{n}", days, rate_per_day=incident_rate)
            trace = simulate_days(
                standard_home(f"{profile[:3]}i{n:03d}"),
                profile,
                START,
                days,
                seed=f"{seed}:incidents:{n}",
                incidents=specs,
            )
            score_incident_run(report, trace.incidents, run_trace(trace, profile))
            report.incident_days += days
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the benchmark."""
    parser.add_argument("--homes", type=int, default=4, help="homes per profile (default 4)")
    parser.add_argument("--days", type=int, default=30, help="days per home (default 30)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--incident-rate", type=float, default=0.5, help="incidents per day on incident runs"
    )
    parser.add_argument(
        "--profiles",
        default=",".join(p.value for p in Profile),
        help=f"comma-separated (default: all of {', '.join(p.value for p in PROFILES)})",
    )


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print the per-rule table, then the JSON line."""
    began = wallclock.monotonic()
    report = run_benchmark(
        homes_per_profile=args.homes,
        days=args.days,
        seed=args.seed,
        incident_rate=args.incident_rate,
        profiles=[p.strip() for p in args.profiles.split(",") if p.strip()],
    )
    elapsed = wallclock.monotonic() - began
    data = report.as_dict()
    header = ("rule", "incid", "det", "miss", "med s", "max s", "FA", "unexp")
    widths = (-18, 6, 5, 5, 8, 8, 5, 6)
    print(
        "".join(f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in zip(header, widths, strict=True))
    )
    for rule, figures in data["rules"].items():
        print(
            f"{rule:<18}{figures['incidents']:>6}{figures['detected']:>5}{figures['missed']:>5}"
            f"{figures['delay_median_s'] if figures['delay_median_s'] is not None else '-':>8}"
            f"{figures['delay_max_s'] if figures['delay_max_s'] is not None else '-':>8}"
            f"{figures['false_alarms_normal']:>5}{figures['unexplained_on_incident_runs']:>6}"
        )
    print(
        f"critical incidents detected: {report.critical_detected}/{report.critical_incidents};"
        f" cancelled falls alarmed: {report.cancelled_falls_alarmed}/{report.cancelled_falls}"
    )
    for profile, rate in data["false_alarms_per_resident_month_by_profile"].items():
        print(f"false alarms per resident-month ({profile}): {rate}")
    for line in report.missed_examples:
        print(f"missed: {line}")
    for line in report.false_examples:
        print(f"false alarm: {line}")
    data["elapsed_s"] = round(elapsed, 1)
    print(json.dumps(data))
    return 0
