"""A SCAIP unit's speech call taken by the hub: SIPp plays the unit (its alarm message, then
an INVITE and a 1 kHz tone as G.711 RTP from a pcap), the hub answers, decodes the audio and
carries it on a WebRTC track; an aiortc peer standing for the operator's browser receives it
over a real DTLS-SRTP connection and finds the tone by FFT."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
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
from tests.hub.carephones.conftest import T0
from tests.hub.carephones.rtp_tone import dominant_hz, tone_pcap
from tests.hub.carephones.sipp import mrq, needs_sipp, run_sipp
from tests.hub.carephones.sipunit import ConsoleVoice, Loudspeaker, SpeechHub, call_scenario
from tests.hub.carephones.test_scaip import ports, register, send, start_scaip_hub
from tests.hub.ingest.helpers import eventually

pytestmark = [pytest.mark.broker, needs_sipp]


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
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    # Answered at once (scaip_speech_ring_s 0), without a hold message: the media chain alone.
    unit = await speech_hub(prefix="v", scaip_speech_ring_s=0.0, scaip_hold_message="")
    hub, cid, alarm, device_id = unit.hub, unit.cid, unit.alarm, unit.device_id
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
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    """The console's own path: the operator accepts the alarm, starts "speak with the home"
    (POST …/voice) and signals over /api/family/ws as the browser does with a tablet; the
    hub's party for the unit answers. Both directions carry their tone."""
    hub, cid, alarm = (await speech_hub(prefix="k", accepted=True)).parts
    # Before the unit calls, the home has nobody to speak with.
    early = await hub.client.post(f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator)
    assert early.status == 409

    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 10.0)
    speech = hub.app[SCAIP_SPEECH]
    ringing: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    speech.on_ringing.append(lambda call: ringing.done() or ringing.set_result(call))
    loudspeaker = await Loudspeaker.open()
    unit_call = asyncio.ensure_future(
        run_sipp(
            tmp_path, "call",
            call_scenario(cid, pcap, 30000, hear_on=loudspeaker.port, centre_hangs_up=True),
            ports(hub)["udp"],
        )
    )  # fmt: skip
    # The alarm is held already: the unit's call rings until the operator speaks (ADR 0160).
    call = await asyncio.wait_for(ringing, 30)
    assert (call.state, call.local_port) == ("ringing", 0)

    try:
        async with ConsoleVoice(hub) as operator:
            await operator.start(alarm["id"])
            assert (call.state, call.answered_by) == ("answered", "voice")
            track = await operator.connect()
            heard: list[int] = []
            async with asyncio.timeout(30):
                while len(heard) < 48000 * 3:
                    frame = await track.recv()
                    data = frame.to_ndarray().reshape(-1)  # type: ignore[union-attr]
                    heard.extend(int(x) for x in data[:: len(frame.layout.channels)])  # type: ignore[union-attr]
            assert abs(dominant_hz(heard[-48000:], 48000) - 1000) < 20
            async with asyncio.timeout(20):
                # The hold message played from the answer until the operator's voice came;
                # then two seconds of the operator.
                while call.sent < 100 or len(loudspeaker.samples) < 16000:
                    await asyncio.sleep(0.1)  # RTP from the hub arrives in real time
            assert call.bridged
            assert abs(dominant_hz(loudspeaker.samples[-8000:], 8000) - 600) < 10
            await operator.hang_up()
    finally:
        loudspeaker.close()
    # The operator's hang-up ended the unit's call too: the hub's BYE, which SIPp (the
    # unit) answered 200 (ADR 0160), and the alarm says so.
    run = await unit_call
    assert run.returncode == 0, (run.errors, run.output)
    await eventually(call.bye_answered.is_set, 30)
    assert (call.ended_by, call.bye_outcome) == ("operator", "ok")
    entries: list[dict[str, Any]] = []

    async def ended() -> bool:
        nonlocal entries
        response = await hub.client.get(f"/api/alarms/{alarm['id']}", headers=hub.operator)
        history = (await response.json())["history"]
        entries = [e for e in history if e["action"] == "unit_calling"]
        return any(e["detail"].get("status") == "ended" for e in entries)

    await eventually(ended, 30)
    assert entries[-1]["detail"]["status"] == "ended"
    assert (entries[-1]["detail"]["by"], entries[-1]["detail"]["bye"]) == ("operator", "ok")
    # Its home has nobody to speak with again.
    again = await hub.client.post(f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator)
    assert again.status == 409
