"""The operator's audio leg of a call out (``hub.console.dial``): an offer whose answering
fails in any way leaves no half-made peer behind (ADR 0177 §8). The peer is closed, the
call's leg cleared, the operator told (``media_failed``, the console's "the voice could not
connect") and the next offer on the same call answered. The failures are injected (aiortc's
own methods patched to raise): no SIP, no broker, no clock.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection

from hub.carephones.console_leg import EARLY_CANDIDATES, OperatorPeer
from hub.console.dial import Dial, _answer_offer
from hub.http import ApiError
from tablet_app.audio import ToneTrack
from tests.hub.carephones.peers import browser_offer


class Speech:
    """What the leg uses of the speech calls: the operator's voice, to the call."""

    def __init__(self) -> None:
        self.spoken: list[tuple[object, Any]] = []

    def speak(self, call: object, track: Any, until: object = None) -> None:
        self.spoken.append((call, track))


def a_dial() -> Dial:
    call = SimpleNamespace(call_id="c1", track=ToneTrack(440.0))
    return Dial(cast(Any, call), "a1", "7", "Laia", 3, cast(Any, None))


@pytest.mark.parametrize("method", ["setRemoteDescription", "createAnswer"])
async def test_an_offer_whose_answer_fails_closes_its_peer_and_the_next_offer_is_answered(
    method: str,
    loopback: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dial, speech, app = a_dial(), Speech(), web.Application()
    failed: list[RTCPeerConnection] = []
    real = getattr(RTCPeerConnection, method)

    async def fails_once(pc: RTCPeerConnection, *args: Any) -> Any:
        if not failed:
            failed.append(pc)
            raise RuntimeError("aiortc broke")
        return await real(pc, *args)

    monkeypatch.setattr(RTCPeerConnection, method, fails_once)
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offer = await browser_offer(browser)
        with (
            caplog.at_level(logging.ERROR, logger="hub.console.dial"),
            pytest.raises(ApiError) as refused,
        ):
            await _answer_offer(app, dial, cast(Any, speech), offer)
        assert (refused.value.status, refused.value.code) == (500, "media_failed")
        [hub_pc] = failed
        assert hub_pc.connectionState == "closed"
        assert dial.pc is None
        [logged] = [r for r in caplog.records if r.name == "hub.console.dial"]
        assert logged.exc_info is not None
        assert "aiortc broke" in str(logged.exc_info[1])

        # The next offer on the same call is answered (not "already_connected").
        answer = await _answer_offer(app, dial, cast(Any, speech), offer)
        assert answer["sdp"] == {"type": "answer", "sdp": dial.pc.localDescription.sdp}
        assert dial.pc is not hub_pc
        assert dial.pc.connectionState != "closed"
        # The operator's voice goes to the call from the new peer.
        call, track = speech.spoken[-1]
        assert call is dial.call
        assert track is dial.pc.getReceivers()[0].track
    finally:
        await browser.close()
        if dial.pc is not None:
            await dial.pc.close()


async def test_a_bad_offer_is_still_invalid_sdp_and_an_offer_cancelled_closes_its_peer(
    loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dial, speech, app = a_dial(), Speech(), web.Application()
    with pytest.raises(ApiError) as refused:
        await _answer_offer(app, dial, cast(Any, speech), "v=0 v=0 v=0 v=0")
    assert (refused.value.status, refused.value.code, dial.pc) == (400, "invalid_sdp", None)

    made: list[RTCPeerConnection] = []

    async def cancelled(pc: RTCPeerConnection, *args: Any) -> None:
        made.append(pc)
        raise asyncio.CancelledError

    monkeypatch.setattr(RTCPeerConnection, "setRemoteDescription", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await _answer_offer(app, dial, cast(Any, speech), "v=0")
    assert (dial.pc, made[0].connectionState) == (None, "closed")


async def test_candidates_beyond_those_kept_are_dropped_with_one_warning_per_leg(
    caplog: pytest.LogCaptureFixture,
) -> None:
    peer = OperatorPeer()
    with caplog.at_level(logging.WARNING, logger="hub.carephones.console_leg"):
        for n in range(EARLY_CANDIDATES + 5):
            await peer.candidate({"candidate": f"candidate:{n} 1 udp 1 10.0.0.1 5000 typ host"})
    assert len(peer.early) == EARLY_CANDIDATES
    warned = [r for r in caplog.records if r.name == "hub.carephones.console_leg"]
    assert len(warned) == 1
    assert "dropped" in warned[0].getMessage()
