"""Several hub workers as local processes on one database and one broker.

For the scale tests and ``teleassist bench fanout``: each :class:`HubWorker` is a real
``teleassist hub serve`` on a free port with its own MQTT client id, sharing the
subscription group, the database and the signing secrets with the others — the shape of
docs/scale.md on one machine. Calls block (``subprocess``, ``urllib``); async callers use
``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from teleassist.localbroker import free_port

ROOT = Path(__file__).resolve().parents[1]


def cluster_env(database_url: str, broker_port: int, **extra: str) -> dict[str, str]:
    """Environment every worker of one cluster shares (fresh secrets per cluster)."""
    return {
        **os.environ,
        "TELEASSIST_MQTT__HOST": "127.0.0.1",
        "TELEASSIST_MQTT__PORT": str(broker_port),
        "TELEASSIST_HUB__DATABASE_URL": database_url,
        "TELEASSIST_HUB__JWT_SECRET": secrets.token_urlsafe(32),
        "TELEASSIST_HUB__KEYSAFE_KEY": Fernet.generate_key().decode(),
        "TELEASSIST_HUB__METRICS_TOKEN": secrets.token_urlsafe(16),
        **extra,
    }


class HubWorker:
    """One ``teleassist hub serve`` process of a cluster."""

    def __init__(
        self, name: str, env: Mapping[str, str], work: Path, *, ingest: bool = True
    ) -> None:
        self.name = name
        self.port = free_port()
        self.client_id = f"hub-{name}"
        self.env = {
            **env,
            "TELEASSIST_HUB__HTTP_PORT": str(self.port),
            "TELEASSIST_HUB__DATA_DIR": str(work / name),
            "TELEASSIST_HUB__INGEST_CLIENT_ID": self.client_id,
            "TELEASSIST_HUB__INGEST_ENABLED": "true" if ingest else "false",
        }
        self.log = work / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The worker's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def listener_name(self) -> str:
        """``application_name`` of its alarm fan-out connection (``pg_stat_activity``)."""
        return f"teleassist-fanout {self.client_id}"

    def start(self, timeout: float = 120.0) -> None:
        """Start the process and wait until ``/readyz`` answers 200."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "teleassist", "hub", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited; see {self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {self.name} not ready after {timeout} s")
            time.sleep(0.2)

    def ready(self) -> bool:
        """Whether ``/readyz`` answers 200 (database up and, if ingesting, subscribed)."""
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=10):  # noqa: S310 (http)
                return True
        except (OSError, urllib.error.URLError):  # 503 included: not subscribed yet
            return False

    def metric(self, name: str) -> float:
        """One unlabelled figure of the worker's ``/metrics`` (0 when absent)."""
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1)
            f"{self.url}/metrics",
            headers={"Authorization": f"Bearer {self.env['TELEASSIST_HUB__METRICS_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http)
            for line in reply.read().decode().splitlines():
                if line.split(" ")[0] in (name, f"{name}_total"):
                    return float(line.split()[-1])
        return 0.0

    def kill(self) -> None:
        """SIGKILL: the worker dies without warning."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean stop), SIGKILL if it does not end in ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
