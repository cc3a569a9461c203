"""A private VictoriaMetrics process on a free port (tests, benchmarks, the demo)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.ports import free_port, wait_for_port

BINARY = "victoria-metrics"


def victoria_metrics_path() -> str | None:
    """Where the ``victoria-metrics`` binary is (Debian package ``victoria-metrics``)."""
    return shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin:/usr/local/bin")


@dataclass
class VictoriaMetricsProcess:
    """A running VictoriaMetrics; ``url`` is its HTTP address."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """Base URL (writes at ``/api/v2/write``, reads at ``/api/v1/...``)."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running_victoria_metrics(
    directory: Path, retention: str = "100y"
) -> Iterator[VictoriaMetricsProcess]:
    """Start VictoriaMetrics with its data under ``directory`` keeping ``retention`` (its
    ``-retentionPeriod``: samples older than that are refused); stop it on exit."""
    binary = victoria_metrics_path()
    if binary is None:
        raise FileNotFoundError(
            "victoria-metrics is not installed (apt-get install victoria-metrics)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (directory / "victoria-metrics.log").open("ab")
    process = subprocess.Popen(
        [
            binary,
            f"-storageDataPath={directory / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-retentionPeriod={retention}",
            "-loggerLevel=ERROR",
        ],
        stdout=log,
        stderr=log,
    )
    log.close()
    vm = VictoriaMetricsProcess(port, process)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield vm
    finally:
        vm.stop()
