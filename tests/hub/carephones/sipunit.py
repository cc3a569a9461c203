"""A SCAIP unit calling the centre for speech, as the speech-call tests play it.

Shared by ``test_scaip_ringing.py``, ``test_scaip_speech.py``, ``test_scaip_bye.py`` and
``test_scaip_link.py`` (they each had their own copy): a hub taking speech calls with a
registered unit and its panic alarm (:func:`start_speech_hub`, or the ``speech_hub``
fixture), SIPp scenarios for the unit's call, the unit's loudspeaker (a UDP socket decoding
A-law RTP), and a raw SIP socket for tests that must see every message.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientWebSocketResponse
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from hub.carephones.app import SCAIP_SPEECH
from hub.carephones.speech import SpeechCall
from hub.clock import ManualClock
from hub.settings import HubSettings
from tablet_app.audio import ToneTrack
from teleassist.localbroker import MosquittoBroker
from tests.hub.carephones.conftest import T0, Dc09Hub
from tests.hub.carephones.sipp import mrq
from tests.hub.carephones.test_scaip import ports, register, send, start_scaip_hub
from tests.hub.ingest.helpers import eventually


@dataclass
class SpeechHub:
    """A hub taking speech calls, its unit (``cid``) and, when raised, the unit's alarm."""

    hub: Dc09Hub
    cid: str
    device_id: str
    home_id: int
    alarm: dict[str, Any]

    @property
    def parts(self) -> tuple[Dc09Hub, str, dict[str, Any]]:
        """(hub, unit's cid, its alarm)."""
        return self.hub, self.cid, self.alarm

    @property
    def udp(self) -> int:
        return ports(self.hub)["udp"]

    @property
    def tcp(self) -> int:
        return ports(self.hub)["tcp"]


async def start_speech_hub(
    aiohttp_client: Any,
    settings: HubSettings,
    broker: MosquittoBroker,
    tmp_path: Path,
    *,
    prefix: str = "r",
    accepted: bool = False,
    **overrides: Any,
) -> SpeechHub:
    """A hub taking speech calls (ringing 120 s unless ``overrides`` say otherwise), a unit
    registered with its caller id, and the panic alarm its MESSAGE raised (accepted by the
    operator first with ``accepted``)."""
    options = {"scaip_speech_enabled": True, "scaip_speech_ring_s": 120.0, **overrides}
    hub = await start_scaip_hub(
        aiohttp_client, settings, broker, ManualClock(T0), f"{prefix}{secrets.token_hex(3)}",
        **options,
    )  # fmt: skip
    cid = f"{hub.tag}u"
    device_id, home_id = await register(hub, cid, caller_id=f"sip:{cid}@127.0.0.1")
    # The alarm first (its crd names the SIP channel the call will come from).
    await send(hub, tmp_path, mrq(cid, "R1", "10", crd=f"sip:{cid}@127.0.0.1"), 200, ref="R1")
    (alarm,) = await hub.wait_alarms(home_id)
    if accepted:
        await accept(hub, alarm)
    return SpeechHub(hub, cid, device_id, home_id, alarm)


async def accept(hub: Dc09Hub, alarm: dict[str, Any]) -> None:
    """The operator accepts ``alarm``."""
    done = await hub.client.post(f"/api/alarms/{alarm['id']}/accept", headers=hub.operator)
    assert done.status == 200, await done.text()


async def resolve(hub: Dc09Hub, alarm: dict[str, Any]) -> None:
    """The operator resolves ``alarm``."""
    done = await hub.client.post(
        f"/api/alarms/{alarm['id']}/resolve", json={"outcome": "ambulance"}, headers=hub.operator
    )
    assert done.status == 200, await done.text()


async def history(hub: Dc09Hub, alarm_id: str) -> list[dict[str, Any]]:
    """The alarm's ``unit_calling`` entries."""
    response = await hub.client.get(f"/api/alarms/{alarm_id}", headers=hub.operator)
    assert response.status == 200
    return [e for e in (await response.json())["history"] if e["action"] == "unit_calling"]


async def unit_calls(hub: Dc09Hub, alarm_id: str, count: int) -> list[dict[str, Any]]:
    """The alarm's unit_calling entries, once there are ``count`` of them."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal found
        found = await history(hub, alarm_id)
        return len(found) >= count

    await eventually(enough, timeout=30)
    return found


async def ringing_call(hub: Dc09Hub) -> SpeechCall:
    """The unit's call, once it rings and its alarm is found."""
    speech = hub.app[SCAIP_SPEECH]

    def found() -> list[SpeechCall]:
        return [c for c in speech.calls.values() if c.state == "ringing" and c.alarm_id]

    await eventually(lambda: bool(found()), 30)
    return found()[0]


# -- the unit's loudspeaker --------------------------------------------------------------


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


# -- SIPp scenarios of the unit's call ---------------------------------------------------


def _invite(user: str, media_port: str, tag: str, branch: str) -> str:
    # The unit's INVITE with its G.711 offer (PCMA, PCMU, telephone events).
    return f"""  <send retrans="500">
    <![CDATA[
INVITE sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
Max-Forwards: 70
From: <sip:{user}@[local_ip]:[local_port]>;tag={tag}
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
"""


def _ack(user: str, tag: str, branch: str) -> str:
    # The ACK of the INVITE's final answer (the same branch: RFC 3261 17.1.1.3 for a non-2xx).
    return f"""  <send>
    <![CDATA[
ACK sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
Max-Forwards: 70
From: <sip:{user}@[local_ip]:[local_port]>;tag={tag}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0
    ]]>
  </send>
"""


_TAG = "[pid]SIPpTag01[call_number]"


def call_scenario(
    user: str, pcap: Path, talk_ms: int, expect: int = 200, hear_on: int | None = None,
    *, centre_hangs_up: bool = False, ringing: bool = False,
) -> str:  # fmt: skip
    """The unit calls: INVITE with a G.711 offer, ACK, plays ``pcap``, then BYE. With
    ``hear_on`` the offer asks for our audio on that port (the test's own socket, standing
    for the unit's loudspeaker) instead of SIPp's. With ``centre_hangs_up`` the unit waits
    (up to ``talk_ms``) for the centre's BYE instead, and answers it 200 (ADR 0160). With
    ``ringing`` the call must ring (180) before its final answer. A final answer other than
    ``200`` (``expect``) is acknowledged and ends the scenario."""
    media_port = str(hear_on) if hear_on else "[media_port]"
    text = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="SCAIP unit call">\n'
    text += _invite(user, media_port, _TAG, "[branch]")
    text += '  <recv response="100" optional="true"/>\n'
    text += f'  <recv response="180" optional="{"false" if ringing else "true"}"/>\n'
    text += f'  <recv response="{expect}"/>\n'
    text += _ack(user, _TAG, "[branch]")
    if expect != 200:
        return text + "</scenario>\n"
    return (
        text
        + f"""  <nop>
    <action>
      <exec play_pcap_audio="{pcap}"/>
    </action>
  </nop>
{_centre_bye() if centre_hangs_up else _unit_bye(user, talk_ms)}</scenario>
"""
    )


def held_scenario(user: str, pcap: Path, talk_ms: int, hear_on: int) -> str:
    """The unit's call, which must ring (180) before it is answered."""
    return call_scenario(user, pcap, talk_ms, hear_on=hear_on, ringing=True)


def cancelling_scenario(user: str) -> str:
    """The unit calls, hears it ring, and hangs up before anyone answers."""
    tag, branch = "unit[pid][call_number]", "z9hG4bK-[pid]-[call_number]"
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="unit hangs up while ringing">
{_invite(user, "[media_port]", tag, branch)}  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="300"/>
  <send retrans="500">
    <![CDATA[
CANCEL sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
Max-Forwards: 70
From: <sip:{user}@[local_ip]:[local_port]>;tag={tag}
To: <sip:arc@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
{_ack(user, tag, branch)}</scenario>
"""


def _unit_bye(user: str, talk_ms: int) -> str:
    # The unit talks for talk_ms, then hangs up.
    return f"""  <pause milliseconds="{talk_ms}"/>
  <send retrans="500">
    <![CDATA[
BYE sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[local_ip]:[local_port]>;tag={_TAG}
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"""


def _centre_bye() -> str:
    # The centre hangs up: its BYE, answered 200 in its own transaction.
    return """  <recv request="BYE" timeout="60000"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
    ]]>
  </send>
"""


# -- a raw socket playing the unit -------------------------------------------------------


def invite(
    user: str, call_id: str, port: int, sdp: str | None = None, *, contact: str | None = None
) -> bytes:
    """The unit's INVITE (``contact``: its Contact header's value; none by default)."""
    body = sdp if sdp is not None else (
        "v=0\r\no=unit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    )  # fmt: skip
    extra = [("Contact", contact)] if contact is not None else []
    return request("INVITE", user, call_id, port, body, content_type="application/sdp", extra=extra)


def request(
    method: str, user: str, call_id: str, port: int, body: str = "", *, content_type: str = "",
    cseq: int = 1, extra: list[tuple[str, str]] | None = None,
) -> bytes:  # fmt: skip
    """A request of the unit's dialog (``extra``: more headers)."""
    head = [
        f"{method} sip:arc@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id.split('@')[0]}",
        "Max-Forwards: 70",
        f"From: <sip:{user}@127.0.0.1>;tag=u{call_id.split('@')[0]}",
        "To: <sip:arc@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *(f"{name}: {value}" for name, value in extra or []),
    ]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    head.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def answer_to(message: bytes, status: int, reason: str) -> bytes:
    """The unit's answer to the hub's request: its Via, From, To, Call-ID and CSeq copied."""
    head = message.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    copied = [
        line for line in head[1:]
        if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")
    ]  # fmt: skip
    return ("\r\n".join([f"SIP/2.0 {status} {reason}", *copied, "Content-Length: 0"])
            + "\r\n\r\n").encode()  # fmt: skip


def header(message: bytes, name: str) -> str:
    """The value of header ``name`` (lower case) in ``message``."""
    for line in message.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name} in {message!r}")


class SipSocket:
    """A UDP socket on the loopback sending to the hub's SCAIP port, reading its answers."""

    def __init__(self, hub_port: int, *, tcp: bool = False) -> None:
        self.tcp = tcp
        if tcp:
            self.sock = socket.create_connection(("127.0.0.1", hub_port), timeout=10)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.settimeout(10)
        self.hub = ("127.0.0.1", hub_port)
        self.port = int(self.sock.getsockname()[1])
        self._buffer = b""

    def __enter__(self) -> SipSocket:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        if self.tcp:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.hub)

    def receive(self) -> bytes:
        """The next message (a blocking read in a thread: the hub's loop keeps running)."""
        if not self.tcp:
            return self.sock.recvfrom(65535)[0]
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self.sock.recv(65535)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )  # fmt: skip
        while len(rest) < length:
            rest += self.sock.recv(65535)
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def status(self) -> int:
        return int(self.receive().split(b" ", 2)[1])

    async def areceive(self) -> bytes:
        return await asyncio.to_thread(self.receive)

    async def astatus(self) -> int:
        return await asyncio.to_thread(self.status)


# -- the operator's browser speaking with the home ---------------------------------------


class ConsoleVoice:
    """The console's "speak with the home" as the browser plays it: ``POST …/voice``, then
    WebRTC signalling over ``/api/family/ws`` from an aiortc peer sending a 600 Hz tone (the
    operator's voice)."""

    def __init__(self, hub: Dc09Hub) -> None:
        self.hub = hub
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.peer = RTCPeerConnection()
        self.call_id: int | None = None
        self._ws: ClientWebSocketResponse | None = None
        self._reader: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ConsoleVoice:
        self._ws = ws = await self.hub.client.ws_connect(
            "/api/family/ws", headers=self.hub.operator
        )

        async def read() -> None:
            async for message in ws:
                self.events.put_nowait(message.json())

        self._reader = asyncio.ensure_future(read())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.peer.close()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def next_event(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next live event of ``kind`` whose fields are ``match``."""
        async with asyncio.timeout(30):
            while True:
                event = await self.events.get()
                if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                    return event

    async def start(self, alarm_id: str) -> int:
        """Speak with the home of ``alarm_id``: its call id, once the home accepted it."""
        started = await self.hub.client.post(
            f"/api/console/alarms/{alarm_id}/voice", headers=self.hub.operator
        )
        assert started.status == 201, await started.text()
        self.call_id = int((await started.json())["call_id"])
        await self.next_event("call.state", call_id=self.call_id, status="accepted")
        return self.call_id

    async def connect(self) -> MediaStreamTrack:
        """Offer, answer, connected: what the home sends."""
        assert self._ws is not None
        assert self.call_id is not None
        self.peer.addTrack(ToneTrack(600.0))
        received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        self.peer.on("track", received.set_result)
        await self.peer.setLocalDescription(await self.peer.createOffer())
        offer = {"type": "offer", "sdp": self.peer.localDescription.sdp}
        await self._ws.send_json(
            {"type": "call.signal", "call_id": self.call_id, "data": {"sdp": offer}}
        )
        answer = await self.next_event("call.signal", call_id=self.call_id)
        await self.peer.setRemoteDescription(
            RTCSessionDescription(answer["data"]["sdp"]["sdp"], "answer")
        )
        await self.next_event("call.state", call_id=self.call_id, status="connected")
        return await asyncio.wait_for(received, 20)

    async def hang_up(self) -> None:
        """The operator hangs up; returns once the call is ended."""
        assert self._ws is not None
        await self._ws.send_json({"type": "call.hangup", "call_id": self.call_id})
        await self.next_event("call.state", call_id=self.call_id, status="ended")
