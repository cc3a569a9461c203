"""Stand-ins for the operator's WebRTC leg in tests without aiortc: a peer as far as the hub's
side sees it, an ICE candidate, and a real browser-side offer for those with aiortc."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiortc import RTCPeerConnection

from tablet_app.audio import ToneTrack


class Peer:
    """An aiortc peer as far as the hub's side of the leg sees it: its answer, its close."""

    def __init__(self, name: str) -> None:
        self.localDescription = SimpleNamespace(sdp=f"v=0 {name}")
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def candidate(n: int) -> dict[str, Any]:
    """The browser's ICE candidate number ``n`` (a host candidate on 10.0.0.n)."""
    return {
        "candidate": f"candidate:{n} 1 udp 2122260223 10.0.0.{n} 5000{n} typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }


async def browser_offer(browser: RTCPeerConnection) -> str:
    """``browser``'s offer, sending a 600 Hz tone as the operator's voice."""
    browser.addTrack(ToneTrack(600.0))
    await browser.setLocalDescription(await browser.createOffer())
    return str(browser.localDescription.sdp)
