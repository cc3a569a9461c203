"""The hub's own WebRTC peers (the operator's legs of carephone calls and calls out) use the
centre's STUN/TURN settings, with TURN credentials a real coturn accepts; none configured,
host candidates only (never aiortc's default public STUN server)."""

from __future__ import annotations

from aiohttp import web
from aiortc import RTCPeerConnection

from hub.appkeys import CLOCK
from hub.carephones.console_leg import hub_rtc_configuration
from hub.clock import ManualClock
from hub.family.settings import FAMILY_SETTINGS, FamilySettings
from tests.family.test_turn import SECRET, coturn
from tests.instants import machine_now

__all__ = ["coturn"]  # the fixture, used by name


def app_with(settings: FamilySettings | None) -> web.Application:
    app = web.Application()
    # coturn checks a credential's expiry against the machine's clock.
    app[CLOCK] = ManualClock(machine_now())
    if settings is not None:
        app[FAMILY_SETTINGS] = settings
    return app


def test_without_servers_the_hub_gathers_host_candidates_only() -> None:
    assert hub_rtc_configuration(app_with(None)).iceServers == []
    assert hub_rtc_configuration(app_with(FamilySettings())).iceServers == []


async def test_the_hubs_leg_gets_a_relay_from_the_centres_coturn(
    coturn: int, loopback: None
) -> None:
    settings = FamilySettings(
        stun_urls=[f"stun:127.0.0.1:{coturn}"],
        turn_urls=[f"turn:127.0.0.1:{coturn}?transport=udp"],
        turn_secret=SECRET,
    )
    configuration = hub_rtc_configuration(app_with(settings))
    stun, turn = configuration.iceServers
    assert stun.urls == [f"stun:127.0.0.1:{coturn}"]
    assert turn.username is not None
    assert turn.username.endswith(":hub")
    pc = RTCPeerConnection(configuration)
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    assert "typ relay" in sdp, sdp
    assert "typ host" in sdp


async def test_a_wrong_turn_secret_gives_no_relay_and_the_leg_still_works(
    coturn: int, loopback: None
) -> None:
    settings = FamilySettings(
        turn_urls=[f"turn:127.0.0.1:{coturn}?transport=udp"], turn_secret="not-the-secret"
    )
    pc = RTCPeerConnection(hub_rtc_configuration(app_with(settings)))
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    assert "typ relay" not in sdp
    assert "typ host" in sdp
