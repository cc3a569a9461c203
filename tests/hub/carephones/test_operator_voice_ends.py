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

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from hub.carephones.console_leg import answer_offer, operator_peer
from hub.carephones.speech import SpeechCall, SpeechCalls
from hub.clock import ManualClock
from integrations.carephones.scaip.media import PCMA
from tests.hub.carephones.conftest import T0
from tests.hub.carephones.peers import browser_offer

# Only a bound for a failure to show (the speaker never ending), not a measured time.
_BOUND_S = 10.0


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


async def test_a_speaker_cancelled_again_while_it_stops_its_sender_ends_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The call ends and the hub stops at once: the speaker's task is cancelled a second time
    # while it waits for its sender to stop. Before, that second cancel ended the speaker
    # there and then, its sender still running with nobody to await it.
    speech, call = a_live_call()
    sending, stopping, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    speaker_done_when_sender_ended: list[bool] = []

    async def sender(_call: SpeechCall, _track: Any) -> None:
        sending.set()
        try:
            await asyncio.Event().wait()  # no frame ever comes
        finally:
            stopping.set()
            await stop.wait()  # its stopping takes a moment
            speaker_done_when_sender_ended.append(speaker.done())

    monkeypatch.setattr(speech, "_speak", sender)
    try:
        speech.speak(call, cast(Any, None))
        [speaker] = speech._timers
        await sending.wait()
        speaker.cancel()
        await stopping.wait()  # the speaker waits for its sender
        speaker.cancel()  # again
        stop.set()
        with pytest.raises(asyncio.CancelledError):
            await speaker
        assert speaker_done_when_sender_ended == [False]
        assert not speech._timers
    finally:
        speech.close()
