"""``teleassist bench fanout`` runs end to end with two workers: every panic raised on the
first worker reaches the other worker's operator socket, and the figures are ordered."""

from __future__ import annotations

import json

import pytest

from teleassist.cli import main

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]


def test_bench_fanout_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "fanout", "--workers", "2", "--alarms", "5",
         "--rate", "20"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["workers"] == 2
    assert figures["alarms_sent"] == 5
    assert figures["seen_everywhere"] == 5  # none lost on the way across
    # (A value below zero: the other worker's socket had it before the raising worker's.)
    assert figures["fanout_p50_ms"] <= figures["fanout_p99_ms"] <= figures["fanout_max_ms"], figures


def test_bench_fanout_needs_two_workers() -> None:
    with pytest.raises(SystemExit):
        main(["bench", "fanout", "--workers", "1"])
