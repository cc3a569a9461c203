"""Which device type may send which event."""

from __future__ import annotations

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
    ],
)
def test_events_by_device_type(device_type: str, event: str, allowed: bool) -> None:
    assert event_allowed(device_type, event) is allowed


def test_gas_detectors_are_supervised_like_other_life_safety_sensors() -> None:
    assert SUPERVISION_BY_TYPE["gas"] == SUPERVISION_BY_TYPE["smoke"]
