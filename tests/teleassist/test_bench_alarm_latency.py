"""``teleassist bench alarm-latency`` runs end to end on a few homes: every panic reaches
the operator's socket, and the bare-subscriber baseline of the same run is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teleassist.cli import main

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_bench_alarm_latency_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--log-level",
            "WARNING",
            "bench",
            "alarm-latency",
            "--homes",
            "30",
            "--alarms",
            "8",
            "--alarm-rate",
            "20",
            "--no-warmup",
        ]
    )
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["alarms_sent"] == 8
    assert figures["alarms_received"] == 8  # none lost
    assert figures["database"] == "sqlite"
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    # The baseline (a bare subscriber) timed the same presses in the same run.
    assert figures["baseline_p99_ms"] is not None
    assert figures["p99_ratio"] is not None
    assert figures["p99_ratio"] > 0


def test_bench_alarm_latency_under_load_with_probe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--load`` spins another process while measuring; ``--probe`` reads the hub's stage
    instants: every panic still arrives, each one seen at every stage of the hub."""
    probe = tmp_path / "probe.json"
    code = main(
        ["--log-level", "WARNING", "bench", "alarm-latency", "--homes", "20", "--alarms", "5",
         "--alarm-rate", "20", "--no-warmup", "--load", "1", "--probe", str(probe)]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["alarms_received"] == figures["alarms_sent"] == 5
    assert figures["load_processes"] == 1
    marks = json.loads(probe.read_text())["marks"]
    legs = figures["probe"]["legs_ms"]
    for stage in ("received", "gated", "stored", "engine", "engine_gated", "committed", "sent"):
        assert legs[stage]["p50"] is not None, stage
    assert len(marks) >= 5


def test_bench_alarm_latency_with_a_flooding_home(capsys: pytest.CaptureFixture[str]) -> None:
    """``--flood``: one home's door, motion sensor and thermometer flood while the other homes'
    panics are measured; every panic arrives and the flooding home raises its technical alarm
    ("device flooding", a device_fault)."""
    code = main(
        ["--log-level", "WARNING", "bench", "alarm-latency", "--homes", "20", "--alarms", "5",
         "--alarm-rate", "5", "--no-warmup", "--flood", "300"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["alarms_received"] == figures["alarms_sent"] == 5
    assert figures["flood_sent"] > 300
    assert "device_fault" in figures["flood_alarms"]
