"""Contact ID and SIA DCS codes → our kinds (the standards' codes)."""

from __future__ import annotations

import pytest

from integrations.carephones.dc09 import EventCode
from integrations.carephones.mapping import map_event, parse_zones


def cid(code: str, qualifier: str = "1", zone: str = "001") -> EventCode:
    return EventCode("ADM-CID", code, qualifier, zone, "01", f"{qualifier}{code} 01 {zone}")


def sia(code: str, zone: str = "1") -> EventCode:
    return EventCode("SIA-DCS", code, None, zone, "1", f"{code}{zone}")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("100", "medical"),
        ("101", "panic"),
        ("102", "fail_to_report"),
        ("110", "fire"),
        ("111", "smoke"),
        ("114", "heat"),
        ("162", "co"),
        ("151", "gas"),
        ("154", "water_leak"),
        ("158", "temperature_high"),
        ("159", "temperature_low"),
        ("301", "power_lost"),
        ("302", "low_battery"),
        ("384", "rf_low_battery"),
        ("383", "tamper"),
        ("144", "tamper"),
        ("145", "tamper"),
        ("137", "tamper"),
        ("381", "rf_supervision"),
        ("602", "test"),
        ("999", "unknown"),
        ("1A0", "unknown"),
    ],
)
def test_contact_id_codes(code: str, kind: str) -> None:
    mapped = map_event(cid(code))
    assert (mapped.kind, mapped.restore, mapped.code) == (kind, False, f"E{code}")


def test_contact_id_qualifier_3_is_a_restore() -> None:
    mapped = map_event(cid("301", "3"))
    assert (mapped.kind, mapped.restore, mapped.code) == ("power_lost", True, "R301")
    # Qualifier 6 (still present) reports the condition again, not its end.
    assert not map_event(cid("301", "6")).restore


@pytest.mark.parametrize(
    ("code", "kind", "restore"),
    [
        ("MA", "medical", False),
        ("PA", "panic", False),
        ("QA", "panic", False),
        ("FA", "fire", False),
        ("GA", "gas", False),
        ("KA", "heat", False),
        ("WA", "water_leak", False),
        ("ZA", "temperature_low", False),
        ("AT", "power_lost", False),
        ("AR", "power_lost", True),
        ("YT", "low_battery", False),
        ("YR", "low_battery", True),
        ("XT", "rf_low_battery", False),
        ("XR", "rf_low_battery", True),
        ("TA", "tamper", False),
        ("TR", "tamper", True),
        ("RP", "test", False),
        ("MH", "medical", True),
        ("ZZ", "unknown", False),
    ],
)
def test_sia_codes(code: str, kind: str, restore: bool) -> None:
    mapped = map_event(sia(code))
    assert (mapped.kind, mapped.restore, mapped.code) == (kind, restore, code)


def test_a_fall_detector_zone_turns_its_alarm_into_a_fall() -> None:
    zones = parse_zones(" 3, 004 ,")
    assert zones == frozenset({"3", "4"})
    assert map_event(cid("100", zone="003"), zones).kind == "fall"
    assert map_event(cid("101", zone="004"), zones).kind == "fall"
    assert map_event(cid("101", zone="005"), zones).kind == "panic"
    assert map_event(sia("MA", zone="3"), zones).kind == "fall"
    # Only personal/medical alarms: the detector's low battery stays a low battery.
    assert map_event(cid("384", zone="003"), zones).kind == "rf_low_battery"
