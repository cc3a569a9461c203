"""An alarm event is acknowledged only after its commit: a crash before it loses nothing."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from hub.db import make_engine, make_sessionmaker
from hub.ingest import ingester as ingester_module
from hub.ingest.ingester import Ingester
from hub.ingest.mqtt import LoopMqttClient
from hub.ingest.registry import DeviceRegistry
from hub.timeseries import SqliteTimeSeries
from protocol import Channel, Panic, device_subscription, shared_subscription
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, running_mosquitto
from tests.hub.ingest.helpers import Publisher, RecordingSink, eventually, seed_home

pytestmark = pytest.mark.broker


async def _start(
    database_url: str, ts_path: Path, broker: MosquittoBroker, client_id: str, group: str
) -> tuple[Ingester, LoopMqttClient, RecordingSink, Any]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    store = SqliteTimeSeries(ts_path)
    await store.start()
    sink = RecordingSink()
    ingester = Ingester(
        registry=DeviceRegistry(sessions), sessionmaker=sessions, timeseries=store, sinks=[sink]
    )
    client = LoopMqttClient(
        MqttSettings(host=broker.host, port=broker.port),
        client_id=client_id,
        subscriptions=[(shared_subscription(group, device_subscription()), 1)],
        on_message=lambda m: ingester.handle(m.topic, bytes(m.payload), m.qos, m.mid),
    )
    await ingester.start(client)
    await client.start()
    await client.subscribed.wait()
    return ingester, client, sink, (engine, store)


async def test_crash_before_commit_loses_no_alarm(
    database_url: str,
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = secrets.token_hex(4)
    engine = make_engine(database_url)
    await seed_home(make_sessionmaker(engine), {f"{tag}-pendant": "pendant"})
    await engine.dispose()
    client_id, group = f"hub-crash-{tag}", f"g{tag}"

    real_insert = ingester_module.insert_events

    async def broken_insert(*args: Any, **kw: Any) -> Any:
        raise ConnectionError("database went away")

    monkeypatch.setattr(ingester_module, "insert_events", broken_insert)
    first, client, sink, (engine1, store1) = await _start(
        database_url, tmp_path / "ts1.sqlite", mosquitto, client_id, group
    )
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        panic_id = publisher.send(f"{tag}-pendant", Channel.EVENT, Panic())
        await eventually(lambda: first.stats.write_errors >= 1)
        # Crash: the socket goes without DISCONNECT and nothing is flushed or acked.
        client.drop()
        for task in first._tasks:
            task.cancel()
        await engine1.dispose()
        await store1.close()
        assert sink.events == []

        monkeypatch.setattr(ingester_module, "insert_events", real_insert)
        second, client2, sink2, (engine2, store2) = await _start(
            database_url, tmp_path / "ts2.sqlite", mosquitto, client_id, group
        )
        try:
            # The broker redelivers the unacknowledged panic to the same session.
            await eventually(lambda: len(sink2.events) == 1)
            assert sink2.events[0].message_id == panic_id
        finally:
            await second.stop()
            await client2.close()
            await engine2.dispose()
            await store2.close()
    finally:
        publisher.close()


async def test_a_redelivery_of_an_unstored_event_is_not_acknowledged(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database down, then the broker connection drops and comes back: the broker resends
    the panic it has not had an acknowledgement for. That copy is a duplicate of the one
    the hub holds, but acknowledging it would let the broker forget a panic that is only
    in the hub's memory; a crash then would lose it."""
    tag = secrets.token_hex(4)
    engine = make_engine(database_url)
    await seed_home(make_sessionmaker(engine), {f"{tag}-pendant": "pendant"})
    await engine.dispose()
    client_id, group = f"hub-redeliver-{tag}", f"g{tag}"
    real_insert = ingester_module.insert_events

    async def broken_insert(*args: Any, **kw: Any) -> Any:
        raise ConnectionError("database went away")

    monkeypatch.setattr(ingester_module, "insert_events", broken_insert)
    with running_mosquitto(tmp_path) as broker:
        first, client, _, (engine1, store1) = await _start(
            database_url, tmp_path / "ts1.sqlite", broker, client_id, group
        )
        publisher = Publisher(broker.host, broker.port)
        try:
            panic_id = publisher.send(f"{tag}-pendant", Channel.EVENT, Panic())
            await eventually(lambda: first.stats.write_errors >= 1)
            # The connection drops (the session stays) and the client reconnects by itself.
            client.client.disconnect()
            await eventually(lambda: not client.subscribed.is_set())
            await eventually(client.subscribed.is_set)
            await eventually(lambda: first.stats.duplicates >= 1)
            # Then the hub dies before the database is back.
            client.drop()
            for task in first._tasks:
                task.cancel()
            await engine1.dispose()
            await store1.close()

            monkeypatch.setattr(ingester_module, "insert_events", real_insert)
            second, client2, sink2, (engine2, store2) = await _start(
                database_url, tmp_path / "ts2.sqlite", broker, client_id, group
            )
            try:
                await eventually(lambda: len(sink2.events) == 1)
                assert sink2.events[0].message_id == panic_id
            finally:
                await second.stop()
                await client2.close()
                await engine2.dispose()
                await store2.close()
        finally:
            publisher.close()
