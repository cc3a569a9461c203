"""What a device holding valid credentials can do to other homes, tried for real.

The project's broker configuration (deploy/mosquitto: a hub-only listener and a device
listener that binds each client id to its username) with the password files and ACL the hub
renders, and a whole hub (ingestion, alarm engine) on it with its default client id and
shared-subscription group. Home A's pendant is the attacker; home B's pendant presses panic
while it acts. Each case must end with every one of B's panics stored and exactly one alarm
for B (docs/adr/0013-device-identity-bound-at-the-broker.md).
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as paho
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from hub.alarms import store as alarm_store
from hub.app import SESSIONMAKER, create_app
from hub.db import make_engine, make_sessionmaker
from hub.db.models import StoredEvent
from hub.ingest.app import INGESTER, MQTT_CLIENT, default_client_id
from hub.ingest.mqtt import LoopMqttClient
from hub.registry.service import DeviceCredentials, provision_device
from hub.registry.sync import make_broker_security
from hub.settings import HubSettings
from protocol import (
    MAX_PAYLOAD_BYTES,
    Channel,
    Panic,
    Ping,
    Status,
    command_subscription,
    command_topic,
    decode_command,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from teleassist.config import MqttSettings, load_config
from teleassist.localbroker import MosquittoBroker
from tests.hub.ingest.helpers import Publisher, eventually, seed_home
from tests.hub.registry.projectbroker import DEPLOY, Client, ProjectBrokerConfig, project_config
from tests.instants import machine_now

pytestmark = pytest.mark.broker

HUB_PASSWORD = "hub-attack-test-password"
PANICS = 10
AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


@dataclass
class Site:
    """A hub on the project's broker with two homes: A (the attacker's) and B."""

    config: ProjectBrokerConfig
    broker: MosquittoBroker
    client: TestClient[Any, Any]
    attacker: str
    victim: str
    creds: dict[str, DeviceCredentials]
    home_b: int
    clients: list[Client]

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def hub_mqtt(self) -> LoopMqttClient:
        return self.app[MQTT_CLIENT]

    def device(self, name: str, client_id: str | None = None, **kw: Any) -> Client:
        """Connect as device ``name`` on the device listener."""
        c = Client(self.config.device_port, name, self.creds[name].secret, client_id, **kw)
        self.clients.append(c)
        return c

    def publisher(self, name: str) -> Publisher:
        return Publisher("127.0.0.1", self.config.device_port, name, self.creds[name].secret)

    async def stored(self, device_id: str) -> int:
        async with self.app[SESSIONMAKER]() as session:
            query = select(func.count()).where(StoredEvent.device_id == device_id)
            return int(await session.scalar(query.select_from(StoredEvent)) or 0)

    async def alarms_of(self, home_id: int) -> list[Any]:
        async with self.app[SESSIONMAKER]() as session:
            alarms = await alarm_store.list_alarms(session, status="all", category=None, limit=50)
        return [a for a in alarms if a.home_id == str(home_id)]

    async def victim_panics(self, count: int = PANICS) -> list[str]:
        """Home B presses panic ``count`` times; return when the hub has stored them all and
        raised B's alarm (a lost panic fails here)."""
        before = await self.stored(self.victim)
        pub = self.publisher(self.victim)
        try:
            ids = [pub.send(self.victim, Channel.EVENT, Panic(room="hall")) for _ in range(count)]
        finally:
            pub.close()

        async def all_stored() -> bool:
            return await self.stored(self.victim) == before + count

        await eventually(all_stored, timeout=30)
        alarms: list[Any] = []

        async def alarm_raised() -> bool:
            alarms[:] = await self.alarms_of(self.home_b)
            return bool(alarms) and set(ids) <= set(alarms[0].event_ids)

        await eventually(alarm_raised, timeout=30)
        assert len(alarms) == 1
        return ids


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A directory the broker's own user can read (pytest's tmp dirs are private to root)."""
    with tempfile.TemporaryDirectory(prefix="ta-attack-") as name:
        yield Path(name)


@pytest.fixture
async def site(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    broker_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Site]:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")
    tag = f"x{secrets.token_hex(3)}"
    attacker, victim = f"{tag}-a-pendant", f"{tag}-b-pendant"
    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    creds: dict[str, DeviceCredentials] = {}
    try:
        home_a, resident_a = await seed_home(sessions, {}, address="Carrer A 1")
        home_b, resident_b = await seed_home(sessions, {}, address="Carrer B 2")
        async with sessions() as session:
            for device_id, home, resident in (
                (attacker, home_a, resident_a),
                (victim, home_b, resident_b),
            ):
                _, creds[device_id] = await provision_device(
                    session,
                    device_id=device_id,
                    home_id=home,
                    device_type="pendant",
                    resident_id=resident,
                    actor="t",
                )
            await session.commit()
    finally:
        await engine.dispose()

    config = project_config(broker_dir)
    broker = config.broker()
    mqtt = MqttSettings(
        host="127.0.0.1", port=config.hub_port, username="hub", password=HUB_PASSWORD
    )
    settings = msgspec.structs.replace(
        hub_settings,
        # The hub's own defaults: client id, share group "hub" (the documented one).
        ingest_client_id="",
        ingest_flush_interval_s=0.05,
        mosquitto_passwd_file=str(config.passwd),
        mosquitto_hub_passwd_file=str(config.hub_passwd),
        mosquitto_acl_file=str(config.acl),
        mosquitto_acl_template=str(DEPLOY / "acl"),
        mosquitto_file_mode=0o644,
    )
    # The broker reads the files the hub renders: write them before it starts.
    engine = make_engine(hub_settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await make_broker_security(settings, mqtt).sync(session)
    finally:
        await engine.dispose()
    broker.start()
    clients: list[Client] = []
    try:
        assert broker.process is not None
        settings = msgspec.structs.replace(
            settings, mosquitto_reload_command=f"kill -HUP {broker.process.pid}"
        )
        app = create_app(settings, config=load_config(), mqtt=mqtt)
        client = await aiohttp_client(app)
        await app[MQTT_CLIENT].subscribed.wait()
        yield Site(config, broker, client, attacker, victim, creds, home_b, clients)
    finally:
        for c in clients:
            c.close()
        broker.stop()


async def test_a_device_cannot_take_a_share_of_the_hubs_messages(site: Site) -> None:
    """Joining the documented group `$share/hub/...` (or any other) gives the attacker no
    share of the homes' messages: Mosquitto 2.0 grants the SUBSCRIBE (its ACL file checks
    only delivery), but the hub's group on the wire is a secret one."""
    attacker = site.device(site.attacker)
    attacker.subscribe(
        [
            "$share/hub/ta/v1/d/+/+",
            "$share/hub/ta/v1/d/#",
            "$share/hub/#",
            "ta/v1/d/#",
            "#",
            "$SYS/#",  # retained broker figures would arrive at once if it could read them
        ]
    )
    await site.victim_panics()
    assert attacker.received.empty(), [m.topic for m in attacker.received.queue]
    assert site.hub_mqtt.disconnects == 0


async def test_a_device_cannot_take_the_hubs_client_id(site: Site) -> None:
    """The hub's client id (its default, and the old documented `hub-<hostname>`) used by a
    device changes nothing: on the device listener the client id is the device's own id,
    and the hub's listener does not know device accounts."""
    first = site.device(site.attacker, default_client_id())
    assert first.accepted
    first.close()  # the same device's next connection would replace it anyway
    intruder = site.device(site.attacker, f"hub-{socket.gethostname()}")
    assert intruder.accepted
    refused = Client(site.config.hub_port, site.attacker, site.creds[site.attacker].secret)
    site.clients.append(refused)
    assert not refused.accepted
    await site.victim_panics()
    assert site.hub_mqtt.disconnects == 0
    ready = await site.client.get("/readyz")
    assert ready.status == 200
    assert not intruder.disconnected.is_set()


async def test_a_device_cannot_end_another_devices_session(site: Site) -> None:
    """Reusing B's client id neither disconnects B nor destroys the command queued in B's
    persistent session while B was away; a command the attacker forges never reaches B
    (it would arrive first: the broker keeps the order)."""
    victim = site.device(site.victim, clean_session=False)
    victim.subscribe([command_subscription(site.victim)])
    intruder = site.device(site.attacker, site.victim)
    assert intruder.accepted
    # B is still connected: its panic goes through on the same connection.
    panic = envelope(Panic(), id=new_message_id(), ts=machine_now(), seq=1)
    victim.publish(device_topic(site.victim, Channel.EVENT), encode(panic))

    async def stored() -> bool:
        return await site.stored(site.victim) == 1

    await eventually(stored, timeout=30)
    assert not victim.disconnected.is_set()
    intruder.close()
    victim.close()

    # B is away. The attacker forges a command to B (its ACL must drop it); then the hub
    # queues a real one (QoS 1, kept in B's session).
    forger = site.device(site.attacker)
    forged = envelope(Ping(), id=new_message_id(), ts=AT, seq=1)
    forger.publish(command_topic(site.victim, "ping"), encode(forged))
    forger.close()
    hub = Client(site.config.hub_port, "hub", HUB_PASSWORD, "_hub-test-commands")
    site.clients.append(hub)
    command = envelope(Ping(), id=new_message_id(), ts=AT, seq=1)
    hub.publish(command_topic(site.victim, "ping"), encode(command))
    # The attacker takes B's client id again, with a clean session.
    again = site.device(site.attacker, site.victim, clean_session=True)
    assert again.accepted
    again.close()
    back = site.device(site.victim, clean_session=False)
    message = back.received.get(timeout=10)
    # The hub's confirmation of B's panic (ADR 0125) may be queued first; it is the hub's too.
    while message.topic == command_topic(site.victim, "event_received"):
        message = back.received.get(timeout=10)
    assert message.topic == command_topic(site.victim, "ping")
    assert decode_command(message.payload).id == command.id


async def test_a_device_cannot_make_the_hub_read_a_huge_message(site: Site) -> None:
    """The broker ends a connection that sends a packet bigger than any contract message
    (max_packet_size): the hub never has to read it, and other homes are unaffected."""
    attacker = site.device(site.attacker)
    topic = device_topic(site.attacker, Channel.EVENT)
    attacker.publish(topic, b"x" * MAX_PAYLOAD_BYTES)  # the largest a contract allows: passes
    await eventually(lambda: site.app[INGESTER].stats.received == 1, timeout=30)
    attacker.client.publish(topic, b"x" * (MAX_PAYLOAD_BYTES * 4), qos=1)
    assert attacker.disconnected.wait(10)
    attacker.close()
    await site.victim_panics()
    assert site.app[INGESTER].stats.received == 1 + PANICS  # not the big one
    assert site.hub_mqtt.disconnects == 0


def _dies_with_will(site: Site, topic: str) -> None:
    """The attacker connects with a Last Will on ``topic`` and its link dies (no DISCONNECT),
    so the broker publishes the Will if the ACL lets it."""
    will = envelope(Status(state="offline", reason="will"), id=new_message_id(), ts=AT, seq=1)
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=site.attacker)
    c.username_pw_set(site.attacker, site.creds[site.attacker].secret)
    c.will_set(topic, encode(will), qos=1)
    connected = threading.Event()
    c.on_connect = lambda *_: connected.set()
    c.connect("127.0.0.1", site.config.device_port)
    c.loop_start()
    assert connected.wait(10)
    c.loop_stop()
    sock = c.socket()
    assert sock is not None
    sock.close()


async def test_a_device_cannot_leave_a_will_for_another_device(site: Site) -> None:
    """A Will on B's status topic (B "offline") is never published; the attacker's Will on its
    own topic, published after it, is the only status the hub hears."""
    _dies_with_will(site, device_topic(site.victim, Channel.STATUS))
    _dies_with_will(site, device_topic(site.attacker, Channel.STATUS))
    stats = site.app[INGESTER].stats
    await eventually(lambda: stats.accepted["status"] == 1, timeout=30)
    assert stats.received == 1


async def test_another_homes_message_id_is_not_a_duplicate(site: Site) -> None:
    """The attacker sends its own panic with an id, then B's panic carries the same id: B's
    panic is stored and raises B's alarm (ids are unique per device, docs/protocol.md)."""
    pub = site.publisher(site.attacker)
    try:
        taken = pub.send(site.attacker, Channel.EVENT, Panic())
    finally:
        pub.close()

    async def attacker_stored() -> bool:
        return await site.stored(site.attacker) == 1

    await eventually(attacker_stored, timeout=30)
    pub = site.publisher(site.victim)
    try:
        pub.send(site.victim, Channel.EVENT, Panic(), message_id=taken)
    finally:
        pub.close()

    async def victim_alarm() -> bool:
        alarms = await site.alarms_of(site.home_b)
        return len(alarms) == 1 and taken in alarms[0].event_ids

    await eventually(victim_alarm, timeout=30)
    assert await site.stored(site.victim) == 1


async def test_what_a_device_can_subscribe_to_and_what_it_receives(site: Site) -> None:
    """Mosquitto 2.0's ACL file never refuses a SUBSCRIBE (its check is on delivery), so
    every filter is granted. Written down exactly: what each granted filter delivers to a
    device while the hub and the other home are busy. Only its own commands arrive."""
    attacker = site.device(site.attacker)
    own = command_subscription(site.attacker)
    filters = [
        own,
        command_subscription(site.victim),  # another device's commands
        f"ta/v1/c/{site.victim}/#",
        "ta/v1/c/#",
        device_topic(site.victim, Channel.EVENT),  # another device's events
        "ta/v1/d/+/+",
        f"ta/v1/d/{site.attacker}/#",  # its own messages (write only)
        "$share/hub/ta/v1/d/+/+",
        "$share/x/ta/v1/c/#",
        "#",
        "$SYS/#",
    ]
    granted = attacker.subscribe(filters)
    # Every one granted at QoS 1: a device cannot tell from the SUBACK what it will get.
    assert [int(r.value) for r in granted] == [1] * len(filters)  # type: ignore[attr-defined]
    hub = Client(site.config.hub_port, "hub", HUB_PASSWORD, "_hub-test-subscribe")
    site.clients.append(hub)
    theirs = envelope(Ping(), id=new_message_id(), ts=AT, seq=1)
    hub.publish(command_topic(site.victim, "ping"), encode(theirs))
    await site.victim_panics(3)
    mine = envelope(Ping(), id=new_message_id(), ts=AT, seq=2)
    hub.publish(command_topic(site.attacker, "ping"), encode(mine))
    # Its own command arrives (once per matching filter: own, ta/v1/c/#, $share/x/..., #);
    # the other device's command, events and the broker's figures never do.
    first = attacker.received.get(timeout=10)
    assert first.topic == command_topic(site.attacker, "ping")
    topics = {first.topic}
    while not attacker.received.empty():
        topics.add(attacker.received.get_nowait().topic)
    assert topics == {command_topic(site.attacker, "ping")}
