"""The serial/GPIO line protocol."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import protocol
from device_agent.sources.base import Reading
from device_agent.sources.lines import LineError, LineSource, parse_line


def test_lines_become_contract_bodies() -> None:
    rooms = {"h1-pendant": "living"}
    panic = parse_line("h1-pendant panic source=pendant", rooms)
    assert panic is not None
    assert panic.body == protocol.Panic(source="pendant", room="living")
    temp = parse_line("h1-temp telemetry temperature 21.5 Cel  # living room")
    assert temp is not None
    assert temp.body == protocol.Telemetry(kind="temperature", value=21.5, unit="Cel")
    smoke = parse_line("h1-smoke smoke cleared=true room=kitchen")
    assert smoke is not None
    assert smoke.body == protocol.Smoke(cleared=True, room="kitchen")
    assert parse_line("   # just a comment") is None


@pytest.mark.parametrize(
    ("line", "schedule"),
    [
        ('h1-dispenser medication_taken schedule="insulin 08:00"', "insulin 08:00"),
        ("h1-dispenser medication_taken schedule='insulin 08:00' # the box", "insulin 08:00"),
        ("h1-dispenser medication_taken schedule=08:00", "08:00"),
        # A text field stays text, even when it looks like a number.
        ("h1-dispenser medication_taken schedule=0800", "0800"),
        ("h1-dispenser medication_taken schedule=", ""),
        ('h1-dispenser medication_taken schedule=""', ""),
        ('h1-dispenser medication_taken schedule="pill #2"', "pill #2"),
    ],
)
def test_a_dispenser_names_its_dose_as_well_as_it_knows_it(line: str, schedule: str) -> None:
    reading = parse_line(line, {"h1-dispenser": "kitchen"})
    assert reading is not None
    assert reading.device_id == "h1-dispenser"
    assert reading.body == protocol.MedicationTaken(schedule=schedule, room="kitchen")


def test_a_dispenser_reports_a_dose_not_taken() -> None:
    reading = parse_line('h1-dispenser medication_missed schedule="insulin 20:00"')
    assert reading is not None
    assert reading.body == protocol.MedicationMissed(schedule="insulin 20:00")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("h1-pendant", "expected"),
        ("bad/id panic", "'/'"),
        ("h1-x explode", "unknown event type"),
        ("h1-x panic source=rocket", "source"),
        ("h1-x temperature celsius=500", "celsius"),
        ("h1-x panic oops", "key=value"),
        ("h1-x telemetry temperature", "telemetry needs"),
        ("h1-x telemetry temperature hot", "value"),
        ('h1-x medication_taken schedule="insulin 08:00', "no closing quotation"),
        ("h1-x medication_taken", "schedule"),
        ("h1-x medication_taken schedule=" + "x" * 41, "length"),
    ],
)
def test_bad_lines_say_why(line: str, fragment: str) -> None:
    with pytest.raises(LineError, match=fragment):
        parse_line(line)


async def test_source_reads_a_stream_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "serial.txt"
    path.write_text("h1-pendant panic\nthis is noise\nh1-door door_open door=front\n")
    source = LineSource(path)
    got: list[Reading] = []

    async def sink(reading: Reading) -> None:
        got.append(reading)

    async with asyncio.timeout(10):
        await source.run(sink)
    assert [protocol.event_type(r.body) for r in got] == ["panic", "door_open"]  # type: ignore[arg-type]
    assert source.rejected == 1
