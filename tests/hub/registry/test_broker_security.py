"""The project's Mosquitto config + hub-written password file and ACL, enforced for real."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub.db import make_engine, make_sessionmaker
from hub.db.crypto import KeySafeCipher
from hub.db.models import Device, Home
from hub.registry.broker import BrokerSecurity, render_acl
from hub.registry.credentials import mosquitto_hash, verify_mosquitto_hash
from hub.registry.service import (
    DeviceCredentials,
    create_home,
    issue_credentials,
    provision_device,
    revoke_device,
)
from teleassist.config import MqttSettings
from tests.hub.registry.projectbroker import DEPLOY, Client, project_config

pytestmark = pytest.mark.broker

HUB_PASSWORD = "hub-test-password"


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

    config = project_config(broker_dir)
    broker = config.broker()
    hub_broker = MqttSettings(
        host="127.0.0.1", port=config.hub_port, username="hub", password=HUB_PASSWORD
    )
    security = BrokerSecurity(
        passwd_file=config.passwd,
        hub_passwd_file=config.hub_passwd,
        acl_file=config.acl,
        acl_template=(DEPLOY / "acl").read_text(encoding="utf-8"),
        hub_account=hub_broker,
        reload=broker.reload,
        file_mode=0o644,
    )
    async with sessions() as session:
        assert await security.sync(session)  # files exist before the broker starts
        assert not await security.sync(session)  # nothing changed: no rewrite, no reload
    assert config.hub_passwd.read_text(encoding="utf-8").startswith("hub:$7$")
    assert "hub:" not in config.passwd.read_text(encoding="utf-8")
    broker.start()
    clients: list[Client] = []

    def connect(name: str, password: str | None = None, client_id: str | None = None) -> Client:
        user = "hub" if name == "hub" else f"{tag}-{name}"
        secret = (
            password
            if password is not None
            else (HUB_PASSWORD if name == "hub" else creds[name].secret)
        )
        port = config.hub_port if name == "hub" else config.device_port
        c = Client(port, user, secret, client_id)
        clients.append(c)
        return c

    try:
        hub = connect("hub")
        assert hub.accepted
        hub.client.subscribe("ta/v1/d/#", qos=1)
        hub.suback.get(timeout=10)
        assert not connect("a", password="wrong").accepted
        assert not Client(config.device_port, "stranger", "x", "stranger").accepted
        # Each kind of account exists on its own listener only.
        assert not Client(config.device_port, "hub", HUB_PASSWORD).accepted
        assert not Client(config.hub_port, f"{tag}-a", creds["a"].secret).accepted

        a = connect("a")
        assert a.accepted
        a.publish(f"ta/v1/d/{tag}-b/event")  # writing as another device: dropped
        a.publish(f"ta/v1/d/{tag}-a/event")  # its own topic: delivered
        assert hub.received.get(timeout=10).topic == f"ta/v1/d/{tag}-a/event"

        a.client.subscribe("#", qos=1)
        reasons = a.suback.get(timeout=10)
        b = connect("b")
        b.publish(f"ta/v1/d/{tag}-b/telemetry")
        assert hub.received.get(timeout=10).topic == f"ta/v1/d/{tag}-b/telemetry"
        # Whatever the SUBACK said, a device never reads another device's topics.
        assert a.received.empty(), (reasons, [m.topic for m in a.received.queue])

        gw = connect("gw")
        gw.publish(f"ta/v1/d/{tag}-s/event")  # its relayed sensor: allowed
        assert hub.received.get(timeout=10).topic == f"ta/v1/d/{tag}-s/event"
        gw.publish(f"ta/v1/d/{tag}-a/event")  # not its sensor: dropped
        b.publish(f"ta/v1/d/{tag}-b/event")
        assert hub.received.get(timeout=10).topic == f"ta/v1/d/{tag}-b/event"

        # Revocation: the broker forgets the account and, on reload, ends the live session
        # (Mosquitto 2.0.11 drops clients whose account is gone; docs/adr/0012).
        async with sessions() as session:
            await revoke_device(session, f"{tag}-a", actor="t", reason="lost")
            await session.commit()
            assert await security.sync(session)
        assert a.disconnected.wait(10)
        a.client.loop_stop()
        again = connect("a")
        assert not again.accepted
        # The hub can still end a device's session at once from its own listener: on the
        # device listener a client id is the device id, so the takeover hits that device.
        assert await security.kick(f"{tag}-b", hub_broker)
        assert b.disconnected.wait(10)
        # A new secret for the gateway: its session under the old one ends on reload.
        async with sessions() as session:
            fresh = await issue_credentials(session, f"{tag}-gw", actor="t")
            await session.commit()
            assert await security.sync(session)
        assert gw.disconnected.wait(10)
        gw.client.loop_stop()
        assert not connect("gw").accepted  # the old secret
        assert connect("gw", password=fresh.secret).accepted
    finally:
        for c in clients:
            c.close()
        broker.stop()
        await engine.dispose()


async def test_only_valid_device_ids_get_broker_accounts(
    database_url: str, broker_dir: Path
) -> None:
    """A device row whose id is not a valid device id, or is the hub's username, gets no
    account: on the device listener the username is the client id and the ACL's ``%u``."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    secret_hash = mosquitto_hash("x")
    try:
        async with sessions() as session:
            home = Home(address="x")
            session.add(home)
            for device_id in ("good-1", "hub", "bad/id", "_hub-host", "wild+"):
                session.add(
                    Device(id=device_id, home=home, type="pendant", secret_hash=secret_hash)
                )
            await session.commit()
        security = BrokerSecurity(
            passwd_file=broker_dir / "passwd",
            hub_passwd_file=broker_dir / "passwd-hub",
            acl_file=None,
            hub_account=MqttSettings(username="hub", password=HUB_PASSWORD),
        )
        async with sessions() as session:
            await security.sync(session)
        devices = (broker_dir / "passwd").read_text(encoding="utf-8")
        assert [line.split(":")[0] for line in devices.splitlines()] == ["good-1"]
        hub = (broker_dir / "passwd-hub").read_text(encoding="utf-8")
        assert [line.split(":")[0] for line in hub.splitlines()] == ["hub"]
    finally:
        await engine.dispose()


async def test_without_a_hub_password_file_one_file_holds_all(
    database_url: str, broker_dir: Path
) -> None:
    """A single-listener broker (development): the hub's account joins the devices'."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            home = Home(address="x")
            session.add_all(
                [home, Device(id="dev-1", home=home, type="pendant", secret_hash="$7$x")]
            )
            await session.commit()
        security = BrokerSecurity(
            passwd_file=broker_dir / "passwd",
            acl_file=None,
            hub_account=MqttSettings(username="hub", password=HUB_PASSWORD),
        )
        async with sessions() as session:
            await security.sync(session)
        names = [line.split(":")[0] for line in (broker_dir / "passwd").read_text().splitlines()]
        assert names == ["dev-1", "hub"]
        assert not (broker_dir / "passwd-hub").exists()
    finally:
        await engine.dispose()
