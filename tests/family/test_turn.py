"""TURN credentials from the hub work on a real coturn (started on a free port)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import aioice.turn
import pytest

from hub.family.calls.ice import turn_credentials
from teleassist.localbroker import free_port
from tests.instants import machine_now

SECRET = "test-turn-secret"


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``turnserver`` with the REST-API secret on a free UDP port of 127.0.0.1."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("coturn is not installed; run scripts/setup")
    port = free_port()
    folder = tmp_path_factory.mktemp("coturn")
    log = (folder / "turn.log").open("wb")
    process = subprocess.Popen(
        [
            binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
            "--realm=teleassist.test", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
            "--min-port=49500", "--max-port=49600", f"--pidfile={folder / 'turn.pid'}",
            "--log-file=stdout", "--simple-log", "--allow-loopback-peers",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _allocate(port: int, username: str, password: str) -> tuple[str, int]:
    transport, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol, ("127.0.0.1", port), username, password, lifetime=60
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_hub_credentials_allocate_a_relay(coturn: int) -> None:
    # coturn checks the credential's expiry against the machine's clock.
    user, password = turn_credentials(SECRET, "u:1", machine_now(), 600)
    # coturn may take a moment to bind: retry the first allocation briefly.
    for attempt in range(20):
        try:
            host, port = await asyncio.wait_for(_allocate(coturn, user, password), 10)
            break
        except (ConnectionError, OSError, TimeoutError):
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
    assert host == "127.0.0.1"
    assert 49500 <= port <= 49600


async def test_wrong_or_expired_credentials_are_refused(coturn: int) -> None:
    await asyncio.wait_for(
        _allocate(coturn, *turn_credentials(SECRET, "u:1", machine_now(), 600)), 30
    )
    bad = turn_credentials("another-secret", "u:1", machine_now(), 600)
    with pytest.raises(Exception, match=r"401|Unauthorized|Integrity"):
        await asyncio.wait_for(_allocate(coturn, *bad), 30)
    expired = turn_credentials(SECRET, "u:1", datetime(2020, 1, 1, tzinfo=UTC), 60)
    with pytest.raises(Exception, match=r"401|Unauthorized"):
        await asyncio.wait_for(_allocate(coturn, *expired), 30)
