"""Click-to-call from the alarm's card (ADR 0143): the operator holding an alarm calls a
contact through the centre's PBX (SIPp answering as the PBX and the contact: it answers,
speaks, presses "1"), and the alarm's history gets the outcome, "on my way" and the end.
A ringing call the operator hangs up is cancelled (CANCEL, then the 487 acknowledged).
Every refusal of the route has its test."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.app import SESSIONMAKER, SETTINGS
from hub.carephones.app import SCAIP_SPEECH
from hub.clock import ManualClock
from hub.console.dial import DIALLER, normalise_number, pbx_of, sip_destination
from hub.db import make_engine, make_sessionmaker
from hub.db.models import Contact, Resident
from hub.family.models import AlarmAcknowledgement, AlarmNotice
from hub.settings import HubSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0, Dc09Hub
from tests.hub.carephones.rtp_tone import tone_pcap
from tests.hub.carephones.sipp import free_udp_tcp_port, mrq, needs_sipp
from tests.hub.carephones.test_calling_out import _REPLY_HEAD, DTMF_1, answering, callee
from tests.hub.carephones.test_scaip import register, send, start_scaip_hub

pytestmark = [pytest.mark.broker, needs_sipp]

CANCELLED = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ringing, then cancelled">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
  <recv request="CANCEL"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: 1 INVITE
Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


async def alarm_with_contact(
    hub: Dc09Hub,
    tmp_path: Path,
    phone: str,
    accept_as: dict[str, str] | None = None,
    **unit: Any,
) -> tuple[str, int, int]:
    """A home with a SCAIP unit, its panic alarm accepted by the operator (or
    ``accept_as``), and a contact with ``phone``: (alarm id, resident id, contact id)."""
    cid = f"{hub.tag}{secrets.token_hex(2)}"
    _, home_id = await register(hub, cid, **unit)
    engine = make_engine(hub.app[SETTINGS].database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            resident = await session.scalar(select(Resident).where(Resident.home_id == home_id))
            assert resident is not None
            contact = Contact(resident_id=resident.id, name="Laia", phone=phone, priority=1)
            session.add(contact)
            await session.commit()
            resident_id, contact_id = resident.id, contact.id
    finally:
        await engine.dispose()
    ref = secrets.token_hex(4)
    await send(hub, tmp_path, mrq(cid, ref, "10"), 200, ref=ref)
    (alarm,) = await hub.wait_alarms(home_id)
    accepted = await hub.client.post(
        f"/api/alarms/{alarm['id']}/accept", headers=accept_as or hub.operator
    )
    assert accepted.status == 200, await accepted.text()
    return alarm["id"], resident_id, contact_id


async def family_notice(hub: Dc09Hub, resident_id: int, alarm_id: str) -> int:
    """The alarm's family notice (the hub's bridge may have written it already)."""

    async def existing() -> int | None:
        async with hub.app[SESSIONMAKER]() as session:
            return await session.scalar(
                select(AlarmNotice.id).where(AlarmNotice.alarm_ref == alarm_id)
            )

    found = await existing()
    if found is not None:
        return found
    try:
        async with hub.app[SESSIONMAKER]() as session:
            notice = AlarmNotice(resident_id=resident_id, alarm_ref=alarm_id, event_type="panic")
            session.add(notice)
            await session.commit()
            return notice.id
    except IntegrityError:  # written by the bridge meanwhile
        found = await existing()
        assert found is not None
        return found


async def history_until(hub: Dc09Hub, alarm_id: str, action: str) -> list[dict[str, Any]]:
    """The alarm's history once it holds ``action`` (recorded as the call goes)."""
    async with asyncio.timeout(30):
        while True:
            response = await hub.client.get(f"/api/alarms/{alarm_id}", headers=hub.operator)
            history: list[dict[str, Any]] = (await response.json())["history"]
            if any(e["action"] == action for e in history):
                return history
            await asyncio.sleep(0.05)


@pytest.mark.skipif(not DTMF_1.exists(), reason="SIPp's DTMF pcap files are not installed")
async def test_the_operator_calls_a_contact_who_answers_and_is_on_the_way(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    pbx_port = free_udp_tcp_port()
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"p{secrets.token_hex(3)}",
        scaip_speech_enabled=True, scaip_pbx=f"127.0.0.1:{pbx_port}",
    )  # fmt: skip
    alarm_id, resident_id, contact_id = await alarm_with_contact(hub, tmp_path, "+34 600 11 22 33")
    # The family is told of the alarm (its notice): the contact's key counts there too.
    notice_id = await family_notice(hub, int(resident_id), alarm_id)
    tone = tmp_path / "tone.pcap"
    tone_pcap(tone, 1000.0, 2.0)
    peer = await callee(tmp_path, answering(tone), pbx_port)
    dialled = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(contact_id)},
        headers=hub.operator,
    )  # fmt: skip
    assert dialled.status == 201, await dialled.text()
    body = await dialled.json()
    assert (body["party"], body["name"], body["status"]) == (str(contact_id), "Laia", "calling")
    call = hub.app[SCAIP_SPEECH].calls[body["call_id"]]
    assert call.target == "sip:+34600112233@127.0.0.1"  # the number, through the PBX
    # One call at a time per operator.
    again = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": "resident"}, headers=hub.operator
    )
    assert (again.status, (await again.json())["error"]) == (409, "call_in_progress")

    history = await history_until(hub, alarm_id, "on_my_way")
    [outcome] = [e for e in history if e["action"] == "dialled"]
    assert outcome["detail"] == {
        "call": body["call_id"], "party": str(contact_id), "outcome": "answered"
    }  # fmt: skip
    [on_way] = [e for e in history if e["action"] == "on_my_way"]
    assert (on_way["actor"]["kind"], on_way["actor"]["name"]) == ("contact", "Laia")

    # Counted with the family's answers (as the app's and SMS's are), once, and not noted a
    # second time on the alarm.
    async def acknowledged() -> list[AlarmAcknowledgement]:
        async with hub.app[SESSIONMAKER]() as session:
            return list(
                await session.scalars(
                    select(AlarmAcknowledgement).where(AlarmAcknowledgement.notice_id == notice_id)
                )
            )

    async with asyncio.timeout(30):
        while not (acks := await acknowledged()):
            await asyncio.sleep(0.05)
    assert [(a.party, a.answer) for a in acks] == [(f"c:{contact_id}", "on_my_way")]
    history = await history_until(hub, alarm_id, "on_my_way")
    assert not [e for e in history if (e.get("detail") or {}).get("family_answer")]

    # Someone else cannot hang it up; its caller can.
    other = await hub.client.post(
        f"/api/console/dials/{body['call_id']}/hangup", headers=hub.supervisor
    )
    assert (other.status, (await other.json())["error"]) == (403, "not_your_call")
    hung = await hub.client.post(
        f"/api/console/dials/{body['call_id']}/hangup", headers=hub.operator
    )
    assert hung.status == 200, await hung.text()
    history = await history_until(hub, alarm_id, "dial_ended")
    [ended] = [e for e in history if e["action"] == "dial_ended"]
    assert ended["detail"]["party"] == str(contact_id)
    assert ended["detail"]["ended_by"] == ended["actor"]["name"]  # the operator
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
    alarm = await (await hub.client.get(f"/api/alarms/{alarm_id}", headers=hub.operator)).json()
    assert alarm["state"] == "in_contact"
    # Over: its id is gone.
    gone = await hub.client.post(
        f"/api/console/dials/{body['call_id']}/hangup", headers=hub.operator
    )
    assert gone.status == 404


async def test_a_ringing_call_the_operator_hangs_up_is_cancelled(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    pbx_port = free_udp_tcp_port()
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"c{secrets.token_hex(3)}",
        scaip_speech_enabled=True, scaip_pbx=f"127.0.0.1:{pbx_port}",
    )  # fmt: skip
    alarm_id, _, contact_id = await alarm_with_contact(hub, tmp_path, "600112233")
    peer = await callee(tmp_path, CANCELLED, pbx_port)
    dialled = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(contact_id)},
        headers=hub.operator,
    )  # fmt: skip
    assert dialled.status == 201, await dialled.text()
    call = hub.app[SCAIP_SPEECH].calls[(await dialled.json())["call_id"]]
    async with asyncio.timeout(20):
        while not call.remote_to:  # the 180 arrived
            await asyncio.sleep(0.02)
    hung = await hub.client.post(f"/api/console/dials/{call.call_id}/hangup", headers=hub.operator)
    assert (await hung.json())["outcome"] == "cancelled"
    out, _ = await peer.communicate()  # SIPp got the CANCEL and the ACK of its 487
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
    history = await history_until(hub, alarm_id, "dialled")
    [outcome] = [e for e in history if e["action"] == "dialled"]
    assert outcome["detail"]["outcome"] == "cancelled"
    assert not any(e["action"] == "dial_ended" for e in history)  # never answered


async def test_calls_out_are_refused_with_a_reason(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"r{secrets.token_hex(3)}",
        scaip_speech_enabled=True,  # no PBX: phone numbers cannot be dialled
    )  # fmt: skip
    alarm_id, _, contact_id = await alarm_with_contact(hub, tmp_path, "600 11 22 33")
    _, _, strangers = await alarm_with_contact(hub, tmp_path, "600 99 88 77")

    async def dial(party: Any, headers: dict[str, str] | None = None, alarm: str = alarm_id) -> Any:
        response = await hub.client.post(
            f"/api/console/alarms/{alarm}/dial", json={"party": party},
            headers=headers or hub.operator,
        )  # fmt: skip
        return response.status, (await response.json()).get("error")

    assert await dial(str(contact_id)) == (409, "no_pbx")
    assert await dial("resident") == (409, "no_number")  # no phone on its application
    assert await dial("carephone") == (409, "no_carephone")  # registered without a caller id
    assert await dial(str(strangers)) == (404, "not_found")  # another resident's contact
    assert await dial("99999999") == (404, "not_found")
    assert await dial("the neighbour") == (400, "invalid_party")
    assert await dial("") == (400, "invalid_request")
    assert await dial(12) == (400, "invalid_request")
    assert await dial("resident", alarm="nope") == (404, "not_found")
    # Another operator does not call about an alarm the first one holds.
    supervisor_ok = await dial(str(contact_id), hub.supervisor)
    assert supervisor_ok == (409, "no_pbx")  # supervisors may: it is the PBX that is missing
    anonymous = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": "resident"}
    )
    assert anonymous.status == 401
    installer = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": "resident"},
        headers=hub.installer,
    )  # fmt: skip
    assert installer.status == 403
    # Unknown calls.
    for path in ("media", "hangup"):
        response = await hub.client.post(
            f"/api/console/dials/nope/{path}", json={"sdp": "v=0 " * 5}, headers=hub.operator
        )
        assert response.status == 404, path
    # Numbers that are not numbers: a contact's, a carephone's tel: caller id.
    odd, _, odd_contact = await alarm_with_contact(
        hub, tmp_path, "ask at the bar", caller_id="tel:ask-at-the-bar"
    )
    assert await dial(str(odd_contact), alarm=odd) == (409, "bad_number")
    assert await dial("carephone", alarm=odd) == (409, "bad_number")


async def test_without_speech_calling_out_is_unavailable(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"u{secrets.token_hex(3)}"
    )
    alarm_id, _, contact_id = await alarm_with_contact(hub, tmp_path, "600112233")
    response = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(contact_id)},
        headers=hub.operator,
    )  # fmt: skip
    assert (response.status, (await response.json())["error"]) == (409, "dial_unavailable")
    voice = await hub.client.get(f"/api/console/alarms/{alarm_id}/voice", headers=hub.operator)
    assert (await voice.json())["dial"] == {"enabled": False, "phones": False, "carephone": False}
    assert DIALLER in hub.app


def test_numbers_uris_and_the_pbx_setting() -> None:
    assert normalise_number("+34 600-11.22 (33)") == "+34600112233"
    assert normalise_number("ask at the bar") is None
    assert normalise_number("12") is None
    assert normalise_number("+") is None
    assert sip_destination("sip:unit@10.0.0.5:5070;transport=udp") == ("10.0.0.5", 5070)
    assert sip_destination("sip:unit@pbx.example") == ("pbx.example", 5060)
    assert sip_destination("sip:unit@[::1]:5062") == ("::1", 5062)
    assert sip_destination("sip:unit@host:99999") is None
    assert sip_destination("tel:+34600") is None
    assert pbx_of("pbx.local:5060") == ("pbx.local", 5060)
    assert pbx_of("") is None
    assert pbx_of("pbx.local") is None
    assert pbx_of("pbx.local:0") is None
    assert pbx_of("pbx.local:http") is None


async def test_the_operator_calls_the_carephone_back_and_it_is_busy(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """The carephone is called at its SIP caller id (no PBX needed); its refusal is the
    call's outcome in the history, and nothing follows it."""
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"k{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    port = free_udp_tcp_port()
    alarm_id, _, _ = await alarm_with_contact(
        hub, tmp_path, "", caller_id=f"sip:unit@127.0.0.1:{port}"
    )
    voice = await hub.client.get(f"/api/console/alarms/{alarm_id}/voice", headers=hub.operator)
    assert (await voice.json())["dial"] == {"enabled": True, "phones": False, "carephone": True}
    peer = await callee(tmp_path, answering(tmp_path / "none.pcap", status=486), port)
    dialled = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": "carephone"}, headers=hub.operator
    )
    assert dialled.status == 201, await dialled.text()
    assert hub.app[SCAIP_SPEECH].calls[(await dialled.json())["call_id"]].target == (
        f"sip:unit@127.0.0.1:{port}"
    )
    history = await history_until(hub, alarm_id, "dialled")
    [outcome] = [e for e in history if e["action"] == "dialled"]
    assert (outcome["detail"]["party"], outcome["detail"]["outcome"]) == ("carephone", "busy")
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
    # The busy call is over: the operator's next call is not refused as one in progress.
    async with asyncio.timeout(10):
        while hub.app[DIALLER].dials:
            await asyncio.sleep(0.02)


async def test_the_audio_leg_refuses_a_bad_offer_a_second_one_and_other_operators(
    aiohttp_client: Any,
    hub_settings: HubSettings,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
    loopback: None,
) -> None:
    """POST /api/console/dials/{call}/media while the call rings (nobody at the PBX yet)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from tests.hub.carephones.peers import browser_offer

    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"m{secrets.token_hex(3)}",
        scaip_speech_enabled=True, scaip_pbx=f"127.0.0.1:{free_udp_tcp_port()}",
    )  # fmt: skip
    alarm_id, _, contact_id = await alarm_with_contact(hub, tmp_path, "600112233")
    dialled = await hub.client.post(
        f"/api/console/alarms/{alarm_id}/dial", json={"party": str(contact_id)},
        headers=hub.operator,
    )  # fmt: skip
    call_id = (await dialled.json())["call_id"]
    media = f"/api/console/dials/{call_id}/media"

    async def offer(sdp: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = await hub.client.post(media, json={"sdp": sdp}, headers=headers)
        return response.status, await response.json()

    assert (await offer("v=0 v=0 v=0 v=0", hub.operator))[1]["error"] == "invalid_sdp"
    assert (await offer("v=0 " * 3, hub.operator))[0] == 400
    assert (await offer(12, hub.operator))[0] == 400
    assert (await offer("v=0 " * 5, hub.supervisor))[1]["error"] == "not_your_call"
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        sdp = await browser_offer(browser)
        status, answer = await offer(sdp, hub.operator)
        assert status == 200, answer
        assert answer["sdp"]["type"] == "answer"
        assert "m=audio" in answer["sdp"]["sdp"]
        again = await offer(sdp, hub.operator)
        assert (again[0], again[1]["error"]) == (409, "already_connected")
    finally:
        await browser.close()
        await hub.client.post(f"/api/console/dials/{call_id}/hangup", headers=hub.operator)
