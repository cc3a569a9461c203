"""Ingestion through a real Mosquitto into SQLite/PostgreSQL and the time-series store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.db.models import Device, StoredEvent
from protocol import (
    Channel,
    CheckIn,
    DoorClose,
    DoorOpen,
    Envelope,
    Panic,
    Status,
    Telemetry,
    device_topic,
    encode,
    new_message_id,
)
from tests.hub.ingest.conftest import IngestHub
from tests.hub.ingest.helpers import Publisher, eventually, seed_home
from tests.instants import machine_now

pytestmark = pytest.mark.broker


async def _count_events(hub: IngestHub) -> int:
    async with hub.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredEvent)) or 0)


async def test_telemetry_events_and_status(ingest_hub: IngestHub, publisher: Publisher) -> None:
    hub = ingest_hub
    thermo, pendant = hub.dev("thermo"), hub.dev("pendant")
    for value in (20.5, 21.0, 21.5):
        publisher.send(thermo, Channel.TELEMETRY, Telemetry(kind="temperature", value=value), qos=0)
    panic_id = publisher.send(pendant, Channel.EVENT, Panic(room="hall"))
    publisher.send(pendant, Channel.STATUS, Status(state="online", battery=80, firmware="1.2"))

    await eventually(lambda: len(hub.sink.events) == 1)
    event = hub.sink.events[0]
    assert event.message_id == panic_id
    assert event.type == "panic"
    assert (event.device_id, event.device_type) == (pendant, "pendant")
    assert (event.home_id, event.resident_id) == (hub.home_id, hub.resident_id)
    assert event.stored_id is not None
    assert isinstance(event.body, Panic)
    assert event.received_at.tzinfo is not None

    async def three_points() -> bool:
        now = machine_now()
        got = await hub.timeseries.query(thermo, "temperature", now - timedelta(hours=1), now)
        return [s.value for s in got] == [20.5, 21.0, 21.5]

    await eventually(three_points)
    last = await hub.timeseries.last_values([thermo])
    assert [(v.kind, v.value, v.home_id) for v in last] == [("temperature", 21.5, hub.home_id)]

    async def status_written() -> bool:
        async with hub.sessions() as session:
            device = await session.get(Device, pendant)
            return device is not None and device.state == "online" and device.battery == 80

    await eventually(status_written)
    async with hub.sessions() as session:
        stored = (await session.scalars(select(StoredEvent))).one()
    assert (stored.message_id, stored.type, stored.device_id) == (panic_id, "panic", pendant)
    assert stored.body == {"type": "panic", "room": "hall", "source": "pendant"}
    assert hub.ingester.stats.accepted == {"telemetry": 3, "event": 1, "status": 1}


async def test_duplicates_are_dropped(ingest_hub: IngestHub, publisher: Publisher) -> None:
    hub = ingest_hub
    pendant = hub.dev("pendant")
    mid = publisher.send(pendant, Channel.EVENT, CheckIn(), seq=1)
    publisher.send(pendant, Channel.EVENT, CheckIn(), seq=1, message_id=mid)
    publisher.send(pendant, Channel.EVENT, CheckIn(), seq=1, message_id=mid)
    last = publisher.send(pendant, Channel.EVENT, Panic(), seq=2)
    # The panic may overtake the check-in on its way to the sinks (docs/adr/0035).
    await eventually(lambda: sorted(e.message_id for e in hub.sink.events) == sorted([mid, last]))
    assert hub.ingester.stats.duplicates == 2
    assert await _count_events(hub) == 2


async def test_duplicate_caught_by_database_after_restart(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    hub = ingest_hub
    pendant = hub.dev("pendant")
    mid = publisher.send(pendant, Channel.EVENT, Panic())
    await eventually(lambda: len(hub.sink.events) == 1)
    hub.ingester.ids.forget(pendant, mid)  # as if the hub had restarted and forgotten it
    publisher.send(pendant, Channel.EVENT, Panic(), message_id=mid)
    await eventually(lambda: hub.ingester.stats.duplicates == 1)
    assert await _count_events(hub) == 1
    # An alarm event is handed on again, without a new row: the alarm engine skips it if
    # applied and the device is confirmed again (it re-sends until it is; docs/adr/0125).
    await eventually(lambda: len(hub.sink.events) == 2)
    assert [e.message_id for e in hub.sink.events] == [mid, mid]
    assert hub.sink.events[1].stored_id is None
    # A routine event's duplicate is not.
    door = hub.dev("door")
    door_mid = publisher.send(door, Channel.EVENT, DoorClose())
    await eventually(lambda: len(hub.sink.events) == 3)
    hub.ingester.ids.forget(door, door_mid)
    publisher.send(door, Channel.EVENT, DoorClose(), message_id=door_mid)
    await eventually(lambda: hub.ingester.stats.duplicates == 2)
    assert len(hub.sink.events) == 3
    assert await _count_events(hub) == 2


async def test_a_stored_alarm_event_sent_again_is_handed_on_again(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    # The in-memory dedup lets a device's re-send of a stored panic through to the
    # database (which keeps one row) and on to the engine, so it is confirmed again.
    hub = ingest_hub
    pendant = hub.dev("pendant")
    mid = publisher.send(pendant, Channel.EVENT, Panic())
    await eventually(lambda: len(hub.sink.events) == 1)
    publisher.send(pendant, Channel.EVENT, Panic(), message_id=mid)
    await eventually(lambda: len(hub.sink.events) == 2)
    assert await _count_events(hub) == 1


async def test_gaps_are_detected(ingest_hub: IngestHub, publisher: Publisher) -> None:
    hub = ingest_hub
    door = hub.dev("door")
    for seq in (1, 2, 5, 6, 10):
        publisher.send(door, Channel.EVENT, DoorOpen(), seq=seq)
    publisher.send(door, Channel.EVENT, DoorOpen(), seq=3)  # a late replay
    await eventually(lambda: len(hub.sink.events) == 6)
    stats = hub.ingester.stats
    assert (stats.gaps, stats.missing, stats.late) == (2, 5, 1)


def _payload(body: object, **kw: object) -> bytes:
    fields = {"v": 1, "id": new_message_id(), "ts": machine_now(), "seq": 1} | kw
    return encode(Envelope(body=body, **fields))  # type: ignore[arg-type]


async def test_every_bad_input_is_rejected_and_counted(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    hub = ingest_hub
    pendant, door = hub.dev("pendant"), hub.dev("door")
    async with hub.sessions() as session:
        revoked = await session.get(Device, hub.dev("gw"))
        assert revoked is not None
        revoked.state = "revoked"
        await session.commit()
    await hub.ingester.registry.load()
    event_topic = device_topic(pendant, Channel.EVENT)
    now = machine_now()
    cases: list[tuple[str, bytes]] = [
        (event_topic, b"x" * (17 * 1024)),  # oversize
        (event_topic, b"{not json"),  # malformed
        (event_topic, b'{"v": 1, "id": "a", "ts": "2026-01-01T00:00:00Z", "body": {}}'),
        (event_topic, _payload(Panic(), v=2)),  # unsupported_version
        (event_topic, _payload(Panic(), ts=now + timedelta(hours=1))),  # future
        (event_topic, _payload(Panic(), ts=now - timedelta(days=60))),  # stale
        (
            device_topic(pendant, Channel.TELEMETRY),
            b'{"v":1,"id":"nf1","ts":"%s","seq":1,"body":{"kind":"x","value":1e999}}'
            % now.isoformat().encode(),
        ),  # non_finite
        (device_topic("nobody-knows-me", Channel.EVENT), _payload(Panic())),  # unknown
        (device_topic(door, Channel.EVENT), _payload(Panic())),  # a door cannot panic
        (device_topic(hub.dev("gw"), Channel.EVENT), _payload(Panic())),  # revoked
        (f"ta/v1/d/{pendant}/weird", _payload(Panic())),  # bad_topic
    ]
    for topic, payload in cases:
        publisher.raw(topic, payload)
    good = publisher.send(pendant, Channel.EVENT, Panic(), seq=7)
    await eventually(lambda: len(hub.sink.events) == 1)
    await eventually(lambda: sum(hub.ingester.stats.rejected.values()) == len(cases))
    assert hub.sink.events[0].message_id == good
    assert dict(hub.ingester.stats.rejected) == {
        "oversize": 1,
        "malformed": 1,
        "invalid": 1,
        "unsupported_version": 1,
        "future_timestamp": 1,
        "stale_timestamp": 1,
        "non_finite": 1,
        "unknown_device": 1,
        "wrong_device": 2,
        "bad_topic": 1,
    }
    assert await _count_events(hub) == 1


async def test_slow_sink_is_back_pressure_not_loss(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    hub = ingest_hub
    hub.sink.gate.clear()  # the alarm engine is stuck
    pendant = hub.dev("pendant")
    sent = [publisher.send(pendant, Channel.EVENT, CheckIn()) for _ in range(30)]
    await eventually(lambda: hub.ingester.queue.full() or hub.ingester.stats.events_stored == 30)
    assert hub.ingester.queue.qsize() <= hub.ingester.queue.maxsize
    hub.sink.gate.set()
    await eventually(lambda: len(hub.sink.events) == 30)
    assert [e.message_id for e in hub.sink.events] == sent


async def test_unknown_device_provisioned_later_is_found(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    hub = ingest_hub
    async with hub.sessions() as session:
        session.add(Device(id=hub.dev("late"), home_id=hub.home_id, type="pendant"))
        await session.commit()
    # Not in the in-memory map: the ingester looks it up on first sight.
    assert hub.ingester.registry.get(hub.dev("late")) is None
    publisher.send(hub.dev("late"), Channel.EVENT, Panic())
    await eventually(lambda: len(hub.sink.events) == 1)
    assert hub.sink.events[0].device_id == hub.dev("late")
    await asyncio.sleep(0)


async def test_message_ids_are_unique_per_device_not_fleet_wide(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    """Home B's panic whose id home A used earlier is stored and handed on (ids are unique
    per device, docs/protocol.md); B's own replay of it is still a duplicate."""
    hub = ingest_hub
    other = f"{hub.prefix}-b-pendant"
    await seed_home(hub.sessions, {other: "pendant"}, address="Carrer de B 2")
    mid = publisher.send(hub.dev("pendant"), Channel.EVENT, Panic())
    await eventually(lambda: len(hub.sink.events) == 1)
    publisher.send(other, Channel.EVENT, Panic(), message_id=mid)
    await eventually(lambda: len(hub.sink.events) == 2)
    assert [(e.device_id, e.message_id) for e in hub.sink.events] == [
        (hub.dev("pendant"), mid),
        (other, mid),
    ]
    hub.ingester.ids.forget(other, mid)  # the database must catch B's replay too
    publisher.send(other, Channel.EVENT, Panic(), message_id=mid)
    publisher.send(other, Channel.EVENT, Panic(), message_id=mid)
    await eventually(lambda: hub.ingester.stats.duplicates == 2)
    assert await _count_events(hub) == 2
    # The replays are not stored again; alarm events are handed on again, unstored, so the
    # engine (which skips applied ids) can confirm them to the device (docs/adr/0125).
    await eventually(lambda: len(hub.sink.events) >= 3)
    assert {(e.device_id, e.message_id, e.stored_id) for e in hub.sink.events[2:]} == {
        (other, mid, None)
    }


async def test_a_nul_in_one_devices_status_does_not_stop_presence(
    ingest_hub: IngestHub, publisher: Publisher
) -> None:
    """A firmware string with U+0000 made PostgreSQL refuse the whole presence batch, every
    round, so no device's presence was written again. It is refused at decoding now."""
    hub = ingest_hub
    now = machine_now().isoformat().replace("+00:00", "Z")
    status = '{"v":1,"id":"%s","ts":"%s","seq":0,"body":{"state":"online","firmware":"%s"}}'
    publisher.raw(
        device_topic(hub.dev("pendant"), Channel.STATUS),
        (status % ("fw1", now, "1.0\\u0000x")).encode(),
    )
    publisher.raw(
        device_topic(hub.dev("door"), Channel.STATUS), (status % ("fw2", now, "2.0")).encode()
    )

    async def door_written() -> bool:
        async with hub.sessions() as session:
            door = await session.get(Device, hub.dev("door"), populate_existing=True)
            return door is not None and door.firmware == "2.0"

    await eventually(door_written, timeout=30)
    assert hub.ingester.stats.rejected["invalid"] == 1
