"""A SCAIP unit's speech call taken by the hub: SIPp plays the unit (its alarm message, then
an INVITE and a 1 kHz tone as G.711 RTP from a pcap), the hub answers, decodes the audio and
carries it on a WebRTC track; an aiortc peer standing for the operator's browser receives it
over a real DTLS-SRTP connection and finds the tone by FFT."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hub.carephones.app import SCAIP_SPEECH
from hub.clock import ManualClock
from hub.settings import HubSettings
from tablet_app.audio import ToneTrack
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0, Dc09Hub
from tests.hub.carephones.rtp_tone import dominant_hz, tone_pcap
from tests.hub.carephones.sipp import mrq, needs_sipp, run_sipp
from tests.hub.carephones.test_scaip import ports, register, send, start_scaip_hub

pytestmark = [pytest.mark.broker, needs_sipp]


def _alaw_to_linear(code: int) -> int:
    # G.711 A-law expansion (ITU-T G.711 table), written apart from the hub's codec.
    code ^= 0x55
    magnitude = ((code & 0x0F) << 4) + 8
    segment = (code >> 4) & 0x07
    if segment:
        magnitude = (magnitude + 0x100) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


class Loudspeaker(asyncio.DatagramProtocol):
    """The unit's side of the operator's voice: a UDP socket decoding A-law RTP."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    @classmethod
    async def open(cls) -> Loudspeaker:
        loop = asyncio.get_running_loop()
        transport, speaker = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", 0))
        speaker.transport = transport
        speaker.port = transport.get_extra_info("sockname")[1]
        return speaker

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > 12 and data[0] >> 6 == 2 and data[1] & 0x7F == 8:
            self.samples.extend(_alaw_to_linear(b) for b in data[12:])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def call_scenario(
    user: str, pcap: Path, talk_ms: int, expect: int = 200, hear_on: int | None = None
) -> str:
    """The unit calls: INVITE with a G.711 offer, ACK, plays ``pcap``, then BYE. With
    ``hear_on`` the offer asks for our audio on that port (the test's own socket, standing
    for the unit's loudspeaker) instead of SIPp's."""
    media_port = str(hear_on) if hear_on else "[media_port]"
    invite = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="SCAIP unit call">
  <send retrans="500">
    <![CDATA[
INVITE sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To: <sip:arc@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{user}@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=unit 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {media_port} RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="{expect}"/>
"""
    if expect != 200:
        return (
            invite
            + """  <send>
    <![CDATA[
ACK sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:unit@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0
    ]]>
  </send>
</scenario>
"""
        )
    return (
        invite
        + f"""  <send>
    <![CDATA[
ACK sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0
    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio="{pcap}"/>
    </action>
  </nop>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500">
    <![CDATA[
BYE sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""
    )


async def operator_hears(
    track: MediaStreamTrack, seconds: float, speaks: Callable[[MediaStreamTrack], None]
) -> list[int]:
    """What an aiortc peer standing for the operator's browser receives of ``track``, while
    it sends a 600 Hz tone (the operator's voice), handed to ``speaks`` on the hub's side."""
    hub_side, operator = RTCPeerConnection(), RTCPeerConnection()
    hub_side.addTrack(track)
    operator.addTrack(ToneTrack(600.0))
    hub_side.on("track", speaks)
    received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    operator.on("track", received.set_result)
    try:
        await hub_side.setLocalDescription(await hub_side.createOffer())
        await operator.setRemoteDescription(
            RTCSessionDescription(hub_side.localDescription.sdp, "offer")
        )
        await operator.setLocalDescription(await operator.createAnswer())
        await hub_side.setRemoteDescription(
            RTCSessionDescription(operator.localDescription.sdp, "answer")
        )
        remote = await asyncio.wait_for(received, 20)
        samples: list[int] = []
        rate = 48000
        async with asyncio.timeout(seconds + 20):
            while len(samples) < seconds * rate:
                try:
                    frame = await remote.recv()
                except MediaStreamError:
                    break
                rate = frame.sample_rate
                data = frame.to_ndarray().reshape(-1)
                # Opus gives interleaved stereo: keep one channel.
                if len(frame.layout.channels) == 2:
                    data = data[::2]
                samples.extend(int(x) for x in data)
        return samples[-int(rate * 1.0) :] if rate == 48000 else samples
    finally:
        await hub_side.close()
        await operator.close()


async def test_a_units_call_reaches_a_webrtc_peer_with_its_audio(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub: Dc09Hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"v{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    cid = f"{hub.tag}u"
    device_id, home_id = await register(hub, cid, caller_id=f"sip:{cid}@127.0.0.1")
    # The alarm first (its crd names the SIP channel the call will come from) ...
    body = mrq(cid, "S1", "10", crd=f"sip:{cid}@127.0.0.1")
    await send(hub, tmp_path, body, 200, ref="S1")
    (alarm,) = await hub.wait_alarms(home_id)
    assert alarm["rule"] == "panic"
    # ... then the unit's speech call: 6 s of 1 kHz.
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 6.0)
    speech = hub.app[SCAIP_SPEECH]
    answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    speech.on_call = answered.set_result
    loudspeaker = await Loudspeaker.open()
    scenario_text = call_scenario(cid, pcap, 6500, hear_on=loudspeaker.port)
    unit_call = asyncio.ensure_future(run_sipp(tmp_path, "call", scenario_text, ports(hub)["udp"]))
    call = await asyncio.wait_for(answered, 30)
    # Correlated by the caller: the unit, and the alarm it raised a moment before.
    assert (call.unit.device.device_id, call.alarm_id) == (device_id, alarm["id"])
    heard = await operator_hears(call.track, 3.0, lambda t: speech.speak(call, t))
    run = await unit_call
    loudspeaker.close()
    assert run.returncode == 0, (run.errors, run.output)
    assert call.ended_by == "unit"
    assert call.packets >= 200
    assert abs(dominant_hz(list(call.audio)[-8000:], 8000) - 1000) < 10
    # Through Opus over DTLS-SRTP, resampled to 48 kHz by the browser-side peer.
    assert len(heard) > 20000
    assert abs(dominant_hz(heard, 48000) - 1000) < 20
    assert float(np.std(heard)) > 500  # the tone, not silence
    # The operator's 600 Hz reached the unit's side as G.711 RTP, decoded independently.
    assert call.sent >= 50
    assert len(loudspeaker.samples) >= 8000
    assert abs(dominant_hz(loudspeaker.samples[-8000:], 8000) - 600) < 10


async def test_a_call_from_a_stranger_or_without_audio_is_refused(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"w{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 1.0)
    run = await run_sipp(
        tmp_path, "stranger", call_scenario("stranger", pcap, 100, expect=403), ports(hub)["udp"]
    )
    assert run.returncode == 0, (run.errors, run.output)
    assert hub.app[SCAIP_SPEECH].calls == {}
    # A MESSAGE still works beside it; and without speech enabled an INVITE is 405.
    cid = f"{hub.tag}m"
    await register(hub, cid)
    await send(hub, tmp_path, mrq(cid, "M1", "102"), 200, ref="M1")
    plain = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"x{secrets.token_hex(3)}"
    )
    await send(plain, tmp_path, "", 405, method="INVITE", content_type="application/sdp")
    assert SCAIP_SPEECH not in plain.app


async def test_the_operator_holding_the_alarm_speaks_with_the_unit_from_the_console(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """The console's own path: the operator accepts the alarm, starts "speak with the home"
    (POST …/voice) and signals over /api/family/ws as the browser does with a tablet; the
    hub's party for the unit answers. Both directions carry their tone."""
    hub: Dc09Hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"k{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    cid = f"{hub.tag}u"
    _, home_id = await register(hub, cid, caller_id=f"sip:{cid}@127.0.0.1")
    await send(hub, tmp_path, mrq(cid, "S1", "10", crd=f"sip:{cid}@127.0.0.1"), 200, ref="S1")
    (alarm,) = await hub.wait_alarms(home_id)
    accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
    assert accepted.status == 200, await accepted.text()
    # Before the unit calls, the home has nobody to speak with.
    early = await hub.client.post(f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator)
    assert early.status == 409

    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 10.0)
    speech = hub.app[SCAIP_SPEECH]
    answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    speech.on_call = answered.set_result
    loudspeaker = await Loudspeaker.open()
    unit_call = asyncio.ensure_future(
        run_sipp(
            tmp_path, "call", call_scenario(cid, pcap, 10500, hear_on=loudspeaker.port),
            ports(hub)["udp"],
        )
    )  # fmt: skip
    await asyncio.wait_for(answered, 30)

    ws = await hub.client.ws_connect("/api/family/ws", headers=hub.operator)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def read() -> None:
        async for message in ws:
            events.put_nowait(message.json())

    reader = asyncio.ensure_future(read())

    async def next_event(kind: str, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(30):
            while True:
                event = await events.get()
                if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                    return event

    operator = RTCPeerConnection()
    try:
        started = await hub.client.post(
            f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator
        )
        assert started.status == 201, await started.text()
        call_id = (await started.json())["call_id"]
        await next_event("call.state", call_id=call_id, status="accepted")
        operator.addTrack(ToneTrack(600.0))
        received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        operator.on("track", received.set_result)
        await operator.setLocalDescription(await operator.createOffer())
        offer = {"type": "offer", "sdp": operator.localDescription.sdp}
        await ws.send_json({"type": "call.signal", "call_id": call_id, "data": {"sdp": offer}})
        answer = await next_event("call.signal", call_id=call_id)
        await operator.setRemoteDescription(
            RTCSessionDescription(answer["data"]["sdp"]["sdp"], "answer")
        )
        await next_event("call.state", call_id=call_id, status="connected")
        track = await asyncio.wait_for(received, 20)
        heard: list[int] = []
        async with asyncio.timeout(30):
            while len(heard) < 48000 * 3:
                frame = await track.recv()
                data = frame.to_ndarray().reshape(-1)  # type: ignore[union-attr]
                heard.extend(int(x) for x in data[:: len(frame.layout.channels)])  # type: ignore[union-attr]
        assert abs(dominant_hz(heard[-48000:], 48000) - 1000) < 20
        async with asyncio.timeout(20):
            while len(loudspeaker.samples) < 16000:
                await asyncio.sleep(0.1)  # RTP from the hub arrives in real time
        assert abs(dominant_hz(loudspeaker.samples[-8000:], 8000) - 600) < 10
        await ws.send_json({"type": "call.hangup", "call_id": call_id})
        await next_event("call.state", call_id=call_id, status="ended")
    finally:
        await operator.close()
        await ws.close()
        reader.cancel()
        loudspeaker.close()
    run = await unit_call
    assert run.returncode == 0, (run.errors, run.output)
    # The unit hung up: its home has nobody to speak with again.
    again = await hub.client.post(f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator)
    assert again.status == 409
