"""``teleassist bench restart`` runs end to end on a few homes: after SIGKILL the new hub
has every open alarm back on the queue and the first panic after the restart arrives."""

from __future__ import annotations

import json

import pytest

from teleassist.cli import main

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_bench_restart_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "restart", "--homes", "30", "--open-alarms", "3",
         "--no-warmup"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["benchmark"] == "restart"
    assert figures["open_alarms_after"] == figures["open_alarms_before"] == 3  # none lost
    assert figures["restart_s"] > 0
    assert figures["first_panic_ms"] > 0  # it arrived (the bench fails otherwise)
