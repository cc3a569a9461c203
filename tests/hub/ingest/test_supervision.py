"""Supervision: silence, Last Will, coming back, low battery, restart recovery."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgspec
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from hub.app import EVENT_SINKS, SESSIONMAKER, create_app
from hub.db.models import Device, StoredEvent
from hub.ingest.app import INGESTER, MQTT_CLIENT
from hub.settings import HubSettings
from hub.supervision import DeviceOffline, DeviceOnline
from hub.supervision.app import SUPERVISOR
from protocol import Channel, Motion, Status, device_topic, encode, envelope, new_message_id
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.ingest.helpers import Publisher, RecordingSink, eventually, seed_home
from tests.instants import machine_now

pytestmark = pytest.mark.broker


async def _hub(
    aiohttp_client: Any, settings: HubSettings, broker: MosquittoBroker, tag: str, **over: Any
) -> tuple[Any, RecordingSink]:
    settings = msgspec.structs.replace(
        settings,
        ingest_client_id=f"hub-{tag}",
        ingest_share_group=f"g{tag}",
        **({"ingest_flush_interval_s": 0.05, "supervision_check_s": 0.2} | over),
    )
    app = create_app(settings, mqtt=MqttSettings(host=broker.host, port=broker.port))
    sink = RecordingSink()
    app[EVENT_SINKS].append(sink)
    client = await aiohttp_client(app)
    await app[MQTT_CLIENT].subscribed.wait()
    return client, sink


def _types(sink: RecordingSink) -> list[str]:
    return [e.type for e in sink.events]


async def test_silence_will_return_and_battery(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> None:
    tag = secrets.token_hex(4)
    pir, gw = f"{tag}-pir", f"{tag}-gw"
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(hub_settings.database_url)
    await seed_home(make_sessionmaker(engine), {pir: "motion", gw: "gateway"})
    await engine.dispose()
    client, sink = await _hub(
        aiohttp_client, hub_settings, mosquitto, tag, supervision_intervals={"motion": 1.0}
    )
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.send(pir, Channel.EVENT, Motion())
        # Silent for longer than its 1 s interval: offline, once.
        await eventually(lambda: "device_offline" in _types(sink), timeout=15)
        offline = next(e for e in sink.events if e.type == "device_offline")
        assert isinstance(offline.body, DeviceOffline)
        assert offline.body.reason == "supervision"
        assert offline.device_id == pir
        # Declared after its interval from when the hub heard it, and within a check (0.2 s)
        # and a margin (measured from the hub's hearing, not the test's send: a loaded
        # machine's broker and ingester delays are not supervision's).
        silent_for = offline.received_at - offline.body.last_seen
        assert timedelta(seconds=1) < silent_for < timedelta(seconds=1 + 0.2 + 5)
        async with client.app[SESSIONMAKER]() as session:
            device = await session.get(Device, pir)
            assert device is not None
            assert device.state == "offline"
        publisher.send(pir, Channel.EVENT, Motion())
        await eventually(lambda: "device_online" in _types(sink))
        # Back online after the offline (not "the last event": silent again for 1 s on a
        # loaded machine, it may already be offline once more).
        assert _types(sink).index("device_online") > sink.events.index(offline)
        assert isinstance(sink.events[_types(sink).index("device_online")].body, DeviceOnline)

        # A gateway that drops off the network: the broker publishes its Last Will.
        will = encode(
            envelope(
                Status(state="offline", reason="will"),
                id=new_message_id(),
                ts=machine_now(),
                seq=99,
            )
        )
        dev = paho.Client(CallbackAPIVersion.VERSION2, client_id=gw)
        dev.will_set(device_topic(gw, Channel.STATUS), will, qos=1, retain=True)
        dev.connect(mosquitto.host, mosquitto.port)
        dev.loop_start()
        publisher.send(gw, Channel.STATUS, Status(state="online", battery=10))
        await eventually(lambda: "low_battery" in _types(sink))
        dev.loop_stop()
        dev.socket().close()  # no DISCONNECT: the broker sends the will
        await eventually(
            lambda: any(
                e.type == "device_offline" and e.device_id == gw and e.body.reason == "will"  # type: ignore[attr-defined]
                for e in sink.events
            )
        )
        async with client.app[SESSIONMAKER]() as session:
            kinds = (await session.scalars(select(StoredEvent.type))).all()
        assert {"device_offline", "device_online", "low_battery"} <= set(kinds)
        assert client.app[INGESTER].stats.sink_errors == 0
    finally:
        publisher.close()


async def test_state_rebuilt_at_start(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> None:
    tag = secrets.token_hex(4)
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(hub_settings.database_url)
    sessions = make_sessionmaker(engine)
    await seed_home(
        sessions,
        {f"{tag}-stale": "motion", f"{tag}-fresh": "motion", f"{tag}-down": "motion"},
    )
    now = machine_now()
    async with sessions() as session:
        for name, seen, state in (
            ("stale", now - timedelta(hours=3), "online"),
            ("fresh", now, "online"),
            ("down", now - timedelta(hours=3), "offline"),
        ):
            row = await session.get(Device, f"{tag}-{name}")
            assert row is not None
            row.last_seen, row.state = seen, state
        await session.commit()
    await engine.dispose()
    client, sink = await _hub(aiohttp_client, hub_settings, mosquitto, tag)
    supervisor = client.app[SUPERVISOR]
    assert supervisor.watches[f"{tag}-fresh"].online
    assert not supervisor.watches[f"{tag}-down"].online
    # The one silent past its interval goes offline at once; the one already offline stays quiet.
    await eventually(lambda: len(sink.events) == 1)
    assert sink.events[0].device_id == f"{tag}-stale"
    assert sink.events[0].type == "device_offline"


async def test_device_heard_by_another_worker_stays_online(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> None:
    tag = secrets.token_hex(4)
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(hub_settings.database_url)
    await seed_home(make_sessionmaker(engine), {f"{tag}-pir": "motion"})
    await engine.dispose()
    client, sink = await _hub(
        aiohttp_client, hub_settings, mosquitto, tag, supervision_check_s=3600.0
    )
    supervisor = client.app[SUPERVISOR]
    watch = supervisor.watches[f"{tag}-pir"]
    # This worker has not heard it for hours, but another worker wrote a fresh last_seen.
    watch.last_seen = machine_now() - timedelta(hours=5)
    async with client.app[SESSIONMAKER]() as session:
        row = await session.get(Device, f"{tag}-pir")
        assert row is not None
        row.last_seen = machine_now()
        await session.commit()
    assert supervisor.check() == 1
    await supervisor.flush()
    assert watch.online
    assert sink.events == []
    # Truly silent: one offline event, and a second verdict on the same silence is the same event.
    async with client.app[SESSIONMAKER]() as session:
        row = await session.get(Device, f"{tag}-pir")
        assert row is not None
        row.last_seen = machine_now() - timedelta(hours=5)
        await session.commit()
    watch.last_seen = machine_now() - timedelta(hours=5)
    supervisor.check()
    await supervisor.flush()
    watch.online = True
    supervisor.check()
    await supervisor.flush()
    await eventually(lambda: len(sink.events) == 1)
    assert sink.events[0].type == "device_offline"
    assert client.app[INGESTER].stats.duplicates == 0
