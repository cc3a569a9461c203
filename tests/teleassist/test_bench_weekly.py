"""The weekly-signals benchmark on a tiny population: it seeds, runs twice, prints figures."""

from __future__ import annotations

import argparse

import pytest

from teleassist.bench import weekly
from teleassist.config import Config


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    weekly.add_arguments(parser)
    return parser.parse_args(["--residents", "3", "--weeks", "5", "--per-hour", "1", *extra])


def test_the_benchmark_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert weekly.run(_args("--batch-size", "2"), Config()) == 0
    lines = dict(line.split(": ") for line in capsys.readouterr().out.splitlines())
    assert lines["residents"] == "3"
    assert lines["device_events"] == str(3 * 5 * 7 * 11)
    assert int(lines["first_run_events"]) >= 3  # an activity summary a resident at least
    assert lines["second_run_events"] == "0"


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(SystemExit, match="weeks"):
        weekly.run(_args("--weeks", "2"), Config())
