"""Care levels drive plan defaults; plans are versioned and validated."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from hub.service.care import (
    CARE_DEFAULTS,
    care_defaults,
    initial_plan,
    plan_for_level,
    review_interval,
    revise_plan,
)
from hub.service.errors import InvalidCarePlan

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_higher_levels_install_more_and_act_faster() -> None:
    basic, medium, high = (CARE_DEFAULTS[x] for x in ("basic", "medium", "high"))
    assert set(basic.devices) < set(medium.devices) < set(high.devices)
    assert (
        basic.wellbeing_call_every_days
        > medium.wellbeing_call_every_days
        > high.wellbeing_call_every_days
    )
    assert basic.escalate_to_contact_after_min > high.escalate_to_contact_after_min
    assert all(d.review_every_days <= 365 for d in CARE_DEFAULTS.values())


def test_initial_plan_uses_the_defaults() -> None:
    plan = initial_plan("high", T0, "cris")
    assert plan.version == 1
    assert "bed_sensor" in plan.devices
    assert plan.check_in_deadline == time(10, 0)
    assert review_interval(plan) == timedelta(days=180)


def test_unknown_level() -> None:
    with pytest.raises(InvalidCarePlan, match="unknown care level"):
        care_defaults("platinum")


def test_revisions_make_new_versions_and_keep_the_old() -> None:
    v1 = initial_plan("basic", T0, "cris")
    v2 = revise_plan(v1, T0 + timedelta(days=1), "anna", wellbeing_call_every_days=7, notes="deaf")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.wellbeing_call_every_days == 30  # untouched
    assert (v2.wellbeing_call_every_days, v2.notes, v2.created_by) == (7, "deaf", "anna")
    v3 = plan_for_level(v2, "medium", T0 + timedelta(days=2), "anna")
    assert v3.version == 3
    assert v3.care_level == "medium"
    assert v3.notes == "deaf"
    assert "fall_detector" in v3.devices


def test_level_change_down_keeps_devices_already_planned() -> None:
    high = initial_plan("high", T0, "cris")
    down = plan_for_level(high, "basic", T0, "cris")
    assert "bed_sensor" in down.devices
    assert down.wellbeing_call_every_days == 30


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"devices": ("pendant",)}, "gateway"),
        ({"devices": ("gateway", "pendant", "pendant")}, "twice"),
        ({"devices": ("gateway", "pendant", "robot")}, "unknown devices"),
        ({"wellbeing_call_every_days": 0}, "wellbeing"),
        ({"escalate_to_contact_after_min": 30, "escalate_to_112_after_min": 20}, "112"),
        ({"review_every_days": 400}, "at least yearly"),
        ({"care_level": "high"}, "not editable"),
    ],
)
def test_bad_revisions_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCarePlan, match=message):
        revise_plan(initial_plan("basic", T0, "cris"), T0, "cris", **changes)
