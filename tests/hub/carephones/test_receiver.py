"""The DC-09 receiver end to end: real sockets on free ports, a transmitter written from the
standard, a real broker and both databases. Every mapped event becomes exactly one alarm
of the right kind and priority; answers and refusals are the protocol's."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import pytest

from hub.app import SESSIONMAKER
from hub.carephones.app import DC09_RECEIVER
from hub.carephones.models import CarephoneUnit
from hub.clock import ManualClock
from hub.db.models import Device, Home, Resident
from hub.settings import HubSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0, Dc09Hub, start_dc09_hub
from tests.hub.carephones.transmitter import TcpLink, UdpLink, Unit
from tests.hub.ingest.helpers import eventually

pytestmark = [pytest.mark.broker]

KEYS = {16: bytes(range(16)), 24: bytes(range(24)), 32: bytes(range(32))}

# (token, event data, expected rule, expected priority); each in a home of its own.
EVENTS: list[tuple[str, str, str, int]] = [
    ("ADM-CID", "1101 01 001", "panic", 1),
    ("ADM-CID", "1100 01 001", "medical", 1),
    ("ADM-CID", "1100 01 007", "fall", 1),  # zone 7 is the unit's fall detector
    ("ADM-CID", "1102 01 000", "missed_check_in", 3),
    ("ADM-CID", "1110 01 002", "fire", 1),
    ("ADM-CID", "1111 01 002", "smoke", 1),
    ("ADM-CID", "1114 01 002", "fire", 1),
    ("ADM-CID", "1162 01 003", "co", 1),
    ("ADM-CID", "1154 01 004", "flood", 1),
    ("ADM-CID", "1158 01 005", "temperature", 3),
    ("ADM-CID", "1159 01 005", "temperature", 3),
    ("ADM-CID", "1301 00 000", "power_lost", 5),
    ("ADM-CID", "1302 00 000", "low_battery", 5),
    ("ADM-CID", "1384 01 006", "low_battery", 5),
    ("ADM-CID", "1383 01 006", "tamper", 5),
    ("ADM-CID", "1137 01 000", "tamper", 5),
    ("ADM-CID", "1381 01 006", "device_offline", 5),
    ("ADM-CID", "1999 01 001", "unit_event", 5),  # unknown: technical, raw code shown
    ("SIA-DCS", "Nri1/MA001", "medical", 1),
    ("SIA-DCS", "Nri1/PA001", "panic", 1),
    ("SIA-DCS", "Nri1/QA001", "panic", 1),
    ("SIA-DCS", "Nri1/FA002", "fire", 1),
    ("SIA-DCS", "Nri1/GA003", "gas", 1),
    ("ADM-CID", "1151 01 003", "gas", 1),
    ("SIA-DCS", "Nri1/WA004", "flood", 1),
    ("SIA-DCS", "Nri1/KA002", "fire", 1),
    ("SIA-DCS", "Nri1/ZA005", "temperature", 3),
    ("SIA-DCS", "Nri1/AT", "power_lost", 5),
    ("SIA-DCS", "Nri1/YT", "low_battery", 5),
    ("SIA-DCS", "Nri1/XT006", "low_battery", 5),
    ("SIA-DCS", "Nri1/TA006", "tamper", 5),
    ("SIA-DCS", "Nri1/QQ001", "unit_event", 5),
]


async def test_every_mapped_event_raises_one_alarm_of_its_kind(dc09_hub: Dc09Hub) -> None:
    homes: list[tuple[int, str, str, str, int]] = []
    links: dict[str, Any] = {}
    for index, (token, event, rule, priority) in enumerate(EVENTS):
        # Clear and encrypted (every key size), over TCP and UDP, in turn.
        key = [None, KEYS[16], KEYS[24], KEYS[32]][index % 4]
        unit = Unit(account=f"{0xA000 + index:X}", key=key)
        _, home_id = await dc09_hub.register(unit, fall_zones="7")
        via = "tcp" if index % 2 == 0 else "udp"
        if via not in links:
            links[via] = await (
                TcpLink.open(dc09_hub.tcp_port) if via == "tcp" else UdpLink.open(dc09_hub.udp_port)
            )
        frame = unit.frame(token, event, T0)
        answer = await links[via].send(frame, key)
        assert (answer.token, answer.seq, answer.encrypted) == ("ACK", "0001", key is not None)
        if key is not None:
            assert answer.timestamp == T0  # an encrypted ACK carries the receiver's time
        homes.append((home_id, token, event, rule, priority))
    for home_id, token, event, rule, priority in homes:
        (alarm,) = await dc09_hub.wait_alarms(home_id)
        assert (alarm["rule"], alarm["priority"]) == (rule, priority), (token, event)
        detail = alarm["explanation"]["params"]
        assert detail["protocol"] == "DC-09"
        assert detail["raw"] == f"{token} {event.split('/')[-1]}"
    unknown = [a for h in homes if h[3] == "unit_event" for a in await dc09_hub.alarms(h[0])]
    assert any("«ADM-CID 1999 01 001»" in a["explanation_text"] for a in unknown)
    await links["tcp"].close()
    links["udp"].close()
    # Still exactly one alarm per home once everything has settled.
    for home_id, *_ in homes:
        assert len(await dc09_hub.alarms(home_id)) == 1


async def test_a_restore_updates_the_alarm_it_ends(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="5301", key=KEYS[16])
    _, home_id = await dc09_hub.register(unit)
    link = await TcpLink.open(dc09_hub.tcp_port)
    try:
        # A restore with nothing open raises nothing.
        assert (await link.send(unit.frame("ADM-CID", "3301 00 000", T0), unit.key)).token == "ACK"
        assert (await link.send(unit.frame("ADM-CID", "1301 00 000", T0), unit.key)).token == "ACK"
        (alarm,) = await dc09_hub.wait_alarms(home_id)
        assert alarm["rule"] == "power_lost"
        dc09_hub.clock.advance(timedelta(seconds=5))
        later = T0 + timedelta(seconds=5)
        assert (
            await link.send(unit.frame("ADM-CID", "3301 00 000", later), unit.key)
        ).token == "ACK"

        async def restored() -> bool:
            response = await dc09_hub.client.get(
                f"/api/alarms/{alarm['id']}", headers=dc09_hub.operator
            )
            history = (await response.json())["history"]
            return any(h["detail"].get("restores") == "True" for h in history)

        await eventually(restored, timeout=60)
    finally:
        await link.close()
    (same,) = await dc09_hub.alarms(home_id)
    assert same["id"] == alarm["id"]
    assert same["state"] != "resolved"


async def test_refusals_are_the_protocols_and_counted(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="6001")
    secret = Unit(account="6002", key=KEYS[32])
    await dc09_hub.register(unit)
    _, secret_home = await dc09_hub.register(secret)
    link = await TcpLink.open(dc09_hub.tcp_port)
    udp = await UdpLink.open(dc09_hub.udp_port)
    try:
        good = unit.frame("ADM-CID", "1101 01 001", T0)
        # A changed byte: the CRC no longer matches → NAK with the receiver's time.
        broken = good[:-3] + (b"2" if good[-3:-2] != b"2" else b"3") + good[-2:]
        answer = await link.send(broken)
        assert (answer.token, answer.seq, answer.timestamp) == ("NAK", "0000", T0)
        assert b'"NAK"0000R0L0A0[]' in answer.raw
        # A wrong length, then no quotes: NAK.
        assert (await link.send(good[:5] + b"0FFF" + good[9:])).token == "NAK"
        assert (await udp.send(b"\nhello there\r")).token == "NAK"
        # Unknown account, wrong prefix, a receiver's token: DUH.
        assert (await link.send(Unit(account="BEEF").frame("NULL", "", T0))).token == "DUH"
        assert (
            await link.send(Unit(account="6001", prefix="2").frame("NULL", "", T0))
        ).token == "DUH"
        assert (await udp.send(unit.frame("ACK", "", None))).token == "DUH"
        # A key that does not open it; a keyed unit sending in clear; data it cannot read.
        assert (
            await link.send(secret.frame("ADM-CID", "1101 01 001", T0, key=KEYS[16]))
        ).token == "DUH"
        assert (
            await link.send(Unit(account="6002").frame("ADM-CID", "1101 01 001", T0))
        ).token == "DUH"
        assert (await link.send(unit.frame("ADM-CID", "1101 1 1", T0))).token == "DUH"
        # Outside the window (a replay, or a clock that drifted): NAK giving our time.
        stale = await link.send(unit.frame("ADM-CID", "1101 01 001", T0 - timedelta(seconds=21)))
        assert (stale.token, stale.timestamp) == ("NAK", T0)
        ahead = await udp.send(unit.frame("ADM-CID", "1101 01 001", T0 + timedelta(seconds=21)))
        assert (ahead.token, ahead.timestamp) == ("NAK", T0)
        # An encrypted frame must carry a timestamp.
        assert (
            await link.send(secret.frame("ADM-CID", "1101 01 001", None), secret.key)
        ).token == "NAK"
        # Oversized: NAK (UDP), NAK and the connection closed (TCP: its end cannot be found).
        assert (await udp.send(b"\n" + b"9" * 3000 + b"\r")).token == "NAK"
        huge = await TcpLink.open(dc09_hub.tcp_port)
        assert (await huge.send(b"\n" + b"9" * 3000)).token == "NAK"
        assert await huge.reader.read() == b""
        await huge.close()
        # Through all that, the receiver still takes a good frame from the same link.
        assert (
            await link.send(secret.frame("ADM-CID", "1101 01 001", T0), secret.key)
        ).token == "ACK"
    finally:
        await link.close()
        udp.close()
    assert [a["rule"] for a in await dc09_hub.wait_alarms(secret_home)] == ["panic"]
    refused = dc09_hub.refused
    for reason in (
        "crc",
        "length",
        "malformed",
        "unknown_account",
        "wrong_prefix",
        "unsupported",
        "wrong_key",
        "not_encrypted",
        "bad_data",
        "stale_timestamp",
        "future_timestamp",
        "timestamp_missing",
        "oversize",
    ):
        assert refused.get(reason, 0) >= 1, reason
    metrics = await (await dc09_hub.client.get("/metrics", headers=dc09_hub.supervisor)).text()
    assert 'teleassist_dc09_refused_total{reason="wrong_key"} 1.0' in metrics
    assert 'teleassist_dc09_frames_total{outcome="acked"}' in metrics
    # None of the refused frames raised anything.
    assert all(a["home_id"] == str(secret_home) for a in await dc09_hub.alarms())


async def test_a_retransmission_is_acked_and_not_raised_again(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="7001")
    _, home_id = await dc09_hub.register(unit)
    udp = await UdpLink.open(dc09_hub.udp_port)
    try:
        frame = unit.frame("SIA-DCS", "Nri1/PA001", T0)
        assert (await udp.send(frame)).token == "ACK"
        # The ACK was lost: the unit sends the same sequence number again (twice).
        assert (await udp.send(frame)).token == "ACK"
        again = unit.frame("SIA-DCS", "Nri1/PA001", T0 + timedelta(seconds=2), seq="0001")
        assert (await udp.send(again)).token == "ACK"
        # A poll between keeps the unit alive and raises nothing.
        assert (await udp.send(unit.frame("NULL", "", T0))).token == "ACK"
    finally:
        udp.close()
    assert len(await dc09_hub.wait_alarms(home_id)) == 1
    assert dc09_hub.app[DC09_RECEIVER].stats.duplicates == 2


async def test_a_hub_restart_between_frame_and_ack_raises_the_alarm_once(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> None:
    clock = ManualClock(T0)
    tag = f"r{secrets.token_hex(3)}"
    first = await start_dc09_hub(aiohttp_client, hub_settings, mosquitto, clock, tag)
    unit = Unit(account="8001", key=KEYS[24])
    _, home_id = await first.register(unit)
    receiver = first.app[DC09_RECEIVER]
    stored = asyncio.Event()
    handle = receiver.handle

    async def dies_before_answering(raw: bytes, source: str) -> bytes | None:
        # The hub stores the events, then dies before the ACK leaves.
        await handle(raw, source)
        stored.set()
        await asyncio.Event().wait()
        return None

    receiver.handle = dies_before_answering  # type: ignore[method-assign]
    link = await TcpLink.open(first.tcp_port)
    frame = unit.frame("ADM-CID", "1101 01 001", T0)
    link.writer.write(frame)
    await link.writer.drain()
    await stored.wait()
    await first.client.close()
    assert await link.reader.read() == b""  # no ACK: the connection went with the hub
    await link.close()
    # The unit retransmits the same message (same sequence, fresh timestamp) to the new hub.
    clock.advance(timedelta(seconds=3))
    second = await start_dc09_hub(aiohttp_client, hub_settings, mosquitto, clock, tag)
    link = await TcpLink.open(second.tcp_port)
    try:
        retry = unit.frame("ADM-CID", "1101 01 001", T0 + timedelta(seconds=3), seq="0001")
        assert (await link.send(retry, unit.key)).token == "ACK"
    finally:
        await link.close()
    (alarm,) = await second.wait_alarms(home_id)
    assert alarm["rule"] == "panic"
    assert second.app[DC09_RECEIVER].stats.duplicates == 1
    assert len(await second.alarms(home_id)) == 1


async def test_a_unit_whose_polls_stop_raises_device_offline(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="9001")
    _, home_id = await dc09_hub.register(unit, supervision_s=120)
    udp = await UdpLink.open(dc09_hub.udp_port)
    try:
        for step in range(3):
            at = T0 + timedelta(seconds=60 * step)
            dc09_hub.clock.now = at
            assert (await udp.send(unit.frame("NULL", "", at))).token == "ACK"
    finally:
        udp.close()
    assert await dc09_hub.alarms(home_id) == []
    # Then silence, past the unit's interval.
    dc09_hub.clock.advance(timedelta(seconds=121))
    (alarm,) = await dc09_hub.wait_alarms(home_id)
    assert (alarm["rule"], alarm["category"], alarm["priority"]) == (
        "device_offline",
        "technical",
        5,
    )
    # The unit named by what it is (issue 23), not by its id.
    assert alarm["explanation_text"].startswith("El terminal de teleassistència no es comunica")


async def test_a_flood_from_one_source_does_not_stop_another_units_alarm(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> None:
    hub = await start_dc09_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"f{secrets.token_hex(3)}",
        dc09_source_rate=5.0, dc09_source_burst=10,
    )  # fmt: skip
    calm = Unit(account="A001", key=KEYS[16])
    loud = Unit(account="A002")
    _, calm_home = await hub.register(calm)
    _, loud_home = await hub.register(loud)
    flood = await UdpLink.open(hub.udp_port, source="127.0.0.2")
    link = await TcpLink.open(hub.tcp_port)
    stop = asyncio.Event()

    async def flooding() -> None:
        # Garbage and valid panics from one address, until the test is done.
        n = 0
        while not stop.is_set():
            for _ in range(20):
                n += 1
                garbage = b"\nnot a frame at all\r"
                flood.post(garbage if n % 3 else loud.frame("ADM-CID", "1101 01 001", T0))
            await asyncio.sleep(0.005)

    flooder = asyncio.create_task(flooding())
    try:
        await eventually(lambda: hub.refused.get("flood", 0) > 0, timeout=60)
        # While it goes on, another unit's panic is taken and acknowledged.
        answer = await link.send(calm.frame("ADM-CID", "1101 01 001", T0), calm.key)
        assert answer.token == "ACK"
        (alarm,) = await hub.wait_alarms(calm_home)
        assert alarm["rule"] == "panic"
        assert not flooder.done()
    finally:
        stop.set()
        await flooder
        flood.close()
        await link.close()
    assert len(await hub.wait_alarms(loud_home)) == 1  # its accepted panics: one alarm
    assert hub.refused["flood"] > 0


async def test_registration_checks_what_the_installer_gives(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="B001", key=KEYS[16])
    device_id, home_id = await dc09_hub.register(unit)
    post = dc09_hub.client.post
    base = {"id": "x-unit", "home_id": home_id, "account": "B002", "prefix": "1"}
    for change, code in [
        ({"account": "XYZ"}, 400),
        ({"account": "12"}, 400),
        ({"prefix": "1234567"}, 400),
        ({"key": "00" * 15}, 400),
        ({"key": "zz" * 16}, 400),
        ({"protocol": "scaip"}, 400),
        ({"type": "pendant"}, 400),
        ({"supervision_s": 5}, 400),
        ({"fall_zones": "kitchen"}, 400),
        ({"home_id": 999_999}, 404),
        ({"account": "B001"}, 409),  # the same account on the same prefix
        ({"id": device_id, "account": "B003"}, 409),
    ]:
        response = await post(
            "/api/carephones", json={**base, **change}, headers=dc09_hub.installer
        )
        assert response.status == code, (change, await response.text())
    refused = await post("/api/carephones", json=base, headers=dc09_hub.operator)
    assert refused.status == 403
    listed = await dc09_hub.client.get("/api/carephones", headers=dc09_hub.installer)
    units = (await listed.json())["units"]
    assert [(u["id"], u["encrypted"]) for u in units] == [(device_id, True)]
    assert "key" not in units[0]
    assert "key_encrypted" not in units[0]


async def test_a_unit_registered_by_another_hub_worker_is_found(dc09_hub: Dc09Hub) -> None:
    # Another worker registered it: the rows are in the database, not in this worker's book.
    async with dc09_hub.app[SESSIONMAKER]() as session:
        home = Home(address="Carrer de l'Altre 2", abss_area="T1")
        session.add_all([home, Resident(home=home, name="Other Resident")])
        await session.flush()
        session.add(Device(id=f"{dc09_hub.tag}-other", home_id=home.id, type="carephone"))
        await session.flush()
        session.add(
            CarephoneUnit(
                device_id=f"{dc09_hub.tag}-other", account="C001", prefix="1",
                supervision_s=600, fall_zones="",
            )
        )  # fmt: skip
        await session.commit()
        home_id = home.id
    link = await TcpLink.open(dc09_hub.tcp_port)
    try:
        unit = Unit(account="C001")
        assert (await link.send(unit.frame("SIA-DCS", "Nri1/MA001", T0))).token == "ACK"
        # An account nobody registered is still refused (and looked up once per interval).
        stranger = Unit(account="C002")
        assert (await link.send(stranger.frame("NULL", "", T0))).token == "DUH"
        assert (await link.send(stranger.frame("NULL", "", T0))).token == "DUH"
    finally:
        await link.close()
    (alarm,) = await dc09_hub.wait_alarms(home_id)
    assert alarm["rule"] == "medical"
    assert dc09_hub.refused["unknown_account"] == 2


async def test_a_defect_in_one_frame_does_not_end_the_listener(dc09_hub: Dc09Hub) -> None:
    unit = Unit(account="D001")
    _, home_id = await dc09_hub.register(unit)
    receiver = dc09_hub.app[DC09_RECEIVER]
    handle = receiver.handle
    calls = 0

    async def broken_once(raw: bytes, source: str) -> bytes | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a defect")
        return await handle(raw, source)

    receiver.handle = broken_once  # type: ignore[method-assign]
    link = await TcpLink.open(dc09_hub.tcp_port)
    udp = await UdpLink.open(dc09_hub.udp_port)
    try:
        frame = unit.frame("ADM-CID", "1101 01 001", T0)
        udp.post(frame)  # unanswered: the defect
        await eventually(lambda: dc09_hub.refused.get("internal_error", 0) == 1)
        assert (await link.send(frame)).token == "ACK"  # the unit's retry, on TCP
        assert (await udp.send(unit.frame("NULL", "", T0))).token == "ACK"
    finally:
        await link.close()
        udp.close()
    assert len(await dc09_hub.wait_alarms(home_id)) == 1
