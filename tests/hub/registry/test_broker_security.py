"""The project's Mosquitto config + hub-written password file and ACL, enforced for real."""

from __future__ import annotations

import queue
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography.fernet import Fernet
from paho.mqtt.enums import CallbackAPIVersion

from hub.db import make_engine, make_sessionmaker
from hub.db.crypto import KeySafeCipher
from hub.registry.broker import BrokerSecurity, render_acl
from hub.registry.credentials import mosquitto_hash, verify_mosquitto_hash
from hub.registry.service import DeviceCredentials, create_home, provision_device, revoke_device
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, free_port

pytestmark = pytest.mark.broker

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto"
HUB_PASSWORD = "hub-test-password"


def project_config(directory: Path, port: int) -> tuple[Path, Path, Path]:
    """deploy/mosquitto/mosquitto.conf with paths and listeners moved to ``directory``."""
    passwd, acl = directory / "passwd", directory / "acl"
    out = []
    skip_tls = False
    for line in (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8").splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            skip_tls = "8883" in line
            if not skip_tls:
                out.append(f"listener {port} 127.0.0.1")
            continue
        if skip_tls and key in {"certfile", "keyfile", "cafile", "require_certificate"}:
            continue
        if key == "password_file":
            out.append(f"password_file {passwd}")
        elif key == "acl_file":
            out.append(f"acl_file {acl}")
        elif key == "persistence_location":
            data = directory / "data"
            data.mkdir(mode=0o777)
            data.chmod(0o777)  # Mosquitto started as root runs as the mosquitto user
            out.append(f"persistence_location {data}/")
        elif key == "log_dest":
            out.append("log_dest stderr")
        else:
            out.append(line)
    directory.chmod(0o755)
    conf = directory / "mosquitto.conf"
    conf.write_text("\n".join(out) + "\n", encoding="utf-8")
    return conf, passwd, acl


class Client:
    """A paho client (network thread) that records what it receives."""

    def __init__(self, port: int, username: str, password: str, client_id: str | None = None):
        self.received: queue.Queue[str] = queue.Queue()
        self.connack: queue.Queue[object] = queue.Queue()
        self.suback: queue.Queue[list[object]] = queue.Queue()
        self.disconnected = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username)
        c.username_pw_set(username, password)
        c.on_connect = lambda *a: self.connack.put(a[3])
        c.on_message = lambda _c, _u, m: self.received.put(m.topic)
        c.on_subscribe = lambda _c, _u, _m, reasons, _p: self.suback.put(list(reasons))
        c.on_disconnect = lambda *a: self.disconnected.set()
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        self.reason = self.connack.get(timeout=10)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure  # type: ignore[attr-defined]

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b"{}", qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A directory the broker's own user can read (pytest's tmp dirs are private to root)."""
    with tempfile.TemporaryDirectory(prefix="ta-broker-") as name:
        yield Path(name)


def test_hash_matches_mosquitto_format() -> None:
    stored = mosquitto_hash("s3cret")
    assert re.fullmatch(r"\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", stored)
    assert verify_mosquitto_hash(stored, "s3cret")
    assert not verify_mosquitto_hash(stored, "other")


def test_acl_gives_gateways_their_sensors() -> None:
    acl = render_acl("pattern write ta/v1/d/%u/event", {"gw1": ["s1"]})
    assert "user gw1\ntopic write ta/v1/d/s1/telemetry" in acl
    assert "topic read ta/v1/c/s1/#" in acl


async def test_broker_enforces_per_device_security(database_url: str, broker_dir: Path) -> None:
    tag = secrets.token_hex(3)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    cipher = KeySafeCipher(Fernet.generate_key().decode())
    creds: dict[str, DeviceCredentials] = {}
    async with sessions() as session:
        home = await create_home(session, address="Carrer Test 2", cipher=cipher, actor="t")
        for name, kind, gateway in (
            ("a", "pendant", None),
            ("b", "pendant", None),
            ("gw", "gateway", None),
            ("s", "motion", "gw"),
        ):
            _, creds[name] = await provision_device(
                session,
                device_id=f"{tag}-{name}",
                home_id=home.id,
                device_type=kind,
                gateway_id=f"{tag}-{gateway}" if gateway else None,
                actor="t",
            )
        await session.commit()

    port = free_port()
    conf, passwd, acl = project_config(broker_dir, port)
    broker = MosquittoBroker(port, conf)
    security = BrokerSecurity(
        passwd_file=passwd,
        acl_file=acl,
        acl_template=(DEPLOY / "acl").read_text(encoding="utf-8"),
        hub_account=MqttSettings(
            host="127.0.0.1", port=port, username="hub", password=HUB_PASSWORD
        ),
        reload=broker.reload,
        file_mode=0o644,
    )
    async with sessions() as session:
        assert await security.sync(session)  # files exist before the broker starts
        assert not await security.sync(session)  # nothing changed: no rewrite, no reload
    broker.start()
    clients: list[Client] = []

    def connect(name: str, password: str | None = None, client_id: str | None = None) -> Client:
        user = "hub" if name == "hub" else f"{tag}-{name}"
        secret = (
            password
            if password is not None
            else (HUB_PASSWORD if name == "hub" else creds[name].secret)
        )
        c = Client(port, user, secret, client_id)
        clients.append(c)
        return c

    try:
        hub = connect("hub")
        assert hub.accepted
        hub.client.subscribe("ta/v1/d/#", qos=1)
        hub.suback.get(timeout=10)
        assert not connect("a", password="wrong").accepted
        assert not Client(port, "stranger", "x", "stranger").accepted

        a = connect("a")
        assert a.accepted
        a.publish(f"ta/v1/d/{tag}-b/event")  # writing as another device: dropped
        a.publish(f"ta/v1/d/{tag}-a/event")  # its own topic: delivered
        assert hub.received.get(timeout=10) == f"ta/v1/d/{tag}-a/event"

        a.client.subscribe("#", qos=1)
        reasons = a.suback.get(timeout=10)
        b = connect("b")
        b.publish(f"ta/v1/d/{tag}-b/telemetry")
        assert hub.received.get(timeout=10) == f"ta/v1/d/{tag}-b/telemetry"
        # Whatever the SUBACK said, a device never reads another device's topics.
        assert a.received.empty(), (reasons, a.received.queue)

        gw = connect("gw")
        gw.publish(f"ta/v1/d/{tag}-s/event")  # its relayed sensor: allowed
        assert hub.received.get(timeout=10) == f"ta/v1/d/{tag}-s/event"
        gw.publish(f"ta/v1/d/{tag}-a/event")  # not its sensor: dropped
        b.publish(f"ta/v1/d/{tag}-b/event")
        assert hub.received.get(timeout=10) == f"ta/v1/d/{tag}-b/event"

        # Revocation: the broker forgets the account and the live session is ended.
        async with sessions() as session:
            await revoke_device(session, f"{tag}-a", actor="t", reason="lost")
            await session.commit()
            assert await security.sync(session)
        assert await security.kick(
            f"{tag}-a",
            MqttSettings(host="127.0.0.1", port=port, username="hub", password=HUB_PASSWORD),
        )
        assert a.disconnected.wait(10)
        a.client.loop_stop()
        again = connect("a")
        assert not again.accepted
    finally:
        for c in clients:
            c.close()
        broker.stop()
        await engine.dispose()
