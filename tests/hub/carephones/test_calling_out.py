"""The centre calls out (ADR 0122): the hub sends an INVITE from the SCAIP endpoint to a SIP
peer - SIPp answering as the carephone or as a contact behind the centre's PBX - which
answers, speaks (a 1 kHz G.711 tone) and presses "1" (an RFC 4733 telephone event from the
pcap Debian ships with SIPp): the hub hears both, then hangs up with a BYE the peer answers.
A busy or silent peer ends the call with its outcome."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest

from hub.carephones.app import SCAIP_BOOK, SCAIP_SPEECH
from hub.clock import ManualClock
from hub.settings import HubSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0
from tests.hub.carephones.rtp_tone import dominant_hz, tone_pcap
from tests.hub.carephones.sipp import SIPP, free_media_port, free_udp_tcp_port, needs_sipp
from tests.hub.carephones.test_scaip import register, start_scaip_hub

pytestmark = [pytest.mark.broker, needs_sipp]

DTMF_1 = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")

_REPLY_HEAD = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""


def answering(tone: Path, status: int = 200) -> str:
    """SIPp as the called party: answer (or refuse with ``status``), speak, press 1."""
    if status != 200:
        return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy callee">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 {status} Refused
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
SIP/2.0 200 OK
{_REPLY_HEAD}
Contact: <sip:callee@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=callee 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
    ]]>
  </send>
  <recv request="ACK"/>
  <nop><action><exec play_pcap_audio="{tone}"/></action></nop>
  <pause milliseconds="2200"/>
  <nop><action><exec play_pcap_audio="{DTMF_1}"/></action></nop>
  <recv request="BYE" timeout="30000"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
</scenario>
"""


async def callee(tmp_path: Path, text: str, port: int) -> asyncio.subprocess.Process:
    assert SIPP is not None
    path = tmp_path / f"callee-{secrets.token_hex(3)}.xml"
    path.write_text(text, encoding="iso-8859-1")
    return await asyncio.create_subprocess_exec(
        SIPP, "-sf", str(path), "-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", str(port),
        "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-nostdin",
        "-timeout", "40s", "-timeout_error",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.skipif(not DTMF_1.exists(), reason="SIPp's DTMF pcap files are not installed")
async def test_the_centre_calls_out_hears_the_callee_and_its_key(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"o{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    cid = f"{hub.tag}c"
    await register(hub, cid)
    unit = hub.app[SCAIP_BOOK].find("", cid)
    assert unit is not None
    tone = tmp_path / "tone.pcap"
    tone_pcap(tone, 1000.0, 2.0)
    port = free_udp_tcp_port()
    peer = await callee(tmp_path, answering(tone), port)
    speech = hub.app[SCAIP_SPEECH]
    call = await speech.call_out(unit, f"sip:{cid}@127.0.0.1:{port}", ("127.0.0.1", port))
    async with asyncio.timeout(30):
        await call.answered.wait()
        assert call.outcome == "answered"
        await call.digit.wait()
    assert call.digits == ["1"]  # "on my way"
    assert abs(dominant_hz(list(call.audio)[-8000:], 8000) - 1000) < 10
    speech.hangup(call)
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
    assert (call.ended_by, speech.calls) == ("centre", {})


async def test_a_busy_callee_ends_the_call_with_its_outcome(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"b{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    cid = f"{hub.tag}c"
    await register(hub, cid)
    unit = hub.app[SCAIP_BOOK].find("", cid)
    assert unit is not None
    speech = hub.app[SCAIP_SPEECH]
    port = free_udp_tcp_port()
    peer = await callee(tmp_path, answering(tmp_path / "none.pcap", status=486), port)
    call = await speech.call_out(unit, f"sip:x@127.0.0.1:{port}", ("127.0.0.1", port))
    async with asyncio.timeout(30):
        await call.finished.wait()
    assert (call.outcome, call.ended_by) == ("busy", "callee")
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
    # Nobody there at all: resent, then given up (a short timer B for the test).
    speech.answer_timeout_s = 1.5
    silent = await speech.call_out(unit, "sip:y@127.0.0.1:9", ("127.0.0.1", free_udp_tcp_port()))
    async with asyncio.timeout(60):
        await silent.finished.wait()
    assert silent.outcome == "no_answer"


def challenging(tone: Path, user: str, password: str) -> str:
    """SIPp as a PBX that wants digest credentials: 401, then it checks the second INVITE's
    Authorization (SIPp's own digest code, which reads only that header: a 407's
    Proxy-Authorization is built the same way) and answers 200 only if it is right."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="PBX with digest">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 401 Unauthorized
{_REPLY_HEAD}
WWW-Authenticate: Digest realm="pbx.test", nonce="a1b2c3d4e5", qop="auth", algorithm=MD5
Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send next="refused">
    <![CDATA[
SIP/2.0 403 Wrong credentials
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
  <label id="good"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
{_REPLY_HEAD}
Contact: <sip:callee@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=callee 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
    ]]>
  </send>
  <recv request="ACK"/>
  <nop><action><exec play_pcap_audio="{tone}"/></action></nop>
  <recv request="BYE" timeout="30000"/>
  <send next="done">
    <![CDATA[
SIP/2.0 200 OK
{_REPLY_HEAD}
Content-Length: 0
    ]]>
  </send>
  <label id="refused"/>
  <recv request="ACK"/>
  <label id="done"/>
</scenario>
"""


@pytest.mark.parametrize(("password", "outcome"), [("s3cret", "answered"), ("wrong", "failed")])
async def test_a_pbx_asking_for_digest_credentials_gets_them(
    password: str,
    outcome: str,
    aiohttp_client: Any,
    hub_settings: HubSettings,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    """RFC 2617/7616 towards the PBX: the 401 is acknowledged, the INVITE sent again with
    Authorization (CSeq 2); SIPp verifies it. Wrong credentials end the call failed
    (one attempt: no loop of challenges)."""
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"g{secrets.token_hex(3)}",
        scaip_speech_enabled=True, scaip_pbx_user="arc", scaip_pbx_password=password,
    )  # fmt: skip
    tone = tmp_path / "tone.pcap"
    tone_pcap(tone, 1000.0, 1.0)
    port = free_udp_tcp_port()
    peer = await callee(tmp_path, challenging(tone, "arc", "s3cret"), port)
    speech = hub.app[SCAIP_SPEECH]
    call = await speech.call_out(None, f"sip:600112233@127.0.0.1:{port}", ("127.0.0.1", port))
    async with asyncio.timeout(30):
        await call.answered.wait()
    assert (call.outcome, call.cseq, call.authenticated) == (outcome, 2, True)
    if outcome == "answered":
        async with asyncio.timeout(20):
            while call.packets < 10:  # its audio comes
                await asyncio.sleep(0.05)
        speech.hangup(call)
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]


async def test_a_challenge_without_credentials_ends_the_call(
    aiohttp_client: Any, hub_settings: HubSettings, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"n{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    port = free_udp_tcp_port()
    peer = await callee(tmp_path, answering(tmp_path / "none.pcap", status=407), port)
    speech = hub.app[SCAIP_SPEECH]
    call = await speech.call_out(None, f"sip:600@127.0.0.1:{port}", ("127.0.0.1", port))
    async with asyncio.timeout(30):
        await call.finished.wait()
    assert (call.outcome, call.authenticated) == ("failed", False)
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]
