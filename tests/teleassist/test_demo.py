"""The README's demo starts a broker, publishes contract telemetry and shows it arriving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.broker
@pytest.mark.parametrize("flags", [[], ["--embedded-broker"]], ids=["mosquitto", "amqtt"])
def test_demo_shows_telemetry_flowing(flags: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "demo", "--homes", "2", "--duration", "4", *flags],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    received = [line for line in result.stdout.splitlines() if line.startswith("received ")]
    assert received, result.stdout
    assert "'kind': 'temperature'" in received[0]
    assert "demo: stopped" in result.stdout
