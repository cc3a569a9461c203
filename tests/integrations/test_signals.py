"""Weekly risk signals, validated on simulated residents whose lives change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from integrations.wsocial.mapping import to_resources
from integrations.wsocial.population import simulate_population, simulate_weeks
from integrations.wsocial.signals import (
    DOMAINS,
    WeeklyInputs,
    assess_resident,
    week_signals,
)

FIRST = date(2026, 6, 1)


def _week(index: int, **changes: float) -> WeeklyInputs:
    base = WeeklyInputs(
        week_start=FIRST + timedelta(weeks=index),
        active_hours_per_day=6.0,
        night_events_per_night=1.0,
        check_ins_expected=7,
        check_ins_done=7,
        alarms=0,
        falls=0,
        messages=12,
        calls=3,
        group_sessions=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_isolating_residents_are_flagged_and_steady_ones_are_not(seed: int) -> None:
    population = simulate_population(seed=seed)
    by_profile: dict[str, int] = {}
    for resident in population:
        weeks = simulate_weeks(resident, FIRST, 16, seed=seed)
        result = assess_resident(resident.resident_id, weeks, lives_alone=resident.lives_alone)
        isolation = [f for f in result.flag_events() if f.risk == "social_isolation" and f.active]
        by_profile[resident.profile] = by_profile.get(resident.profile, 0) + 1
        if resident.profile == "steady":
            assert not isolation, resident
        if resident.profile == "isolating":
            assert isolation, resident
            weeks_late = (isolation[0].since.date() - weeks[resident.change_week].week_start).days
            assert weeks_late <= 21, (resident, weeks_late)  # within three weeks of the change
        raised = {s.risk for w in result.weeks[resident.change_week :] for s in w.raised}
        if resident.profile == "declining":
            assert "activity_decline" in raised, resident
        if resident.profile == "restless":
            assert "night_restlessness" in raised, resident
        if resident.profile == "faller":
            assert "at_risk_for_falls" in result.active_flags, resident
        if resident.lives_alone:
            assert "lives_alone" in result.active_flags
    assert by_profile["steady"] > 100
    assert by_profile["isolating"] >= 5


def test_steady_resident_raises_nothing_and_isolation_is_explained_in_three_languages() -> None:
    weeks = [_week(i) for i in range(6)]
    quiet = assess_resident("r1", weeks)
    assert all(not w.raised for w in quiet.weeks)
    assert not quiet.flag_events()

    lonely = weeks + [_week(6 + i, messages=1, calls=0, group_sessions=0) for i in range(2)]
    result = assess_resident("r1", lonely)
    (flag,) = result.flag_events()
    assert (flag.risk, flag.active) == ("social_isolation", True)
    signal = next(s for s in result.weeks[-1].raised if s.risk == "social_isolation")
    assert signal.domains == DOMAINS["social_isolation"]
    assert "social_network" in signal.domains
    assert "2 setmanes" in signal.explanation["ca"]
    assert "2 semanas" in signal.explanation["es"]
    assert "2 weeks" in signal.explanation["en"]
    decline = next(s for s in result.weeks[-1].raised if s.risk == "social_contact_decline")
    assert (
        "1 (messages, calls and group activities) against a usual 24 (-96 %)"
        in (decline.explanation["en"])
    )


def test_flag_clears_after_two_normal_weeks() -> None:
    weeks = [_week(i) for i in range(5)]
    weeks += [_week(5 + i, messages=0, calls=0, group_sessions=0) for i in range(3)]
    weeks += [_week(8 + i) for i in range(3)]
    result = assess_resident("r2", weeks)
    changes = [(f.active, f.until is not None) for f in result.flag_events()]
    assert changes == [(True, False), (False, True)]
    assert "social_isolation" not in result.active_flags


def test_each_signal_fires_on_its_own_cause() -> None:
    history = [_week(i) for i in range(4)]
    cases = {
        "activity_decline": _week(4, active_hours_per_day=3.0),
        "night_restlessness": _week(4, night_events_per_night=4.0),
        "missed_check_ins": _week(4, check_ins_done=3),
        "frequent_alarms": _week(4, alarms=4),
        "at_risk_for_falls": _week(4, falls=1),
    }
    for kind, week in cases.items():
        raised = {s.risk for s in week_signals("r", history, week) if s.raised}
        assert raised == {kind}, (kind, raised)


def test_without_history_only_absolute_signals_are_computed() -> None:
    signals = week_signals("r", [], _week(0, check_ins_done=2))
    assert {s.risk for s in signals} == {"missed_check_ins", "at_risk_for_falls"}
    assert [s.risk for s in signals if s.raised] == ["missed_check_ins"]


def test_signals_and_flags_become_valid_fhir() -> None:
    weeks = [_week(i) for i in range(4)] + [_week(4, falls=1), _week(5, falls=0)]
    result = assess_resident("r3", weeks, lives_alone=True)
    for week in result.weeks:
        for signal in week.raised:
            (obs,) = to_resources(signal)
            assert obs.resource_type == "Observation"
    flags = [to_resources(f)[0].as_json() for f in result.flag_events()]
    assert {f["code"]["coding"][0]["code"] for f in flags} == {"105529008", "129839007"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"week_start": date(2026, 6, 2)}, "Monday"),
        ({"check_ins_done": 8}, "between 0 and"),
        ({"messages": -1}, "negative"),
        ({"active_hours_per_day": 25.0}, "exceed 24"),
    ],
)
def test_bad_inputs_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _week(0, **changes)  # type: ignore[arg-type]


def test_weeks_must_be_consecutive() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        assess_resident("r", [_week(0), _week(2)])


def test_catalog_is_complete_in_three_languages() -> None:
    from integrations.wsocial.signals import CATALOG

    assert CATALOG.check() == []
    for kind in DOMAINS:
        assert CATALOG.text(f"signal.{kind}", "ca")


def test_lasting_isolation_does_not_become_the_new_normal() -> None:
    weeks = [_week(i) for i in range(6)]
    weeks += [_week(6 + i, messages=1, calls=0, group_sessions=0) for i in range(14)]
    result = assess_resident("r4", weeks)
    changes = [(f.risk, f.active) for f in result.flag_events()]
    assert changes == [("social_isolation", True)]  # set once, never quietly cleared
    assert "social_isolation" in {s.risk for s in result.weeks[-1].raised}
    assert "social_isolation" in result.active_flags
