"""The telemetry disk benchmark on a tiny population: it writes, merges, measures, prints."""

from __future__ import annotations

import argparse
import json

import pytest

from teleassist.bench import timeseries_disk
from teleassist.config import Config


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    timeseries_disk.add_arguments(parser)
    return parser.parse_args(["--devices", "2", "--kinds", "2", "--hours", "1", *extra])


def test_the_benchmark_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert timeseries_disk.run(_args("--every-s", "30"), Config()) == 0
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert figures["points"] == 2 * 2 * 120
    assert figures["series"] == 4
    assert figures["bytes"] > 0
    assert figures["bytes_per_point"] == round(figures["bytes"] / figures["points"], 3)


@pytest.mark.parametrize(
    "bad",
    [("--devices", "0"), ("--kinds", "7"), ("--kinds", "0"), ("--every-s", "0"), ("--hours", "0")],
)
def test_bad_sizes_are_refused(bad: tuple[str, str]) -> None:
    with pytest.raises(SystemExit, match="timeseries-disk"):
        timeseries_disk.run(_args(*bad), Config())
