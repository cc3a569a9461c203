"""``teleassist bench ingest`` runs end to end on a tiny fleet and prints its JSON line."""

from __future__ import annotations

import json

import pytest

from teleassist.cli import main

pytestmark = pytest.mark.broker


def test_bench_ingest_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--log-level",
            "WARNING",
            "bench",
            "ingest",
            "--homes",
            "5",
            "--messages",
            "2000",
            "--publishers",
            "1",
            "--rounds",
            "2",
        ]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    for key in (
        "hub_msgs_per_s",
        "baseline_msgs_per_s",
        "ratio",
        "lost",
        "duplicates_dropped",
        "p99_ingest_ms",
        "rss_mb",
    ):
        assert key in figures
    assert figures["lost"] == 0
    assert figures["events_lost"] == 0
    assert figures["devices"] == 40
    # Two interleaved rounds: medians with their spread, nothing lost in either.
    assert figures["rounds"] == 2
    assert figures["hub_min"] <= figures["hub_msgs_per_s"] <= figures["hub_max"]
    assert figures["baseline_min"] <= figures["baseline_msgs_per_s"] <= figures["baseline_max"]
    assert figures["ratio_min"] <= figures["ratio"] <= figures["ratio_max"]
