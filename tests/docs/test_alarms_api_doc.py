"""docs/alarms-api.md shows the alarm object the API sends (issue 20: its ``emergency`` once
named fields the hub did not send). Every field of ``AlarmView`` and of its ``emergency``
must be in the page's example, and the example's ``emergency`` no field the hub lacks."""

from __future__ import annotations

import re
from pathlib import Path

from hub.alarms.views import AlarmView, EmergencyView

DOC = Path(__file__).resolve().parents[2] / "docs" / "alarms-api.md"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split("```json", 1)[1].split("```", 1)[0]


def _keys(text: str) -> set[str]:
    return set(re.findall(r'"([a-z_0-9]+)"\s*:', text))


def test_every_field_of_the_alarm_is_in_the_example() -> None:
    assert set(AlarmView.__struct_fields__) - _keys(_example()) == set()


def test_the_emergency_example_is_the_emergency_view() -> None:
    example = _example()
    emergency = example[example.index('"emergency"') :]
    emergency = emergency[: emergency.index("}") + 1]
    assert _keys(emergency) - {"emergency"} == set(EmergencyView.__struct_fields__)


def test_the_check_sees_a_wrong_field() -> None:
    wrong = _example().replace('"delivered"', '"status"')
    emergency = wrong[wrong.index('"emergency"') :]
    emergency = emergency[: emergency.index("}") + 1]
    assert _keys(emergency) - {"emergency"} != set(EmergencyView.__struct_fields__)
