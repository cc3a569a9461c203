"""The shipped coturn set-up: Debian's ``turnserver`` starts with deploy/coturn/turnserver.conf
through deploy/coturn/start.sh (secret from a file or the environment, never on the command
line), and its relay refuses peers on loopback and private networks while a public peer is
allowed. Loopback only: binding a channel to a peer sends nothing to it."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aioice.stun
import aioice.turn
import pytest

from hub.family.calls.ice import turn_credentials
from hub.prodcheck import coturn_problems
from teleassist.localbroker import free_port
from tests.instants import machine_now

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy/coturn/turnserver.conf"
START = ROOT / "deploy/coturn/start.sh"
SECRET = secrets.token_urlsafe(32)


def _start(folder: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    if shutil.which("turnserver") is None:
        pytest.fail("coturn is not installed; run scripts/setup")
    log = (folder / "turn.log").open("ab")
    try:
        return subprocess.Popen(
            ["/bin/sh", str(START), *extra],
            env={"PATH": os.environ["PATH"], "TURN_CONFIG": str(CONF), "TMPDIR": str(folder)}
            | {"TURN_SECRET_FILE": str(folder / "no-such-file")}
            | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """The shipped config on free loopback ports; loopback peers allowed by coturn's own
    switch, so only the config's ``denied-peer-ip`` lines can refuse 127.0.0.1."""
    folder = tmp_path_factory.mktemp("coturn")
    secret_file = folder / "turn_secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    port = free_port()
    process = _start(
        folder,
        {"TURN_SECRET_FILE": str(secret_file)},
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        "--min-port=49610", "--max-port=49700", "--no-tls", "--no-dtls",
        f"--pidfile={folder / 'turn.pid'}", f"--userdb={folder / 'turndb'}",
        "--log-file=stdout", "--simple-log", "--allow-loopback-peers",
    )  # fmt: skip
    try:
        yield port, process.pid
    finally:
        _stop(process)


async def _allocation(
    port: int,
) -> tuple[asyncio.DatagramTransport, aioice.turn.TurnClientProtocol]:
    user, password = turn_credentials(SECRET, "u:1", machine_now(), 600)
    loop = asyncio.get_running_loop()
    # coturn may take a moment to bind on a busy machine: retry the first allocation.
    for attempt in range(40):
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: aioice.turn.TurnClientUdpProtocol(
                ("127.0.0.1", port), username=user, password=password, lifetime=60,
                channel_refresh_time=50,
            ),
            remote_addr=("127.0.0.1", port),
        )  # fmt: skip
        try:
            await asyncio.wait_for(protocol.connect(), 10)
            return transport, protocol
        except (ConnectionError, OSError, TimeoutError):
            transport.close()
            if attempt == 39:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


def test_the_shipped_config_has_no_secret_and_denies_private_peers() -> None:
    text = CONF.read_text(encoding="utf-8")
    assert "static-auth-secret" not in text
    assert "change-me" not in text
    assert coturn_problems(text) == []


async def test_relay_refuses_private_peers_and_allows_public_ones(coturn: tuple[int, int]) -> None:
    port, _ = coturn
    transport, protocol = await _allocation(port)
    try:
        assert protocol.relayed_address is not None
        refused = ("127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.10", "169.254.169.254")
        for channel, peer in enumerate(refused, start=0x4000):
            with pytest.raises(aioice.stun.TransactionFailed) as err:
                await protocol.channel_bind(channel, (peer, 9))
            assert err.value.response.attributes["ERROR-CODE"][0] == 403, peer
        # The control: the same allocation may reach a public address (nothing is sent).
        await protocol.channel_bind(0x4100, ("192.0.43.10", 9))
    finally:
        transport.close()


def test_the_secret_is_not_on_the_command_line(coturn: tuple[int, int]) -> None:
    _, pid = coturn
    # The launcher (sh start.sh) execs turnserver in the same process: until it has, the
    # command line is the launcher's, which must not carry the secret either.
    deadline = time.monotonic() + 30
    while b"turnserver" not in (cmdline := Path(f"/proc/{pid}/cmdline").read_bytes()):
        assert SECRET.encode() not in cmdline
        assert time.monotonic() < deadline, cmdline
        time.sleep(0.05)  # an exec has no event to await from outside the process
    assert b"turnserver" in cmdline
    assert SECRET.encode() not in cmdline
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert SECRET.encode() not in environ


@pytest.mark.parametrize(
    "env",
    [{}, {"TURN_SECRET": "change-me"}, {"TURN_SECRET": "x" * 31}, {"TURN_SECRET": "a'b" * 20}],
    ids=["none", "placeholder-short", "short", "quote"],
)
def test_start_refuses_a_missing_or_weak_secret(tmp_path: Path, env: dict[str, str]) -> None:
    process = _start(tmp_path, env)
    assert process.wait(timeout=30) == 2
    assert "TURN" in (tmp_path / "turn.log").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("coturn.*"))  # nothing written
