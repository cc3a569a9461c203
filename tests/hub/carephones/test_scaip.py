"""The SCAIP receiver end to end: SIPp playing the units over UDP and TCP on free ports, a
real broker and both databases. Every mapped message becomes exactly one alarm of the right
kind and priority; refusals are SIP's, counted, and never lose another unit's alarm."""

from __future__ import annotations

import asyncio
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.app import SETTINGS
from hub.carephones.app import SCAIP_BOOK, SCAIP_RECEIVER, SCAIP_SERVERS
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.settings import HubSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0, Dc09Hub, start_dc09_hub
from tests.hub.carephones.sipp import mrq, needs_sipp, run_sipp, scenario
from tests.hub.ingest.helpers import eventually, seed_home

pytestmark = [pytest.mark.broker, needs_sipp]


async def start_scaip_hub(
    aiohttp_client: Any,
    settings: HubSettings,
    broker: MosquittoBroker,
    clock: ManualClock,
    tag: str,
    **overrides: Any,
) -> Dc09Hub:
    """A hub whose SCAIP receiver listens on free ports (DC-09 off)."""
    return await start_dc09_hub(
        aiohttp_client, settings, broker, clock, tag,
        dc09_enabled=False, scaip_enabled=True, scaip_tcp_port=0, scaip_udp_port=0,
        **overrides,
    )  # fmt: skip


@pytest.fixture
async def scaip_hub(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker
) -> Dc09Hub:
    return await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"s{secrets.token_hex(3)}"
    )


def ports(hub: Dc09Hub) -> dict[str, int]:
    servers = hub.app[SCAIP_SERVERS]
    assert servers.udp_port is not None
    assert servers.tcp_port is not None
    return {"udp": servers.udp_port, "tcp": servers.tcp_port}


async def register(hub: Dc09Hub, cid: str, **extra: Any) -> tuple[str, int]:
    """A home with a resident and SCAIP unit ``cid`` in it; (device id, home id)."""
    engine = make_engine(hub.app[SETTINGS].database_url)
    try:
        home_id, _ = await seed_home(make_sessionmaker(engine), {})
    finally:
        await engine.dispose()
    device_id = f"{hub.tag}-scaip-{cid}"
    body = {"id": device_id, "home_id": home_id, "protocol": "scaip", "account": cid, **extra}
    response = await hub.client.post("/api/carephones", json=body, headers=hub.installer)
    assert response.status == 201, await response.text()
    return device_id, home_id


async def udp_request(port: int, body: str) -> bytes:
    """One MESSAGE in a datagram of our own; the answer's bytes."""
    data = body.encode()
    request = (
        "MESSAGE sip:arc@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-own\r\n"
        "From: <sip:unit@127.0.0.1>;tag=own\r\nTo: <sip:arc@127.0.0.1>\r\n"
        "Call-ID: own-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class _Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(_Client, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(request)
        async with asyncio.timeout(10):
            return await answers.get()
    finally:
        transport.close()


async def send(
    hub: Dc09Hub, tmp_path: Path, body: str, expect: int, via: str = "udp", **kw: Any
) -> None:
    name = f"m{secrets.token_hex(4)}"
    run = await run_sipp(tmp_path, name, scenario(body, expect, **kw), ports(hub)[via], via)
    assert run.returncode == 0, (body[:200], run.errors, run.output)


# (fields of the message, expected rule, priority); each unit in a home of its own.
MESSAGES: list[tuple[dict[str, str], str, int]] = [
    ({"stc": "10", "mty": "ME", "crd": "sip:unit@127.0.0.1"}, "panic", 1),
    ({"stc": "0010", "did": "03"}, "fall", 1),  # device 03 is the unit's fall detector
    ({"stc": "67", "mty": "ME", "crd": "gsm:"}, "unit_event", 5),  # a code we do not know
    ({"stc": "12", "did": "05"}, "fall", 1),  # a code the centre added (scaip_status_codes)
]


async def test_every_mapped_message_raises_one_alarm_of_its_kind(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"s{secrets.token_hex(3)}",
        scaip_status_codes="12=fall",
    )  # fmt: skip
    homes = []
    for index, (fields, rule, priority) in enumerate(MESSAGES):
        cid = f"{hub.tag}{index}"
        _, home_id = await register(hub, cid, fall_zones="3")
        ref = f"R{index:04d}"
        via = "tcp" if index % 2 else "udp"
        await send(hub, tmp_path, mrq(cid, ref, **fields), 200, via, ref=ref)
        homes.append((home_id, rule, priority, fields))
    for home_id, rule, priority, fields in homes:
        (alarm,) = await hub.wait_alarms(home_id)
        assert (alarm["rule"], alarm["priority"]) == (rule, priority), fields
        assert alarm["explanation"]["params"]["protocol"] == "SCAIP"
    unknown = await hub.alarms(homes[2][0])
    assert "«SCAIP ME stc=67 dty=0002»" in unknown[0]["explanation_text"]


async def test_heartbeats_and_tests_are_heard_and_raise_nothing(
    scaip_hub: Dc09Hub, tmp_path: Path
) -> None:
    cid = f"{scaip_hub.tag}hb"
    _, home_id = await register(scaip_hub, cid)
    await send(scaip_hub, tmp_path, mrq(cid, "H1", None, mty="PI"), 200, ref="H1")
    await send(scaip_hub, tmp_path, mrq(cid, "H2", "102", crd="no-voice:"), 200, "tcp", ref="H2")
    stats = scaip_hub.app[SCAIP_RECEIVER].stats
    assert (stats.polls, stats.events_stored) == (1, 1)
    await asyncio.sleep(0)
    assert await scaip_hub.alarms(home_id) == []


async def test_a_reset_updates_the_alarm_it_ends(scaip_hub: Dc09Hub, tmp_path: Path) -> None:
    cid = f"{scaip_hub.tag}re"
    _, home_id = await register(scaip_hub, cid)
    await send(scaip_hub, tmp_path, mrq(cid, "A1", "10"), 200, ref="A1")
    (alarm,) = await scaip_hub.wait_alarms(home_id)
    scaip_hub.clock.advance(timedelta(seconds=5))
    await send(scaip_hub, tmp_path, mrq(cid, "A2", "10", mty="RE"), 200, ref="A2")

    async def restored() -> bool:
        response = await scaip_hub.client.get(
            f"/api/alarms/{alarm['id']}", headers=scaip_hub.operator
        )
        history = (await response.json())["history"]
        return any(h["detail"].get("restores") == "True" for h in history)

    await eventually(restored, timeout=60)
    assert len(await scaip_hub.alarms(home_id)) == 1


async def test_a_retransmission_or_replay_is_answered_and_not_raised_again(
    scaip_hub: Dc09Hub, tmp_path: Path
) -> None:
    cid = f"{scaip_hub.tag}dup"
    _, home_id = await register(scaip_hub, cid)
    body = mrq(cid, "D1", "10")
    await send(scaip_hub, tmp_path, body, 200, ref="D1")
    # The 200 was lost: the unit sends the same message again, by UDP and by TCP; a replay
    # of a captured message is the same bytes, and is answered the same way.
    await send(scaip_hub, tmp_path, body, 200, ref="D1")
    await send(scaip_hub, tmp_path, body.replace("<mrq>", "<mrq>\n "), 200, "tcp", ref="D1")
    assert len(await scaip_hub.wait_alarms(home_id)) == 1
    stats = scaip_hub.app[SCAIP_RECEIVER].stats
    # SIPp itself retransmits over UDP when our 200 is slow (a loaded machine): those are
    # duplicates too. One event stored, every other copy a duplicate.
    assert stats.events_stored == 1
    assert stats.duplicates == stats.received - 1 >= 2
    await asyncio.sleep(0)
    assert len(await scaip_hub.alarms(home_id)) == 1


async def test_bad_input_gets_its_sip_refusal_and_loses_nothing(
    scaip_hub: Dc09Hub, tmp_path: Path
) -> None:
    cid = f"{scaip_hub.tag}ok"
    _, home_id = await register(scaip_hub, cid)
    hub = scaip_hub
    # Invalid XML, a missing field, a field twice, a DTD (billion laughs), a response as
    # a request, an unknown message type: 400 naming the defect.
    for body in [
        f"<mrq><ref>B1</ref><cid>{cid}</cid><dty>2</dty>",
        f"<mrq><ref>B2</ref><cid>{cid}</cid></mrq>",
        f"<mrq><ref>B3</ref><cid>{cid}</cid><dty>2</dty><stc>1</stc><stc>2</stc></mrq>",
        "<mrs><ref>B5</ref><snu>0</snu></mrs>",
        mrq(cid, "B6", "10", mty="ZZ"),
        mrq(cid, "B7", "ten"),
    ]:
        await send(hub, tmp_path, body, 400)
    # SIPp will not carry a DTD in its scenario: a datagram of our own does.
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE mrq [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<mrq><ref>B4</ref><cid>{cid}</cid><dty>2</dty><ame>&b;</ame></mrq>"
    )
    answer = await udp_request(ports(hub)["udp"], laughs)
    assert answer.startswith(b"SIP/2.0 400 Invalid SCAIP message: a DTD is not allowed\r\n")
    # An unknown unit: 403; not XML: 415; a body over the limit: 413 (UDP and TCP).
    await send(hub, tmp_path, mrq("nobody", "U1", "10"), 403)
    await send(hub, tmp_path, mrq(cid, "T1", "10"), 415, content_type="text/plain")
    huge = mrq(cid, "O1", "10", ame="x" * 3000)
    await send(hub, tmp_path, huge, 413)
    await send(hub, tmp_path, huge, 413, "tcp")
    # Another method: 405 with Allow.
    await send(hub, tmp_path, "", 405, method="SUBSCRIBE", content_type="text/xml")
    # Garbage in a datagram: nothing to answer, counted.
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.sendto(b"hello there\r\n\r\n", ("127.0.0.1", ports(hub)["udp"]))
    udp.close()
    refused = hub.app[SCAIP_RECEIVER].stats.refused

    async def garbage_counted() -> bool:
        return refused["malformed"] >= 1

    await eventually(garbage_counted, timeout=10)
    # Through all that, the same unit's alarm still arrives, over each transport.
    await send(hub, tmp_path, mrq(cid, "G1", "10"), 200, "tcp", ref="G1")
    (alarm,) = await hub.wait_alarms(home_id)
    assert alarm["rule"] == "panic"
    for reason, count in {
        "invalid_xml": 2,  # not well-formed, and the DTD
        "missing_field": 1,
        "invalid_field": 2,
        "not_request": 1,
        "unknown_message_type": 1,
        "unknown_unit": 1,
        "media_type": 1,
        "oversize": 2,
        "method": 1,
        "malformed": 1,
    }.items():
        assert refused[reason] == count, (reason, dict(refused))
    metrics = await hub.client.get("/metrics", headers=hub.supervisor)
    assert metrics.status == 200
    text = await metrics.text()
    assert 'teleassist_scaip_refused_total{reason="unknown_unit"} 1.0' in text
    assert 'teleassist_scaip_messages_total{outcome="acked"}' in text


async def test_a_unit_whose_heartbeats_stop_raises_device_offline(
    scaip_hub: Dc09Hub, tmp_path: Path
) -> None:
    cid = f"{scaip_hub.tag}sv"
    _, home_id = await register(scaip_hub, cid, supervision_s=120)
    for step in range(3):
        scaip_hub.clock.now = T0 + timedelta(seconds=60 * step)
        await send(scaip_hub, tmp_path, mrq(cid, f"P{step}", None, mty="PI"), 200)
    assert await scaip_hub.alarms(home_id) == []
    scaip_hub.clock.advance(timedelta(seconds=121))
    (alarm,) = await scaip_hub.wait_alarms(home_id)
    assert (alarm["rule"], alarm["priority"]) == ("device_offline", 5)
    # The unit named by what it is (issue 23), not by its id.
    assert alarm["explanation_text"].startswith("El terminal de teleassistència no es comunica")


async def test_a_hub_restart_between_storing_and_200_raises_the_alarm_once(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    tag = f"q{secrets.token_hex(3)}"
    first = await start_scaip_hub(aiohttp_client, hub_settings, mosquitto, clock, tag)
    cid = f"{tag}r"
    _, home_id = await register(first, cid)
    receiver = first.app[SCAIP_RECEIVER]
    stored = asyncio.Event()
    handle = receiver.handle

    async def dies_before_answering(raw: bytes, source: str) -> bytes | None:
        await handle(raw, source)  # stored and committed...
        stored.set()
        await asyncio.Event().wait()  # ... and the hub dies before the 200 leaves
        return None

    receiver.handle = dies_before_answering  # type: ignore[method-assign]
    body = mrq(cid, "K1", "10")
    first_try = asyncio.ensure_future(
        run_sipp(tmp_path, "lost", scenario(body, 200, ref="K1"), ports(first)["tcp"], "tcp")
    )
    await stored.wait()
    await first.client.close()
    lost = await first_try
    assert lost.returncode != 0  # the unit never got its 200
    clock.advance(timedelta(seconds=3))
    second = await start_scaip_hub(aiohttp_client, hub_settings, mosquitto, clock, tag)
    await send(second, tmp_path, body, 200, ref="K1")
    (alarm,) = await second.wait_alarms(home_id)
    assert alarm["rule"] == "panic"
    stats = second.app[SCAIP_RECEIVER].stats
    assert (stats.events_stored, stats.duplicates >= 1) == (0, True)
    assert len(await second.alarms(home_id)) == 1


async def test_scaip_registration_checks_what_the_installer_gives(scaip_hub: Dc09Hub) -> None:
    device_id, home_id = await register(scaip_hub, "c-1", caller_id="sip:c1@units.example")
    # In the receiver's book at once, under the cid as sent (a cid is not upper-cased).
    unit = scaip_hub.app[SCAIP_BOOK].find("", "c-1")
    assert unit is not None
    assert unit.caller_id == "sip:c1@units.example"
    base = {"id": "y-unit", "home_id": home_id, "protocol": "scaip", "account": "C-2"}
    for change, code in [
        ({"account": "has space"}, 400),
        ({"account": "x" * 33}, 400),
        ({"prefix": "1"}, 400),
        ({"key": "00" * 16}, 400),
        ({"caller_id": "not a uri"}, 400),
        ({"protocol": "x10"}, 400),
        ({"account": "c-1"}, 409),
    ]:
        response = await scaip_hub.client.post(
            "/api/carephones", json={**base, **change}, headers=scaip_hub.installer
        )
        assert response.status == code, (change, await response.text())
    listed = await scaip_hub.client.get("/api/carephones", headers=scaip_hub.installer)
    (unit,) = (await listed.json())["units"]
    assert (unit["id"], unit["protocol"], unit["caller_id"]) == (
        device_id,
        "scaip",
        "sip:c1@units.example",
    )


async def test_a_message_that_cannot_be_stored_gets_503_and_is_raised_when_resent(
    scaip_hub: Dc09Hub, tmp_path: Path
) -> None:
    cid = f"{scaip_hub.tag}db"
    _, home_id = await register(scaip_hub, cid)
    receiver = scaip_hub.app[SCAIP_RECEIVER]
    publish = receiver.ingester.publish_event
    failures = 1

    async def database_down(event: Any) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database unreachable")
        return await publish(event)

    receiver.ingester.publish_event = database_down  # type: ignore[method-assign]
    body = mrq(cid, "F1", "10")
    # Not stored: 503 with Retry-After (never a 200 for an alarm the hub does not hold).
    await send(scaip_hub, tmp_path, body, 503, "tcp")
    assert await scaip_hub.alarms(home_id) == []
    assert receiver.stats.refused["store_failed"] == 1
    # The unit sends it again: stored, answered, raised once.
    await send(scaip_hub, tmp_path, body, 200, "tcp", ref="F1")
    (alarm,) = await scaip_hub.wait_alarms(home_id)
    assert alarm["rule"] == "panic"
