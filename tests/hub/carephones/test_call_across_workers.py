"""Two real hub workers on one PostgreSQL database (ADR 0168, §4): the carephone's call on
worker A, the operator's requests on worker B.

SIPp plays the unit against A's SCAIP port (its alarm, then its call and a 1 kHz tone); the
operator's console — an aiortc peer sending 600 Hz, signalling over B's ``/api/family/ws``
exactly as the browser does — speaks with the home through B: B asks A (``speak``), passes
the offer (``signal``) and A's answer back, and both tones cross. The operator hangs up on
B, and A's ``BYE`` reaches the unit. Then a second call rings on A, A is killed (SIGKILL:
its row in ``carephone_calls`` outlives it until its start-up), and speaking through B
answers ``504 carephone_worker_unreachable`` with its words.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from hub.auth import Role, create_user
from hub.carephones.models import CarephoneCallRow
from hub.db import make_engine, make_sessionmaker, upgrade_to_head
from hub.db.models import Contact
from tablet_app.audio import ToneTrack
from teleassist.localbroker import running_mosquitto
from teleassist.workers import HubWorker, cluster_env
from tests.hub.carephones.rtp_tone import dominant_hz, tone_pcap
from tests.hub.carephones.sipp import free_udp_tcp_port, mrq, needs_sipp, run_sipp, scenario
from tests.hub.carephones.sipunit import ConsoleVoice, Loudspeaker, SipSocket, call_scenario, invite
from tests.hub.carephones.test_calling_out import answering, callee
from tests.hub.fixtures import TEST_PASSWORD, create_pg_database, drop_pg_database, pg_url
from tests.hub.ingest.helpers import eventually, seed_home

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow, needs_sipp]


@dataclass
class Cluster:
    a: HubWorker
    b: HubWorker
    a_sip: int
    home_id: int
    contact_id: int
    pbx_port: int
    url: str


async def _seed(url: str) -> tuple[int, int]:
    """A home with its resident and a contact to dial; the operator and the installer."""
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        home_id, resident_id = await seed_home(sessions, {})
        async with sessions() as session:
            await create_user(session, "op-across", TEST_PASSWORD, Role.OPERATOR)
            await create_user(session, "inst-across", TEST_PASSWORD, Role.INSTALLER)
            contact = Contact(resident_id=resident_id, name="Laia", phone="600112233", priority=1)
            session.add(contact)
            await session.commit()
            contact_id = contact.id
    finally:
        await engine.dispose()
    return home_id, contact_id


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("carephone-workers")
    name = create_pg_database()
    url = pg_url(name)
    with running_mosquitto(work) as broker:
        home_id, contact_id = asyncio.run(_seed(url))
        pbx_port = free_udp_tcp_port()  # the contact (SIPp) answers there, as the PBX
        env = cluster_env(
            url, broker.port,
            TELEASSIST_HUB__SCAIP_ENABLED="true", TELEASSIST_HUB__SCAIP_SPEECH_ENABLED="true",
            TELEASSIST_HUB__SCAIP_HOST="127.0.0.1", TELEASSIST_HUB__SCAIP_TCP_PORT="-1",
            TELEASSIST_HUB__SCAIP_SPEECH_RING_S="120",
            TELEASSIST_HUB__SCAIP_PBX=f"127.0.0.1:{pbx_port}",
        )  # fmt: skip
        a_sip, b_sip = free_udp_tcp_port(), free_udp_tcp_port()
        a = HubWorker("a", {**env, "TELEASSIST_HUB__SCAIP_UDP_PORT": str(a_sip)}, work)
        b = HubWorker("b", {**env, "TELEASSIST_HUB__SCAIP_UDP_PORT": str(b_sip)}, work)
        try:
            a.start()
            b.start()
            yield Cluster(a, b, a_sip, home_id, contact_id, pbx_port, url)
        finally:
            a.stop()
            b.stop()
            drop_pg_database(name)


@dataclass
class Desk:
    """What :class:`ConsoleVoice` uses of a hub: a client of worker B, the operator's token."""

    client: aiohttp.ClientSession
    operator: dict[str, str]


async def _headers(http: aiohttp.ClientSession, username: str) -> dict[str, str]:
    async with http.post(
        "/api/auth/login", json={"username": username, "password": TEST_PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def _unit_calls(http: aiohttp.ClientSession, desk: Desk, alarm_id: str) -> list[Any]:
    async with http.get(f"/api/alarms/{alarm_id}", headers=desk.operator) as response:
        assert response.status == 200
        history = (await response.json())["history"]
    return [e["detail"] for e in history if e["action"] == "unit_calling"]


async def test_the_operator_on_one_worker_speaks_with_a_unit_whose_call_another_holds(
    cluster: Cluster, tmp_path: Path
) -> None:
    cid = f"x{secrets.token_hex(3)}"
    async with (
        aiohttp.ClientSession(base_url=cluster.a.url) as on_a,
        aiohttp.ClientSession(base_url=cluster.b.url) as on_b,
    ):
        installer = await _headers(on_a, "inst-across")
        desk = Desk(on_b, await _headers(on_b, "op-across"))
        registered = await on_a.post(
            "/api/carephones",
            json={"id": f"cp-{cid}", "home_id": cluster.home_id, "protocol": "scaip",
                  "account": cid, "caller_id": f"sip:{cid}@127.0.0.1"},
            headers=installer,
        )  # fmt: skip
        assert registered.status == 201, await registered.text()
        message = scenario(mrq(cid, "R1", "10", crd=f"sip:{cid}@127.0.0.1"), 200, ref="R1")
        sent = await run_sipp(tmp_path, "alarm", message, cluster.a_sip)
        assert sent.returncode == 0, (sent.errors, sent.output)
        alarms: list[dict[str, Any]] = []

        async def raised() -> bool:
            nonlocal alarms
            async with on_b.get("/api/alarms?status=all", headers=desk.operator) as response:
                listed = (await response.json())["alarms"]
            alarms = [x for x in listed if x["home_id"] == str(cluster.home_id)]
            return bool(alarms)

        await eventually(raised, timeout=60)
        alarm_id = alarms[0]["id"]
        accepted = await on_b.post(f"/api/alarms/{alarm_id}/accept", headers=desk.operator)
        assert accepted.status == 200, await accepted.text()

        # The unit calls worker A; the alarm is held, so the call rings until the operator
        # speaks (ADR 0160) — and the operator is on worker B.
        pcap = tmp_path / "tone.pcap"
        tone_pcap(pcap, 1000.0, 10.0)
        loudspeaker = await Loudspeaker.open()
        unit_call = asyncio.ensure_future(
            run_sipp(
                tmp_path, "call",
                call_scenario(cid, pcap, 30000, hear_on=loudspeaker.port, centre_hangs_up=True),
                cluster.a_sip,
            )
        )  # fmt: skip
        await eventually(lambda: _rings(on_b, desk, alarm_id, 1), timeout=30)
        # B's card shows the call A holds, ringing.
        async with on_b.get(f"/api/console/alarms/{alarm_id}/voice", headers=desk.operator) as card:
            on_card = (await card.json())["unit_call"]
        assert on_card is not None
        assert on_card["status"] == "ringing"
        try:
            async with ConsoleVoice(desk) as operator:  # type: ignore[arg-type]
                began = time.monotonic()
                await operator.start(alarm_id)
                started = time.monotonic()
                track = await operator.connect()
                # Figures for ADR 0168 (printed with -s, never asserted).
                print(
                    f"speak through B: {started - began:.2f} s to accepted; "
                    f"offer to connected: {time.monotonic() - started:.2f} s"
                )
                heard: list[int] = []
                async with asyncio.timeout(30):
                    while len(heard) < 48000 * 3:
                        frame = await track.recv()
                        data = frame.to_ndarray().reshape(-1)  # type: ignore[union-attr]
                        heard.extend(int(x) for x in data[:: len(frame.layout.channels)])  # type: ignore[union-attr]
                assert abs(dominant_hz(heard[-48000:], 48000) - 1000) < 20
                async with asyncio.timeout(30):
                    # A's hold message until the operator's voice came, then the operator.
                    while len(loudspeaker.samples) < 16000 or (
                        abs(dominant_hz(loudspeaker.samples[-8000:], 8000) - 600) >= 10
                    ):
                        await asyncio.sleep(0.2)  # RTP from A arrives in real time
                await operator.hang_up()
        finally:
            loudspeaker.close()
        # The hang-up on B ended the unit's call on A: A's BYE, answered 200 by SIPp.
        run = await unit_call
        assert run.returncode == 0, (run.errors, run.output)
        entries: list[Any] = []

        async def ended() -> bool:
            nonlocal entries
            entries = await _unit_calls(on_b, desk, alarm_id)
            return any(e.get("status") == "ended" for e in entries)

        await eventually(ended, timeout=30)
        assert (entries[-1]["status"], entries[-1]["by"], entries[-1]["bye"]) == (
            "ended", "operator", "ok",
        )  # fmt: skip
        assert ("answered", "voice") in [(e.get("status"), e.get("by")) for e in entries]

        # The operator dials the contact from worker A; the audio leg and the hang-up go
        # through worker B, which asks A (the call's SIP dialog and RTP are A's).
        await _dial_on_a_media_and_hang_up_on_b(cluster, on_a, desk, alarm_id, tmp_path)

        # A second call rings on A; A dies without a word. B still finds A's row and asks:
        # no answer in 5 s, so the operator gets the 504 and its words.
        second = f"second-{cid}@127.0.0.1"
        with SipSocket(cluster.a_sip) as unit:
            unit.send(invite(cid, second, unit.port))
            assert await _provisional(unit) == 180
            await eventually(lambda: _held_by(cluster.url, second, "hub-a"), timeout=30)
            cluster.a.kill()
            voice = f"/api/console/alarms/{alarm_id}/voice"
            began = time.monotonic()
            refused = await on_b.post(voice, headers=desk.operator)
            body = await refused.json()
            print(f"504 after {time.monotonic() - began:.2f} s")
        assert refused.status == 504, body
        assert body["error"] == "carephone_worker_unreachable"
        assert set(body["words"]) == {"ca", "es", "en"}
        assert "(D)" in body["words"]["ca"]
        # B's figures say what crossed: speak, signal, hang-up, the probe of the call out
        # and its two, the 504's speak unanswered.
        token = cluster.b.env["TELEASSIST_HUB__METRICS_TOKEN"]
        async with on_b.get("/metrics", headers={"Authorization": f"Bearer {token}"}) as got:
            figures = await got.text()
        assert "teleassist_carephone_requests_asked_total 7.0" in figures
        assert "teleassist_carephone_requests_timed_out_total 1.0" in figures

    # A starts again: the call that died with it is forgotten at once. A call ringing on it
    # when it stops cleanly is forgotten as it stops.
    await asyncio.to_thread(cluster.a.start)
    assert not await _held_by(cluster.url, second, "hub-a")
    third = f"third-{cid}@127.0.0.1"
    with SipSocket(cluster.a_sip) as unit:
        unit.send(invite(cid, third, unit.port))
        assert await _provisional(unit) == 180
        await eventually(lambda: _held_by(cluster.url, third, "hub-a"), timeout=30)
        await asyncio.to_thread(cluster.a.stop)
    assert not await _held_by(cluster.url, third, "hub-a")


async def _rings(http: aiohttp.ClientSession, desk: Desk, alarm_id: str, count: int) -> bool:
    entries = await _unit_calls(http, desk, alarm_id)
    return sum(1 for e in entries if not e.get("status")) >= count


async def _dial_on_a_media_and_hang_up_on_b(
    cluster: Cluster, on_a: aiohttp.ClientSession, desk: Desk, alarm_id: str, tmp_path: Path
) -> None:
    tone = tmp_path / "contact.pcap"
    tone_pcap(tone, 1000.0, 2.0)
    contact = await callee(tmp_path, answering(tone), cluster.pbx_port)
    dialled = await on_a.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(cluster.contact_id)},
        headers=desk.operator,
    )  # fmt: skip
    assert dialled.status == 201, await dialled.text()
    call_id = (await dialled.json())["call_id"]
    await eventually(lambda: _dialled(desk, alarm_id, "answered"), timeout=30)
    # One call out at a time per operator, whichever worker (ADR 0177): B asks A whether
    # the call is still going on (a probe) and refuses a second one.
    again = await desk.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(cluster.contact_id)},
        headers=desk.operator,
    )  # fmt: skip
    refused = await again.json()  # without the claim: 201 and a second call placed by B
    assert (again.status, refused.get("error")) == (409, "call_in_progress"), refused
    peer = RTCPeerConnection()
    try:
        peer.addTrack(ToneTrack(600.0))
        connected = asyncio.Event()

        @peer.on("connectionstatechange")
        def on_state() -> None:
            if peer.connectionState == "connected":
                connected.set()

        await peer.setLocalDescription(await peer.createOffer())
        media = await desk.client.post(
            f"/api/console/dials/{call_id}/media", json={"sdp": peer.localDescription.sdp},
            headers=desk.operator,
        )  # fmt: skip
        assert media.status == 200, await media.text()
        answer = (await media.json())["sdp"]
        assert answer["type"] == "answer"
        await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(connected.wait(), 30)  # ICE and DTLS with A's peer
        # The contact speaks, then presses 1 ("on my way"), then waits for the centre's BYE.
        await eventually(lambda: _dialled(desk, alarm_id, "on_my_way"), timeout=30)
        hung = await desk.client.post(f"/api/console/dials/{call_id}/hangup", headers=desk.operator)
        assert hung.status == 200, await hung.text()
        assert (await hung.json()) == {"call_id": call_id, "outcome": "answered"}
    finally:
        await peer.close()
    out, _ = await contact.communicate()  # A's BYE reached the contact
    assert contact.returncode == 0, out.decode(errors="replace")[-1500:]
    await eventually(lambda: _dialled(desk, alarm_id, "dial_ended"), timeout=30)
    # Over: neither worker has it any more.
    gone = await desk.client.post(f"/api/console/dials/{call_id}/hangup", headers=desk.operator)
    assert gone.status == 404


async def _dialled(desk: Desk, alarm_id: str, what: str) -> bool:
    """Whether the alarm's history has the call out's ``what`` (an outcome, or an action)."""
    async with desk.client.get(f"/api/alarms/{alarm_id}", headers=desk.operator) as response:
        history = (await response.json())["history"]
    return any(
        e["action"] == what or (e["action"] == "dialled" and e["detail"].get("outcome") == what)
        for e in history
    )


async def _held_by(url: str, call_id: str, worker: str) -> bool:
    """Whether ``carephone_calls`` says ``worker`` holds ``call_id``."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            row = await session.get(CarephoneCallRow, call_id)
            return row is not None and row.worker == worker
    finally:
        await engine.dispose()


async def _provisional(unit: SipSocket) -> int:
    """The first answer other than ``100 Trying``."""
    while True:
        status = await unit.astatus()
        if status != 100:
            return status
