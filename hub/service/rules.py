"""Per-resident alarm rules, as people set them on the care plan.

A care plan version stores only what a person changed (``overrides``: a small JSON object);
everything else is the care level's default (:func:`rule_defaults`). :func:`effective_rules`
is what the alarm rules apply (:mod:`hub.alarms.plans`), :func:`parse_rule_changes` checks an
edit and says, field by field, what is wrong. Times are local wall-clock times of the
resident (Europe/Madrid by default), as on the care plan's check-in deadline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import date, time
from typing import Any, Literal

from hub.service.errors import InvalidCarePlan

Sensitivity = Literal["low", "normal", "high"]
SENSITIVITIES: tuple[Sensitivity, ...] = ("low", "normal", "high")
# Who hears of a missed dose (ADR 0152): the centre (an alarm), the family (a notice to the
# members who agreed to hear of alarms; an alarm when nobody did), or both.
MissedTo = Literal["centre", "family", "both"]
MISSED_TO: tuple[MissedTo, ...] = ("centre", "family", "both")
# The learned baseline flags a quiet day when it is below low_ratio × expected AND below
# mean − sigmas × std (alerts.careplan.BaselineSettings): more sensitive = a higher ratio
# and fewer sigmas, so smaller drops are flagged.
SENSITIVITY_THRESHOLDS: dict[Sensitivity, tuple[float, float]] = {
    "low": (0.25, 4.0),
    "normal": (0.35, 3.0),
    "high": (0.5, 2.0),
}


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with an edit: the form field, an i18n code (``rule_<code>`` in the
    service catalogue), its parameters and the English text."""

    field: str
    code: str
    text: str
    params: tuple[tuple[str, str], ...] = ()


class InvalidRules(InvalidCarePlan):
    """Rule settings refused; ``problems`` says each one, field by field."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(p.text for p in problems))
        self.problems = problems


def _problem(field: str, code: str, text: str, **params: object) -> RuleProblem:
    return RuleProblem(field, code, text, tuple((k, str(v)) for k, v in params.items()))


MAX_CHECK_INS = 4
BED_RETURN_MIN, BED_RETURN_MAX = 5, 240
TEMPERATURE_MIN, TEMPERATURE_MAX = 5.0, 40.0
# The morning window must leave the rule time to see movement, and not cover the day.
MORNING_MIN_MINUTES, MORNING_MAX_MINUTES = 30, 8 * 60


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_MEDICATIONS, MAX_DOSES = 10, 6
MEDICATION_NAME_MAX = 30  # with " HH:MM" the dose key stays within the contract's 40
GRACE_MIN, GRACE_MAX = 10, 240


@dataclass(frozen=True, slots=True)
class Medication:
    """A medicine taken at ``times`` (local), on ``days`` (0 = Monday; empty: every day),
    from ``start`` to ``end`` (both included; None: open)."""

    name: str
    times: tuple[time, ...]
    days: tuple[int, ...] = ()
    start: date | None = None
    end: date | None = None

    def dose_key(self, moment: time) -> str:
        """The dose's name on the tablet and in ``MedicationTaken``: "insulin 08:00"."""
        return f"{self.name} {moment:%H:%M}"


@dataclass(frozen=True, slots=True)
class ResidentRules:
    """Every rule setting a person can change for one resident."""

    # Expected activity: no movement at all inside it raises the inactivity alarm.
    morning_start: time = time(7, 0)
    morning_end: time = time(10, 0)
    # Night: the front door opening, or leaving the bed and not coming back, raises.
    night_start: time = time(23, 0)
    night_end: time = time(7, 0)
    check_in_deadlines: tuple[time, ...] = (time(11, 0),)
    bed_return_min: int = 30
    temperature_low: float = 16.0
    temperature_high: float = 32.0
    inactivity: bool = True
    check_in: bool = True
    night_door: bool = True
    bed: bool = True
    temperature: bool = True
    baseline: bool = True
    baseline_sensitivity: Sensitivity = "normal"
    # Reminders on the tablet at each dose; a dose not confirmed within the grace is missed.
    medications: tuple[Medication, ...] = ()
    medication_grace_min: int = 60
    medication_missed_to: MissedTo = "centre"


RULE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ResidentRules))
_SWITCHES = ("inactivity", "check_in", "night_door", "bed", "temperature", "baseline")
_TIMES = ("morning_start", "morning_end", "night_start", "night_end")


def rule_defaults(check_in_deadline: time) -> ResidentRules:
    """The defaults of a care level: the same rules for every level, except the daily
    check-in deadline, which the level sets (hub.service.care.CARE_DEFAULTS)."""
    return ResidentRules(check_in_deadlines=(check_in_deadline,))


def effective_rules(check_in_deadline: time, overrides: dict[str, Any] | None) -> ResidentRules:
    """The level's defaults with what people changed (stored overrides, already checked;
    an override that no longer parses is ignored rather than stopping the alarm rules)."""
    rules = rule_defaults(check_in_deadline)
    if not overrides:
        return rules
    try:
        return replace(rules, **_values(overrides))
    except InvalidRules:
        return rules


def parse_rule_changes(
    data: object, current: dict[str, Any], check_in_deadline: time
) -> dict[str, Any]:
    """The new overrides after ``data`` (``{"field": value}``; ``null`` puts the level's
    default back); :class:`InvalidRules` listing every problem, field by field."""
    if not isinstance(data, dict):
        raise InvalidRules(
            [_problem("rules", "not_object", "rules must be an object of rule settings")]
        )
    unknown = sorted(set(data) - set(RULE_FIELDS))
    if unknown:
        names = ", ".join(unknown)
        raise InvalidRules(
            [_problem("rules", "unknown", f"unknown rule settings: {names}", names=names)]
        )
    merged = {k: v for k, v in current.items() if k in RULE_FIELDS}
    for key, value in data.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    values = _values(merged)  # types and formats, per field
    rules = replace(rule_defaults(check_in_deadline), **values)
    problems = rule_problems(rules)
    if problems:
        raise InvalidRules(problems)
    return {key: _json(values[key]) for key in sorted(values)}


def rule_problems(rules: ResidentRules) -> list[RuleProblem]:
    """What is wrong with a combination of settings (empty when valid)."""
    problems: list[RuleProblem] = []
    add = problems.append
    start, end = _minutes(rules.morning_start), _minutes(rules.morning_end)
    if end <= start:
        add(_problem(
            "morning_end", "morning_order",
            f"the morning window ends ({rules.morning_end:%H:%M}) before it starts"
            f" ({rules.morning_start:%H:%M})",
            start=f"{rules.morning_start:%H:%M}", end=f"{rules.morning_end:%H:%M}",
        ))  # fmt: skip
    elif not MORNING_MIN_MINUTES <= end - start <= MORNING_MAX_MINUTES:
        add(_problem(
            "morning_end", "morning_length", "the morning window lasts from 30 minutes to 8 hours"
        ))  # fmt: skip
    if rules.night_start == rules.night_end:
        add(_problem(
            "night_end", "night_empty", "the night window starts and ends at the same time"
        ))  # fmt: skip
    if not 1 <= len(rules.check_in_deadlines) <= MAX_CHECK_INS:
        add(_problem(
            "check_in_deadlines", "check_in_count",
            f"from 1 to {MAX_CHECK_INS} check-in deadlines", max=MAX_CHECK_INS,
        ))  # fmt: skip
    if len(set(rules.check_in_deadlines)) != len(rules.check_in_deadlines):
        add(_problem("check_in_deadlines", "check_in_twice", "a check-in deadline is listed twice"))
    if not BED_RETURN_MIN <= rules.bed_return_min <= BED_RETURN_MAX:
        add(_problem(
            "bed_return_min", "bed_return_range",
            f"back in bed within {BED_RETURN_MIN} to {BED_RETURN_MAX} minutes,"
            f" not {rules.bed_return_min}",
            min=BED_RETURN_MIN, max=BED_RETURN_MAX, value=rules.bed_return_min,
        ))  # fmt: skip
    for name, value in (("low", rules.temperature_low), ("high", rules.temperature_high)):
        if not TEMPERATURE_MIN <= value <= TEMPERATURE_MAX:
            add(_problem(
                f"temperature_{name}", f"temperature_{name}_range",
                f"the {name} temperature is {TEMPERATURE_MIN:g} to {TEMPERATURE_MAX:g} °C,"
                f" not {value:g}",
                min=f"{TEMPERATURE_MIN:g}", max=f"{TEMPERATURE_MAX:g}", value=f"{value:g}",
            ))  # fmt: skip
    keys = [m.dose_key(t) for m in rules.medications for t in m.times]
    if len(rules.medications) > MAX_MEDICATIONS:
        add(_problem(
            "medications", "medication_count",
            f"at most {MAX_MEDICATIONS} medicines", max=MAX_MEDICATIONS,
        ))  # fmt: skip
    if len(keys) != len(set(keys)):
        add(_problem("medications", "medication_twice", "a medicine is listed twice at one time"))
    if not GRACE_MIN <= rules.medication_grace_min <= GRACE_MAX:
        add(_problem(
            "medication_grace_min", "grace_range",
            f"a dose is missed after {GRACE_MIN} to {GRACE_MAX} minutes,"
            f" not {rules.medication_grace_min}",
            min=GRACE_MIN, max=GRACE_MAX, value=rules.medication_grace_min,
        ))  # fmt: skip
    if rules.temperature_low >= rules.temperature_high:
        add(_problem(
            "temperature_high", "temperature_order",
            f"the low temperature ({rules.temperature_low:g} °C) must be below the high"
            f" ({rules.temperature_high:g} °C)",
            low=f"{rules.temperature_low:g}", high=f"{rules.temperature_high:g}",
        ))  # fmt: skip
    return problems


def rules_json(rules: ResidentRules) -> dict[str, Any]:
    """Every setting as JSON (times HH:MM)."""
    return {name: _json(getattr(rules, name)) for name in RULE_FIELDS}


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def parse_time(name: str, value: object, field: str = "") -> time:
    """``"HH:MM"`` as a local time; a clear error for anything else (``"25:00"``, ``"7"``)."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise InvalidRules([_problem(
            field or name, "time_format", f"{name} must be a time of day HH:MM, not {value!r}",
            value=value,
        )])  # fmt: skip
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise InvalidRules([_problem(
            field or name, "time_format", f"{name} must be a time of day HH:MM, not {value!r}",
            value=value,
        )])  # fmt: skip
    if int(hours) > 23 or int(minutes) > 59:
        raise InvalidRules([_problem(
            field or name, "time_outside_day",
            f"{name} {value} is outside the day (00:00 to 23:59)", value=value,
        )])  # fmt: skip
    return time(int(hours), int(minutes))


def _values(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed values of stored or submitted overrides; errors name the field."""
    values: dict[str, Any] = {}
    problems: list[RuleProblem] = []
    for key, value in raw.items():
        try:
            values[key] = _value(key, value)
        except InvalidRules as err:
            problems.extend(err.problems)
    if problems:
        raise InvalidRules(problems)
    return values


def _wrong(key: str, code: str, text: str) -> InvalidRules:
    return InvalidRules([_problem(key, code, text)])


def _value(key: str, value: object) -> Any:
    if key in _TIMES:
        return parse_time(key.replace("_", " "), value, key)
    if key == "check_in_deadlines":
        if isinstance(value, str):  # "09:30, 19:00" from a form
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise _wrong(key, "time_list", "check_in_deadlines must be a list of HH:MM times")
        return tuple(sorted(parse_time("check-in deadline", v, key) for v in value))
    if key in _SWITCHES:
        if not isinstance(value, bool):
            raise _wrong(key, "switch", f"{key} must be true or false")
        return value
    if key == "bed_return_min":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(key, "minutes", "bed_return_min must be a whole number of minutes")
        return value
    if key in ("temperature_low", "temperature_high"):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise _wrong(key, "celsius", f"{key} must be a number of °C")
        return float(value)
    if key == "medications":
        if not isinstance(value, list):
            raise _wrong(key, "medication_list", "medications must be a list of medicines")
        return tuple(_medication(item) for item in value)
    if key == "medication_grace_min":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(key, "minutes", "medication_grace_min must be a whole number of minutes")
        return value
    if key == "medication_missed_to":
        if value not in MISSED_TO:
            raise _wrong(
                key,
                "missed_to",
                f"medication_missed_to is one of {', '.join(MISSED_TO)}, not {value!r}",
            )
        return value
    if key == "baseline_sensitivity":
        if value not in SENSITIVITIES:
            raise _wrong(
                key,
                "sensitivity",
                f"baseline_sensitivity is one of {', '.join(SENSITIVITIES)}, not {value!r}",
            )
        return value
    raise _wrong(key, "unknown", f"unknown rule setting {key}")


def _medication(item: object) -> Medication:
    """One medicine of a submitted or stored list; errors say what is wrong with it."""
    if not isinstance(item, dict) or set(item) - {"name", "times", "days", "start", "end"}:
        raise _wrong(
            "medications", "medication_item",
            "each medicine is {name, times, days, start, end}",
        )  # fmt: skip
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MEDICATION_NAME_MAX:
        raise InvalidRules([_problem(
            "medications", "medication_name",
            f"a medicine's name is 1 to {MEDICATION_NAME_MAX} characters",
            max=MEDICATION_NAME_MAX,
        )])  # fmt: skip
    name = " ".join(name.split())
    times = item.get("times")
    if isinstance(times, str):
        times = [part.strip() for part in times.split(",") if part.strip()]
    if not isinstance(times, list) or not 1 <= len(times) <= MAX_DOSES:
        raise InvalidRules([_problem(
            "medications", "medication_times", f"{name}: from 1 to {MAX_DOSES} times a day",
            name=name, max=MAX_DOSES,
        )])  # fmt: skip
    moments = tuple(sorted(parse_time(f"{name} time", t, "medications") for t in times))
    days = item.get("days") or []
    if not isinstance(days, list) or any(d not in WEEKDAYS for d in days):
        raise InvalidRules([_problem(
            "medications", "medication_days", f"{name}: days are mon, tue, wed, thu, fri, sat, sun",
            name=name,
        )])  # fmt: skip
    start, end = (_date(name, item.get(k)) for k in ("start", "end"))
    if start and end and end < start:
        raise InvalidRules([_problem(
            "medications", "medication_dates", f"{name}: the last day is before the first",
            name=name,
        )])  # fmt: skip
    return Medication(name, moments, tuple(sorted({WEEKDAYS.index(d) for d in days})), start, end)


def _date(name: str, value: object) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRules([_problem(
            "medications", "medication_date", f"{name}: dates are YYYY-MM-DD, not {value!r}",
            name=name, value=value,
        )]) from None  # fmt: skip


def _json(value: Any) -> Any:
    if isinstance(value, Medication):
        return {
            "name": value.name,
            "times": [f"{t:%H:%M}" for t in value.times],
            "days": [WEEKDAYS[d] for d in value.days],
            "start": value.start.isoformat() if value.start else None,
            "end": value.end.isoformat() if value.end else None,
        }
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value
