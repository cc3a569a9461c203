"""Local ports: a free one to listen on, and waiting until one accepts connections.

Low in the house so that the hub (serving a page, starting a local time-series store) and
the shell (demo, benchmarks, private brokers) share one implementation.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_LISTEN_PORT = 10000
_random = random.SystemRandom()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listen_port(attempts: int = 200) -> int:
    """A free TCP port on 127.0.0.1 **outside the kernel's ephemeral range**, for a process
    that binds it only later (seconds later: a broker node, a hub worker starting up).

    :func:`free_port` takes a port from the ephemeral range and lets it go; until the server
    binds it, any outgoing connection on the machine (or another program's ``bind(0)``) may be
    given that same port, and the server then fails with "address already in use" — seen
    here with RabbitMQ nodes booting one after another on a machine shared by several test
    runs (docs/adr/0161). The kernel never hands out a port below the ephemeral range by
    itself, so only another program choosing the same port at random can collide. Falls back
    to :func:`free_port` when the range cannot be read or leaves no room below it.
    """
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port()
    if low - LOWEST_LISTEN_PORT < 1000:
        return free_port()
    for _ in range(attempts):
        port = _random.randrange(LOWEST_LISTEN_PORT, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts a TCP connection; raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)
