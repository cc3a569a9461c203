"""Care-plan defaults and validation; explanations and labels in three languages."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from alerts import (
    LANGUAGES,
    AlertsValueError,
    CarePlan,
    CarePlanError,
    Explanation,
    InactivitySettings,
    MedicationSchedule,
    MedicationSettings,
    Outcome,
    RuleKind,
    TemperatureSettings,
    TimeWindow,
    label,
    translate,
)
from alerts.careplan import BaselineSettings, CheckInSettings


def test_defaults_are_the_services() -> None:
    plan = CarePlan("r1")
    assert plan.inactivity.period == timedelta(hours=12)
    assert plan.inactivity.windows == (TimeWindow(time(7), time(10)),)
    assert plan.night.window.contains(time(2))
    assert not plan.night.window.contains(time(12))
    assert plan.tz.key == "Europe/Madrid"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CarePlan(""), "resident id"),
        (lambda: CarePlan("r", language="fr"), "language"),  # type: ignore[arg-type]
        (lambda: CarePlan("r", timezone="Mars/Base"), "time zone"),
        (lambda: InactivitySettings(period=timedelta(minutes=10)), "at least"),
        (lambda: TimeWindow(time(7), time(7)), "empty"),
        (lambda: TemperatureSettings(low=30, high=20), "below"),
        (lambda: CheckInSettings(enabled=True, deadlines=()), "no deadline"),
        (lambda: MedicationSchedule("", time(9)), "1–40"),
        (
            lambda: MedicationSettings(
                schedules=(MedicationSchedule("a", time(9)), MedicationSchedule("a", time(10)))
            ),
            "unique",
        ),
        (lambda: BaselineSettings(min_days=40), "min_days"),
        (lambda: BaselineSettings(checkpoints=(time(5),)), "after day_start"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(build, message) -> None:
    with pytest.raises(CarePlanError, match=message):
        build()


def test_every_label_and_template_exists_in_every_language() -> None:
    for code in [*RuleKind, *Outcome]:
        for language in LANGUAGES:
            assert label(code, language) != code or code == "co"
    assert translate("never", "es") == "nunca"
    with pytest.raises(AlertsValueError):
        translate("never", "fr")
    with pytest.raises(AlertsValueError):
        Explanation.of("no-such-key")


def test_explanation_round_trips_through_json() -> None:
    explanation = Explanation.of(
        "inactivity_window",
        Explanation.of("usually_up_by", time="08:15"),
        start="07:00",
        end="10:00",
        since="07:40",
    )
    assert Explanation.from_dict(explanation.to_dict()) == explanation
    assert explanation.text("en") == (
        "No movement between 07:00 and 10:00; last movement 07:40; usually up by 08:15"
    )
