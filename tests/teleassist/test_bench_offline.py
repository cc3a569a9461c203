"""``teleassist bench offline-detection`` runs end to end on a few gateways: every gateway that
goes silent is marked offline, and none of the others."""

from __future__ import annotations

import json

import pytest

from teleassist.cli import main

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_bench_offline_detection_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "offline-detection", "--gateways", "20",
         "--vanish", "3", "--keepalive", "5", "--check-s", "1"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["vanished"] == 3
    assert figures["detected"] == 3  # none missed
    # The gateways still talking stay online (they beat every 5 s, watched at 7.5 s).
    assert figures["false_offline"] == 0
    assert figures["detect_p99_s"] is not None
