"""The task sending the operator's voice to a call ends with its call or its peer (ADR 0177
§9). aiortc does not end the remote track of a peer closed before its receiver started, so a
speaker that only waited on the track leaked until the hub stopped, one per such call. A real
browser-side aiortc peer makes the offer; the hub's peer never connects (the browser is not
given the answer), so no frame ever arrives: only the end of the call or the peer's close can
end the speaker. No SIP, no clock.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from hub.carephones.console_leg import answer_offer, operator_peer
from hub.carephones.speech import SpeechCall, SpeechCalls
from hub.clock import ManualClock
from integrations.carephones.scaip.media import PCMA
from tests.hub.carephones.conftest import T0
from tests.hub.carephones.test_dial_offer import browser_offer

# Only a bound for a failure to show (the speaker never ending), not a measured time.
_BOUND_S = 10.0


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def a_live_call() -> tuple[SpeechCalls, SpeechCall]:
    speech = SpeechCalls(book=cast(Any, None), clock=ManualClock(T0), host="127.0.0.1")
    call = SpeechCall("c1@test", None, T0, PCMA, ("127.0.0.1", 9))
    speech.calls[call.call_id] = call  # live: its speaker runs until something ends it
    return speech, call


@pytest.mark.parametrize(
    "ending", ["peer closed after its offer", "answer failed", "call ended before ICE"]
)
async def test_the_speaker_ends_with_its_peer_or_its_call(
    ending: str, loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    speech, call = a_live_call()
    pc = operator_peer(speech, call, RTCConfiguration(iceServers=[]))
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offer = await browser_offer(browser)
        if ending == "peer closed after its offer":
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        elif ending == "answer failed":

            async def fails(_pc: RTCPeerConnection) -> Any:
                raise RuntimeError("aiortc broke")

            monkeypatch.setattr(RTCPeerConnection, "createAnswer", fails)
            with pytest.raises(RuntimeError):
                await answer_offer(pc, offer)  # closes pc
        else:
            await answer_offer(pc, offer)
        # The operator's track came with the offer: its speaker runs.
        [speaker] = speech._timers
        assert not speaker.done()

        if ending == "peer closed after its offer":
            await pc.close()
        elif ending == "call ended before ICE":
            speech.end(call, "operator")  # the peer stays open, never connected
        assert (pc.connectionState == "closed") == (ending != "call ended before ICE")
        assert (call.call_id in speech.calls) == (ending != "call ended before ICE")

        await asyncio.wait_for(speaker, _BOUND_S)
        assert speaker.result() is None
        assert not speech._timers
    finally:
        await browser.close()
        await pc.close()
        speech.close()
