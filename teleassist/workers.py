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

from config.ports import listen_port

ROOT = Path(__file__).resolve().parents[1]
PORT_ATTEMPTS = 3  # starts of one worker whose free HTTP port was taken meanwhile
TAIL_LINES = 30


def _tail(log: Path, offset: int) -> str:
    """The last lines the process wrote to ``log`` from ``offset`` on."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def _port_taken(tail: str, port: int) -> bool:
    """Whether the worker's log says its HTTP port was in use (errno 98, EADDRINUSE)."""
    return "address already in use" in tail.lower() and str(port) in tail


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
        self.port = listen_port()
        self.client_id = f"hub-{name}"
        self.env: dict[str, str] = {
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
        """Start the process and wait until ``/readyz`` answers 200.

        The HTTP port is chosen free but bound only once the worker has started up (seconds,
        while it and the broker open dozens of outgoing connections, any of which may take
        that port as its local one): a worker that exits because its port was taken is
        started again on another port (at most :data:`PORT_ATTEMPTS` times). Any other exit
        raises with the exit code and the end of its log.
        """
        deadline = time.monotonic() + timeout
        for attempt in range(1, PORT_ATTEMPTS + 1):
            offset = self.log.stat().st_size if self.log.exists() else 0
            self._spawn()
            assert self.process is not None
            while not self.ready():
                code = self.process.poll()
                if code is not None:
                    tail = _tail(self.log, offset)
                    if _port_taken(tail, self.port) and attempt < PORT_ATTEMPTS:
                        self._move_port()
                        break
                    raise RuntimeError(
                        f"worker {self.name} exited with {code}; see {self.log}:\n{tail}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker {self.name} not ready after {timeout} s")
                time.sleep(0.2)
            else:
                return

    def _spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "teleassist", "hub", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )

    def _move_port(self) -> None:
        self.port = listen_port()
        self.env["TELEASSIST_HUB__HTTP_PORT"] = str(self.port)

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
