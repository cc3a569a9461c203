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
