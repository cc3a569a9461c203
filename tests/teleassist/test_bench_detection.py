"""The detection benchmark on a small, fixed bench: every injected critical incident is
detected, a cancelled fall raises nothing, and normal days raise (almost) nothing."""

from __future__ import annotations

import json

import pytest

from firmware_sim import IncidentKind, IncidentSpec, Profile, simulate_days, standard_home
from teleassist.bench import detection
from teleassist.bench.detection import START, DetectionReport, run_trace, score_incident_run

ALL_KINDS = list(IncidentKind)


@pytest.mark.parametrize("profile", [p.value for p in Profile])
def test_every_injected_incident_kind_is_detected(profile) -> None:
    specs = [IncidentSpec(kind, day=day + 1) for day, kind in enumerate(ALL_KINDS)]
    days = len(ALL_KINDS) + 2
    trace = simulate_days(
        standard_home(f"t-{profile[:3]}"), profile, START, days, seed=11, incidents=specs
    )
    report = DetectionReport()
    score_incident_run(report, trace.incidents, run_trace(trace, profile))
    assert report.critical_incidents >= 8
    assert report.critical_detected == report.critical_incidents, report.missed_examples
    assert report.cancelled_falls == 1
    assert report.cancelled_falls_alarmed == 0
    for rule, score in report.rules.items():
        assert score.missed == 0, (rule, report.missed_examples)


def test_normal_days_raise_almost_nothing_and_the_cli_prints_json(capsys) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    detection.add_arguments(parser)
    args = parser.parse_args(
        ["--homes", "1", "--days", "10", "--incident-rate", "0.3", "--profiles", "frail,active"]
    )
    assert detection.run(args, config=None) == 0  # type: ignore[arg-type]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    data = json.loads(last)
    assert data["benchmark"] == "detection"
    assert data["normal_resident_days"] == 20
    assert data["critical_detected"] == data["critical_incidents"]
    # Under one false alarm per resident-month, on 20 resident-days: at most one.
    assert sum(r["false_alarms_normal"] for r in data["rules"].values()) <= 1
