"""Start a private MQTT broker: Mosquitto when installed, otherwise amqtt in-process.

Used by the demo, the benchmarks and the tests, which all need a broker of their own on
a free port rather than whatever runs on 1883.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.ports import free_port as free_port
from config.ports import wait_for_port as wait_for_port

MOSQUITTO = "mosquitto"


def mosquitto_available() -> bool:
    """True when the ``mosquitto`` binary is on the PATH (or in /usr/sbin)."""
    return mosquitto_path() is not None


def mosquitto_path() -> str | None:
    """Where the ``mosquitto`` binary is, if anywhere."""
    return shutil.which(MOSQUITTO) or shutil.which(MOSQUITTO, path="/usr/sbin:/usr/local/sbin")


@dataclass
class MosquittoBroker:
    """A Mosquitto process with its own configuration, on a port of its own."""

    port: int
    config_file: Path
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        binary = mosquitto_path()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed")
        log = self.config_file.with_suffix(".log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config_file)], stdout=log, stderr=log
        )
        log.close()
        try:
            wait_for_port(self.host, self.port, timeout)
        except BaseException:
            # Whatever stopped the wait (a timeout, an interrupt, a failing clock call), the
            # caller never gets the broker to stop: stop it here, or it outlives the tests.
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the broker abruptly, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def reload(self) -> None:
        """Ask Mosquitto to re-read its password and ACL files (SIGHUP)."""
        if self.process is not None:
            self.process.send_signal(1)


def write_mosquitto_config(
    directory: Path,
    port: int,
    *,
    extra: str = "",
    max_queued_messages: int = 100_000,
) -> Path:
    """Write a minimal anonymous config for a private broker; return its path."""
    conf = directory / "mosquitto.conf"
    conf.write_text(
        "\n".join(
            [
                "per_listener_settings false",
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                # Benchmarks publish faster than a slow subscriber drains; keep the
                # queue explicit so drops are a measured fact, not a default.
                f"max_queued_messages {max_queued_messages}",
                "max_inflight_messages 100",
                "log_type error",
                "log_type warning",
                extra,
                "",
            ]
        ),
        encoding="utf-8",
    )
    return conf


@contextlib.contextmanager
def running_mosquitto(
    directory: Path | None = None, *, port: int | None = None, extra: str = ""
) -> Iterator[MosquittoBroker]:
    """Run a private Mosquitto for the duration of a ``with`` block."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ta-mqtt-")))
        chosen = port or free_port()
        broker = MosquittoBroker(chosen, write_mosquitto_config(directory, chosen, extra=extra))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


class EmbeddedBroker:
    """amqtt running inside this process's event loop, for machines without Mosquitto.

    It does not enforce per-device authentication or ACLs; production uses Mosquitto.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port()
        self._broker: Any = None

    async def start(self) -> None:
        """Start listening."""
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()

    async def stop(self) -> None:
        """Stop listening and drop every session."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


class ThreadedEmbeddedBroker:
    """:class:`EmbeddedBroker` on its own event loop in a thread.

    The demo's hub and simulated homes keep their loop busy; a broker sharing that loop
    would stall with them, so the fallback broker gets a loop of its own.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.broker = EmbeddedBroker(port, host)
        self.host = host
        self.port = self.broker.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker thread and wait until the port accepts connections."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.broker.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.broker.stop())
            loop.close()

        self._thread = threading.Thread(target=serve, name="embedded-mqtt", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the embedded broker did not start")
        wait_for_port(self.host, self.port, timeout)

    def stop(self) -> None:
        """Stop the loop (the broker shuts down on its way out) and join the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None


async def wait_for_port_async(host: str, port: int) -> None:
    """Async twin of :func:`wait_for_port`; bound it with ``asyncio.timeout``."""
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return
