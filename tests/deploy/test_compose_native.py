"""docker-compose.yml started for real without Docker (tests/deploy/nativecompose.py), then
the smoke path a site installer walks: a home provisioned, its pendant connecting to the
devices' TLS listener with its own credentials, a panic reaching an operator's socket, and a
device added afterwards connecting while nothing restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aioice.stun
import aioice.turn
import paho.mqtt.client as paho
import pytest
from cryptography.fernet import Fernet
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

import protocol
from hub.db import make_engine, make_sessionmaker
from hub.db.models import AuditEntry
from teleassist.localbroker import wait_for_port
from tests.deploy.nativecompose import ROOT, NativeCompose, running
from tests.deploy.selfsigned import write_certificate
from tests.instants import machine_now

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.slow,
    # One native stack at a time (this and test_backup_native.py), on one pytest-xdist worker.
    pytest.mark.xdist_group("native-compose"),
]

WAIT_S = 60.0


def site_secrets() -> dict[str, str]:
    """What an installer puts in ``.env`` (docs/deployment.md, "Secrets")."""
    return {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "HUB_MQTT_PASSWORD": secrets.token_urlsafe(24),
        "JWT_SECRET": secrets.token_urlsafe(32),
        "KEY_SAFE_KEY": Fernet.generate_key().decode(),
        "BROKER_PUBLIC_NAME": "localhost",
        "HUB_PUBLIC_URL": "https://hub.example.org",
        "TURN_SECRET": secrets.token_urlsafe(32),
        "TURN_PUBLIC_NAME": "turn.example.org",
        "METRICS_TOKEN": secrets.token_urlsafe(32),
    }


def sandbox_folder() -> Path:
    """A folder the services' own users (mosquitto, postgres) can enter: not pytest's."""
    folder = Path(tempfile.mkdtemp(prefix="ta-compose-"))
    folder.chmod(0o755)
    return folder


@contextlib.contextmanager
def started_stack(site: dict[str, str], only: set[str] | None = None) -> Iterator[NativeCompose]:
    """The compose file running natively with ``site``'s secrets (``only`` some services),
    the hub listening if it was started."""
    folder = sandbox_folder()
    write_certificate(folder / "certs")
    try:
        with running(folder / "stack", site, folder / "certs", only) as native:
            try:
                if "hub" in native.stack.services:
                    hub_listening(native)
                yield native
            except BaseException:
                # The sandbox goes with the test: show what each service said (pytest prints
                # a failed test's output).
                for name in native.stack.services:
                    print(f"---- {name}\n{native.log(name, 4000)}")
                raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hub_listening(native: NativeCompose) -> None:
    """Wait until the hub accepts connections (fail with its log if it stopped)."""
    try:
        wait_for_port("127.0.0.1", native.stack.port("hub", 8080), timeout=WAIT_S)
    except TimeoutError:
        pytest.fail(native.failure("hub"))


@pytest.fixture(scope="module")
def site() -> dict[str, str]:
    return site_secrets()


@pytest.fixture(scope="module")
def stack(site: dict[str, str]) -> Iterator[NativeCompose]:
    with started_stack(site) as native:
        yield native


def test_every_mount_path_and_variable_of_the_file_is_used(stack: NativeCompose) -> None:
    assert stack.stack.problems == []
    assert stack.unused_mounts() == []
    assert set(stack.stack.services) == set(stack.stack.spec["services"])
    for name, service in stack.stack.services.items():
        if service.process is not None:
            assert service.process.poll() is None, stack.failure(name)


def hub_command(native: NativeCompose, *args: str, stdin: str = "", status: int = 0) -> str:
    """``docker compose exec hub teleassist hub ARGS``: the hub's environment, natively;
    its output (stderr when ``status`` is not 0, which it must be)."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **native.stack.env["hub"]}
    result = subprocess.run(
        [sys.executable, "-m", "teleassist", "hub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == status, result.stderr
    return result.stdout if status == 0 else result.stderr


def through_the_proxy(native: NativeCompose) -> str:
    """The site's HTTPS address: the proxy's published 443."""
    return f"https://127.0.0.1:{native.stack.port('proxy', 443)}"


def https_session(native: NativeCompose, source: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A client trusting the site's certificate, connecting from ``source`` (any 127.x)."""
    context = ssl.create_default_context(cafile=str(native.stack.certs / "hub.crt"))
    connector = aiohttp.TCPConnector(ssl=context, local_addr=(source, 0))
    return aiohttp.ClientSession(connector=connector)


def connect_device(port: int, ca: Path, device: str, password: str) -> paho.Client | str:
    """A device's TLS connection to the broker: the client, or the broker's refusal."""
    answers: queue.Queue[Any] = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=device)
    client.username_pw_set(device, password)
    client.tls_set(ca_certs=str(ca))
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.put(reason)
    try:
        client.connect("127.0.0.1", port)
    except ConnectionRefusedError as err:
        # The broker is not listening yet: start.sh starts it once the hub has written its
        # files (a restored site's hub writes them at its own start).
        return f"broker not listening: {err}"
    client.loop_start()
    reason = answers.get(timeout=WAIT_S)
    if reason.is_failure:
        client.loop_stop()
        client.disconnect()
        return str(reason)
    return client


def connect_when_admitted(port: int, ca: Path, device: str, password: str) -> paho.Client:
    """Retry until the broker listens and has re-read the files the hub wrote (start.sh polls
    them every 2 s): nothing announces the reload to a client, so this is a bounded retry."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = connect_device(port, ca, device, password)
        if not isinstance(answer, str):
            return answer
        assert time.monotonic() < deadline, f"{device} never admitted: {answer}"
        time.sleep(0.5)


def press(client: paho.Client, device: str) -> None:
    msg = protocol.envelope(protocol.Panic(), id=protocol.new_message_id(), ts=machine_now(), seq=1)
    topic = protocol.device_topic(device, protocol.Channel.EVENT)
    client.publish(topic, protocol.encode(msg), qos=1).wait_for_publish(WAIT_S)


async def login(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with http.post(
        f"{base}/api/auth/login", json={"username": user, "password": password}
    ) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["access_token"])


async def frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.TEXT, message
            data: dict[str, Any] = json.loads(message.data)
            if data.get("type") == kind:
                return data
    raise AssertionError(f"the socket closed before {kind}")


async def test_smoke_path_on_the_compose_topology(stack: NativeCompose) -> None:
    native = stack
    base = through_the_proxy(native)  # as people reach the hub: HTTPS and WSS via nginx
    devices_port = native.stack.port("mosquitto", 8883)
    ca = native.stack.certs / "server.crt"
    password = secrets.token_urlsafe(18)
    for user, role in (("installadora", "admin"), ("operadora", "operator")):
        hub_command(native, "create-user", user, "--role", role, "--password-stdin", stdin=password)
    broker = native.stack.services["mosquitto"].process
    assert broker is not None
    async with https_session(native) as http:
        admin = {"Authorization": f"Bearer {await login(http, base, 'installadora', password)}"}
        operator = {"Authorization": f"Bearer {await login(http, base, 'operadora', password)}"}
        async with http.post(
            f"{base}/api/homes", json={"address": "Carrer Major 1, Vic"}, headers=admin
        ) as response:
            assert response.status == 201, await response.text()
            home = (await response.json())["id"]

        async def add(device: str) -> str:
            async with http.post(
                f"{base}/api/devices",
                json={"id": device, "home_id": home, "type": "pendant"},
                headers=admin,
            ) as response:
                assert response.status == 201, await response.text()
                return str((await response.json())["secret"])

        first = await add("vic-pendant-1")
        async with http.ws_connect(f"{base}/api/alarms/live", headers=operator) as ws:
            await frame(ws, "snapshot")
            pendant = await asyncio.to_thread(
                connect_when_admitted, devices_port, ca, "vic-pendant-1", first
            )
            try:
                await asyncio.to_thread(press, pendant, "vic-pendant-1")
                raised = await frame(ws, "alarm.raised")
            finally:
                pendant.loop_stop()
                pendant.disconnect()
        assert raised["alarm"]["home_id"] == str(home)
        wrong = await asyncio.to_thread(
            connect_device, devices_port, ca, "vic-pendant-1", first + "x"
        )
        assert isinstance(wrong, str)

        second = await add("vic-pendant-2")
        later = await asyncio.to_thread(
            connect_when_admitted, devices_port, ca, "vic-pendant-2", second
        )
        later.loop_stop()
        later.disconnect()
    # Admitted by a reload, not a restart: the broker's process is the one started first.
    assert broker.poll() is None
    assert "reloaded" in native.stack.services["mosquitto"].log.read_text()


async def test_the_proxy_speaks_tls_with_the_security_headers(stack: NativeCompose) -> None:
    base = through_the_proxy(stack)
    async with https_session(stack) as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            headers = response.headers
        async with http.get(f"{base}/api/no-such-route") as response:
            missing = response.headers
    for answer in (headers, missing):
        assert answer.getall("Strict-Transport-Security") == ["max-age=31536000"]
        assert answer.getall("X-Content-Type-Options") == ["nosniff"]
        assert answer.getall("X-Frame-Options") == ["DENY"]
        assert answer.getall("Referrer-Policy") == ["same-origin"]
        assert "Server" not in answer or "/" not in answer["Server"]  # no version
    plain = f"http://127.0.0.1:{stack.stack.port('proxy', 80)}/console?x=1"
    async with aiohttp.ClientSession() as http, http.get(plain, allow_redirects=False) as answer:
        assert answer.status == 301
        assert answer.headers["Location"] == "https://127.0.0.1/console?x=1"


async def test_metrics_reach_prometheus_on_loopback_and_never_the_public_address(
    stack: NativeCompose, site: dict[str, str]
) -> None:
    scrape = f"http://127.0.0.1:{stack.stack.port('hub', 8080)}/metrics"
    token = {"Authorization": f"Bearer {site['METRICS_TOKEN']}"}
    async with https_session(stack) as http:
        async with http.get(scrape, headers=token) as response:
            assert response.status == 200
            assert "teleassist_mqtt_connected" in await response.text()
        async with http.get(scrape) as response:
            assert response.status in (401, 403)
        public = f"{through_the_proxy(stack)}/metrics"
        async with http.get(public, headers=token) as response:
            assert response.status == 404


async def _failed_sign_in_address(native: NativeCompose, base: str, source: str) -> str:
    """Sign in wrongly from ``source`` with a forged X-Forwarded-For; the address the hub
    recorded for that failure (its audit entry)."""
    user = f"nobody-{secrets.token_hex(4)}"
    hub_command(
        native,
        "create-user",
        user,
        "--role",
        "operator",
        "--password-stdin",
        stdin=secrets.token_urlsafe(18),
    )
    forged = {"X-Forwarded-For": "203.0.113.9"}
    async with (
        https_session(native, source) as http,
        http.post(
            f"{base}/api/auth/login",
            json={"username": user, "password": "not the password at all"},
            headers=forged,
        ) as response,
    ):
        assert response.status == 401
    engine = make_engine(native.stack.env["hub"]["TELEASSIST_HUB__DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "auth.fail", AuditEntry.actor == user)
            )
    finally:
        await engine.dispose()
    assert entry is not None
    return str(entry.details["address"])


async def test_the_hub_sees_the_clients_address_and_only_from_its_proxy(
    stack: NativeCompose,
) -> None:
    # Through the proxy (the hub trusts it: TELEASSIST_HUB__TRUSTED_PROXIES): the address
    # that connected to nginx, not what the client wrote in X-Forwarded-For.
    assert await _failed_sign_in_address(stack, through_the_proxy(stack), "127.0.0.2") == (
        "127.0.0.2"
    )
    # Straight to the hub from elsewhere (not its proxy): the header is not believed.
    direct = f"http://127.0.0.1:{stack.stack.port('hub', 8080)}"
    assert await _failed_sign_in_address(stack, direct, "127.0.0.3") == "127.0.0.3"


async def _allocate(relay: tuple[str, int], username: str, credential: str) -> tuple[str, int]:
    """A TURN allocation on ``relay``: the relayed address coturn granted."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: aioice.turn.TurnClientUdpProtocol(
            relay, username=username, password=credential, lifetime=60, channel_refresh_time=50
        ),
        remote_addr=relay,
    )
    try:
        granted: tuple[str, int] = await asyncio.wait_for(protocol.connect(), WAIT_S)
        return granted
    finally:
        transport.close()


async def test_a_callers_turn_credentials_open_the_sites_relay(stack: NativeCompose) -> None:
    """The hub and coturn share TURN_SECRET as the file wires it: the credentials the hub
    hands a family member are accepted by the compose coturn (an allocation succeeds)."""
    base = through_the_proxy(stack)
    password = secrets.token_urlsafe(18)
    hub_command(
        stack, "create-user", "familia", "--role", "family", "--password-stdin", stdin=password
    )
    async with https_session(stack) as http:
        token = await login(http, base, "familia", password)
        async with http.get(
            f"{base}/api/family/calls/config", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 200, await response.text()
            servers = (await response.json())["ice_servers"]
    (turn,) = [s for s in servers if "username" in s]
    assert turn["urls"] == ["turn:turn.example.org:3478"]
    relay = ("127.0.0.1", stack.stack.port("coturn", 3478))  # turn.example.org, here
    relayed = await _allocate(relay, turn["username"], turn["credential"])
    assert relayed[1] > 0
    # A wrong credential is refused by the same relay.
    with pytest.raises(aioice.stun.TransactionFailed, match="401"):
        await _allocate(relay, turn["username"], "d3Jvbmc=")
