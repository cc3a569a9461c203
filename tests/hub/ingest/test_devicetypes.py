"""Which device type may send which event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.ingest.devicetypes import SUPERVISION_BY_TYPE, event_allowed


@pytest.mark.parametrize(
    ("device_type", "event", "allowed"),
    [
        ("gas", "gas", True),
        ("gas", "smoke", False),
        ("smoke", "gas", False),
        # Any device may report a fault or an action the gateway cannot interpret.
        ("pendant", "device_fault", True),
        ("smoke", "device_fault", True),
        ("contact", "device_fault", True),
        # A vibration sensor under the mattress feels movement in bed.
        ("bed", "motion", True),
        ("bed", "panic", False),
        ("contact", "panic", False),
        # A pill box confirms or misses doses; it is no panic button (ADR 0174).
        ("dispenser", "medication_taken", True),
        ("dispenser", "medication_missed", True),
        ("dispenser", "tamper", True),
        ("dispenser", "panic", False),
        ("dispenser", "motion", False),
    ],
)
def test_events_by_device_type(device_type: str, event: str, allowed: bool) -> None:
    assert event_allowed(device_type, event) is allowed


def test_gas_detectors_are_supervised_like_other_life_safety_sensors() -> None:
    assert SUPERVISION_BY_TYPE["gas"] == SUPERVISION_BY_TYPE["smoke"]


def test_a_pill_box_heard_only_when_opened_is_not_offline_within_a_day() -> None:
    # Two doses a day, twelve hours apart, must not make it "offline" between them.
    assert SUPERVISION_BY_TYPE["dispenser"] > timedelta(hours=24)
