"""A unit's speech call rings until an operator takes it (ADR 0160).

The hub answers a carephone's ``INVITE`` with ``180 Ringing`` and ties it to the home's
alarm; the operator accepting that alarm answers it (``200 OK`` on the INVITE's own path,
UDP or TCP), and so does a timeout, after which the unit hears the hold message. A unit
that hangs up while it rings gets ``487`` and its alarm says so. SIPp plays the unit where
a whole call is played; a raw socket where the test needs every message (retransmissions,
replays, bad requests). No clock is asserted: waits are for events, bounded.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from hub.carephones.app import SCAIP_RECEIVER, SCAIP_SPEECH
from hub.carephones.speech import load_hold_message
from tests.hub.carephones.rtp_tone import dominant_hz, tone_pcap
from tests.hub.carephones.sipp import needs_sipp, run_sipp
from tests.hub.carephones.sipunit import (
    Loudspeaker,
    SipSocket,
    SpeechHub,
    call_scenario,
    cancelling_scenario,
    header,
    held_scenario,
    invite,
    request,
    resolve,
    ringing_call,
    unit_calls,
)
from tests.hub.carephones.test_scaip import ports
from tests.hub.ingest.helpers import eventually

pytestmark = [pytest.mark.broker, needs_sipp]


async def test_the_call_rings_until_the_operator_accepts_its_alarm(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub()).parts
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 3.0)
    loudspeaker = await Loudspeaker.open()
    unit = asyncio.ensure_future(
        run_sipp(
            tmp_path, "held", held_scenario(cid, pcap, 3000, loudspeaker.port), ports(hub)["udp"]
        )
    )
    try:
        call = await ringing_call(hub)
        # Ringing: tied to its alarm, no RTP port yet, and every console sees it.
        assert call.alarm_id == alarm["id"]
        assert call.local_port == 0
        (entry,) = await unit_calls(hub, alarm["id"], 1)
        assert "status" not in entry["detail"]
        voice = await hub.client.get(
            f"/api/console/alarms/{alarm['id']}/voice", headers=hub.operator
        )
        assert (await voice.json())["unit_call"]["status"] == "ringing"

        accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
        assert accepted.status == 200, await accepted.text()
        await eventually(lambda: call.state == "answered", 30)
        assert call.answered_by == "operator"
        # Answered with nobody speaking yet: the unit hears the hold message.
        await eventually(lambda: len(loudspeaker.samples) >= 8000, 30)
        assert float(np.std(loudspeaker.samples)) > 100
    finally:
        run = await unit
        loudspeaker.close()
    assert run.returncode == 0, (run.errors, run.output)
    assert call.acked.is_set()
    assert call.packets >= 100
    assert abs(dominant_hz(list(call.audio)[-4000:], 8000) - 1000) < 10
    entries = await unit_calls(hub, alarm["id"], 3)
    assert [e["detail"].get("status") for e in entries] == [None, "answered", "ended"]
    assert entries[1]["detail"]["by"] == "operator"


async def test_nobody_takes_it_so_the_hub_answers_with_the_hold_message(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_speech_ring_s=0.5, scaip_hold_message="en")).parts
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 2.0)
    loudspeaker = await Loudspeaker.open()
    run = await run_sipp(
        tmp_path, "timeout", held_scenario(cid, pcap, 2500, loudspeaker.port), ports(hub)["udp"]
    )
    loudspeaker.close()
    assert run.returncode == 0, (run.errors, run.output)
    entries = await unit_calls(hub, alarm["id"], 3)
    # (recorded by tasks of their own: found by status, whatever order they were written in)
    rang = next(e["detail"] for e in entries if "status" not in e["detail"])
    answered = next(e["detail"] for e in entries if e["detail"].get("status") == "answered")
    assert answered == {**rang, "status": "answered", "by": "timeout"}
    # What the unit heard is the shipped English message, A-law on the way (correlated
    # with the message decoded by the test's own expansion).
    message = np.array(load_hold_message("en")[:16000], dtype=float)
    heard = np.array(loudspeaker.samples[:16000], dtype=float)
    assert len(heard) == 16000
    assert float(np.corrcoef(message, heard)[0, 1]) > 0.99


async def test_a_unit_that_hangs_up_while_ringing_is_on_its_alarm_and_cannot_be_replayed(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub()).parts
    run = await run_sipp(tmp_path, "cancel", cancelling_scenario(cid), ports(hub)["udp"])
    assert run.returncode == 0, (run.errors, run.output)
    entries = await unit_calls(hub, alarm["id"], 2)
    assert [e["detail"].get("status") for e in entries] == [None, "cancelled"]
    call_id = entries[0]["detail"]["call"]
    assert hub.app[SCAIP_SPEECH].calls == {}
    # Accepting the alarm now answers nothing.
    accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
    assert accepted.status == 200
    # The same INVITE again (a replay, or a retransmission long after): refused, no call.
    with SipSocket(ports(hub)["udp"]) as peer:
        peer.send(invite(cid, call_id, peer.port))
        assert await peer.astatus() == 481
    assert hub.app[SCAIP_SPEECH].calls == {}
    assert hub.app[SCAIP_RECEIVER].refused["replayed_invite"] == 1


async def test_retransmissions_ring_once_and_the_answer_is_resent_until_its_ack(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    speech = hub.app[SCAIP_SPEECH]
    with SipSocket(ports(hub)["udp"]) as peer:
        message = invite(cid, "retrans-1@unit", peer.port)
        peer.send(message)
        assert await peer.astatus() == 180
        peer.send(message)  # the unit did not hear the 180: the same answer, one call
        assert await peer.astatus() == 180
        assert len(speech.calls) == 1
        accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
        assert accepted.status == 200
        first = await peer.areceive()
        assert first.startswith(b"SIP/2.0 200")
        assert b"application/sdp" in first
        # No ACK: the same 200 comes again (RFC 3261 timer G), until the ACK stops it.
        assert await peer.areceive() == first
        peer.send(request("ACK", cid, "retrans-1@unit", peer.port))
        (call,) = speech.calls.values()
        await eventually(call.acked.is_set, 10)
        # A retransmitted INVITE after the answer gets the same 200.
        peer.send(message)
        assert await peer.areceive() == first
        peer.send(request("BYE", cid, "retrans-1@unit", peer.port, cseq=2))
        assert await peer.astatus() == 200
    assert speech.calls == {}


async def test_over_tcp_the_answer_comes_on_the_units_connection(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub(scaip_hold_message="")).parts
    with SipSocket(ports(hub)["tcp"], tcp=True) as peer:
        peer.send(invite(cid, "tcp-1@unit", peer.port))
        assert await peer.astatus() == 180
        accepted = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
        assert accepted.status == 200
        assert await peer.astatus() == 200
        peer.send(request("ACK", cid, "tcp-1@unit", peer.port))
        peer.send(request("BYE", cid, "tcp-1@unit", peer.port, cseq=2))
        assert await peer.astatus() == 200
    entries = await unit_calls(hub, alarm["id"], 3)
    assert [e["detail"].get("status") for e in entries] == [None, "answered", "ended"]


async def test_bad_speech_requests_are_refused_and_counted(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    hub, cid, alarm = (await speech_hub()).parts
    speech, receiver = hub.app[SCAIP_SPEECH], hub.app[SCAIP_RECEIVER]
    with SipSocket(ports(hub)["udp"]) as peer:
        # A stranger's call, an offer without G.711, an offer that is not SDP.
        peer.send(invite("stranger", "bad-1@x", peer.port))
        assert await peer.astatus() == 403
        video = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 40000 RTP/AVP 96\r\n"
        peer.send(invite(cid, "bad-2@unit", peer.port, sdp=video))
        assert await peer.astatus() == 488
        peer.send(invite(cid, "bad-3@unit", peer.port, sdp="this is not sdp"))
        assert await peer.astatus() == 488
        # CANCEL and BYE of calls that do not exist; an ACK of nothing is ignored.
        peer.send(request("CANCEL", cid, "none@unit", peer.port))
        assert await peer.astatus() == 481
        peer.send(request("BYE", cid, "none@unit", peer.port))
        assert await peer.astatus() == 481
        peer.send(request("ACK", cid, "none@unit", peer.port))
        # A malformed INVITE (its body shorter than it says): 400, nothing rings.
        whole = invite(cid, "bad-4@unit", peer.port)
        cut = re.sub(rb"Content-Length: \d+", b"Content-Length: 400", whole)
        peer.send(cut)
        assert await peer.astatus() == 400
        # Then the unit's own call still rings.
        peer.send(invite(cid, "good@unit", peer.port))
        assert await peer.astatus() == 180
    assert [c.call_id for c in speech.calls.values()] == ["good@unit"]
    assert receiver.refused["unknown_caller"] == 1
    assert receiver.refused["bad_sdp"] == 2
    assert receiver.refused["unknown_call"] == 2
    assert receiver.refused["malformed"] >= 1
    metrics = await hub.client.get("/metrics", headers=hub.supervisor)
    text = await metrics.text()
    assert 'teleassist_scaip_refused_total{reason="bad_sdp"} 2.0' in text
    # The good call rings on its alarm; none of the refused ones left a trace there.
    (entry,) = await unit_calls(hub, alarm["id"], 1)
    assert entry["detail"]["call"] == "good@unit"


def test_a_hold_message_that_cannot_be_played_stops_the_start(tmp_path: Path) -> None:
    assert len(load_hold_message("ca")) > 8000 * 3
    assert load_hold_message("") == []
    stereo = tmp_path / "stereo.wav"
    import wave

    with wave.open(str(stereo), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 200)
    with pytest.raises(ValueError, match="mono 16-bit"):
        load_hold_message(str(stereo))
    with pytest.raises(ValueError, match="cannot be read"):
        load_hold_message("xx")
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(ValueError, match="cannot be read"):
        load_hold_message(str(tmp_path / "bad.wav"))


# -- the alarm is resolved while the call still rings (ADR 0168) -------------------------


async def test_a_call_ringing_when_its_alarm_is_resolved_is_declined_at_once(
    speech_hub: Callable[..., Awaitable[SpeechHub]], tmp_path: Path
) -> None:
    # The operator holds the alarm already, so the unit's call rings until they speak with
    # the home (V); they resolve the alarm without speaking (handled by phone, say).
    hub, cid, alarm = (await speech_hub(accepted=True)).parts
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 1.0)
    # SIPp plays the unit: INVITE, 180, then the 603 it acknowledges (its run fails on any
    # other answer, a 200 included).
    scenario = call_scenario(cid, pcap, 0, expect=603, ringing=True)
    unit = asyncio.ensure_future(run_sipp(tmp_path, "declined", scenario, ports(hub)["udp"]))
    try:
        call = await ringing_call(hub)
        assert call.alarm_id == alarm["id"]
        await resolve(hub, alarm)
    finally:
        run = await unit
    assert run.returncode == 0, (run.errors, run.output)
    # Refused, never answered: no RTP port was opened, no hold message played.
    assert (call.outcome, call.ended_by, call.local_port, call.hold_sent) == (
        "declined", "resolved", 0, 0,
    )  # fmt: skip
    assert hub.app[SCAIP_SPEECH].calls == {}
    entries = await unit_calls(hub, alarm["id"], 2)
    assert [(e["detail"].get("status"), e["detail"].get("by")) for e in entries] == [
        (None, None), ("declined", "resolved"),
    ]  # fmt: skip


async def test_the_decline_is_resent_until_its_ack_and_a_retransmitted_invite_gets_it(
    speech_hub: Callable[..., Awaitable[SpeechHub]],
) -> None:
    hub, cid, alarm = (await speech_hub(accepted=True)).parts
    speech = hub.app[SCAIP_SPEECH]
    with SipSocket(ports(hub)["udp"]) as peer:
        message = invite(cid, "declined-1@unit", peer.port)
        peer.send(message)
        assert await peer.astatus() == 180
        await ringing_call(hub)
        await resolve(hub, alarm)
        declined = await peer.areceive()
        assert declined.startswith(b"SIP/2.0 603 Decline\r\n")
        assert header(declined, "reason") == 'SIP;cause=603;text="the alarm was resolved"'
        assert ";tag=" in header(declined, "to")
        # Not acknowledged: the same 603 again (RFC 3261 timer G) ...
        assert await peer.areceive() == declined
        # ... and to the INVITE sent again (the unit missed it), not a refusal as a replay.
        peer.send(message)
        assert await peer.areceive() == declined
        peer.send(request("ACK", cid, "declined-1@unit", peer.port))
        await eventually(lambda: "declined-1@unit" not in speech._finals, 10)
    assert speech.calls == {}
    assert hub.app[SCAIP_RECEIVER].refused["replayed_invite"] == 0
    # An alarm resolved with no call ringing on it declines nothing else: a new call of the
    # home, tied to no open alarm, rings.
    with SipSocket(ports(hub)["udp"]) as peer:
        peer.send(invite(cid, "after@unit", peer.port))
        assert await peer.astatus() == 180
    assert [c.call_id for c in speech.calls.values()] == ["after@unit"]
