"""The family web app in real headless Chromium: chat with a photo, and video calls."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.family.browser import media_browser, signed_in_page
from tests.family.conftest import World
from tests.family.media_samples import Samples

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000


async def frames_decoded(page: Page) -> int:
    """Video frames the page's peer connection has decoded from the other side."""
    return int(await page.evaluate("window.taFamily.call.framesDecoded()"))


async def wait_for_frames(page: Page, minimum: int = 5, timeout: float = 60) -> int:
    """Poll getStats() until ``minimum`` frames were decoded (or fail after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frames = await frames_decoded(page)
        if frames >= minimum:
            return frames
        if loop.time() > deadline:
            state = await page.evaluate(
                "({s: window.taFamily.call.state, c: window.taFamily.call.pc && "
                "window.taFamily.call.pc.connectionState})"
            )
            raise AssertionError(f"only {frames} frames decoded; call {state}")
        await asyncio.sleep(0.5)


async def test_two_family_members_chat_with_a_photo_and_video_call(
    world: World, media_samples: Samples, tmp_path: Path
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna)
    await world.link(maria, pere)
    base = str(world.client.make_url("/"))
    photo = tmp_path / "nena.jpg"
    photo.write_bytes(media_samples.jpeg)
    async with media_browser() as browser:
        a = await signed_in_page(browser, base, anna.username, f"/family/chat/direct/{pere.party}")
        chat_url = a.url
        assert re.search(r"/family/chat/\d+$", chat_url)
        p = await signed_in_page(browser, base, pere.username, chat_url.split(base.rstrip("/"))[1])
        for page in (a, p):
            await expect(page.locator("#conn")).to_have_attribute(
                "data-state", "open", timeout=TIMEOUT_MS
            )
        # Text both ways.
        await a.fill("#message-text", "Hola Pere! Com està la mama?")
        await a.click("#send")
        await expect(p.locator(".msg", has_text="Com està la mama?")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await p.fill("#message-text", "Molt bé, avui ha sortit a passejar")
        await p.press("#message-text", "Enter")
        await expect(a.locator(".msg", has_text="sortit a passejar")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        # Anna's message shows as seen once Pere's page has read it.
        await expect(a.locator(".msg.mine .seen").first).to_be_visible(timeout=TIMEOUT_MS)
        # A photo.
        await a.set_input_files("#photo-input", str(photo))
        image = p.locator('.msg[data-kind="photo"] img')
        await expect(image).to_be_visible(timeout=TIMEOUT_MS)
        await p.wait_for_function(
            "() => { const i = document.querySelector('.msg[data-kind=photo] img');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=TIMEOUT_MS,
        )
        # A video call from the chat: Anna calls, Pere answers; frames flow both ways.
        await a.click("#chat-call")
        await expect(p.locator("#call-answer")).to_be_visible(timeout=TIMEOUT_MS)
        await expect(p.locator("#call-status")).to_contain_text("Anna")
        await p.click("#call-answer")
        assert await wait_for_frames(p) >= 5
        assert await wait_for_frames(a) >= 5
        await expect(a.locator("#call-status")).to_contain_text("Pere", timeout=TIMEOUT_MS)
        await a.click("#call-hangup")
        await expect(p.locator("#call")).to_have_attribute("data-state", "over", timeout=TIMEOUT_MS)
        # The user's language (Catalan by default) is the page's language.
        await expect(p.locator("#call-status")).to_have_text("Trucada acabada.")
    history: list[dict[str, Any]] = await (
        await world.client.get("/api/family/calls", headers=pere.headers)
    ).json()
    assert history[0]["status"] == "ended"
    assert history[0]["answered_at"] is not None


def _loopback_only(sdp: str) -> str:
    """Keep only 127.0.0.1 candidates (MACHINE-NOTES: nothing leaves loopback)."""
    lines = sdp.split("\r\n")
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") or " 127.0.0.1 " in ln]
    return "\r\n".join(kept)


async def test_browser_calls_the_tablet_call_engine_aiortc(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aioice.ice
    from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from aiortc.mediastreams import MediaStreamTrack

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna)
    base = str(world.client.make_url("/"))
    pc = RTCPeerConnection()
    received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not received.done():
            received.set_result(track)

    async def tablet(ws: Any) -> None:
        """The resident's side: answer the incoming call with aiortc."""
        call_id = None
        async for msg in ws:
            frame = msg.json()
            if frame["type"] == "call.incoming":
                call_id = frame["call_id"]
                await ws.send_json({"type": "call.accept", "call_id": call_id})
            elif frame["type"] == "call.signal" and frame["data"].get("sdp"):
                offer = frame["data"]["sdp"]
                await pc.setRemoteDescription(
                    RTCSessionDescription(_loopback_only(offer["sdp"]), offer["type"])
                )
                pc.addTrack(VideoStreamTrack())
                await pc.setLocalDescription(await pc.createAnswer())
                answer = {"type": "answer", "sdp": pc.localDescription.sdp}
                await ws.send_json(
                    {"type": "call.signal", "call_id": call_id, "data": {"sdp": answer}}
                )
            elif frame["type"] == "call.state" and frame["status"] == "ended":
                return

    try:
        async with (
            world.client.ws_connect("/api/family/ws", headers=maria.headers) as ws,
            media_browser() as browser,
        ):
            side = asyncio.create_task(tablet(ws))
            a = await signed_in_page(browser, base, anna.username, f"/family/call/{maria.party}")
            # The browser decodes the tablet's frames ...
            assert await wait_for_frames(a) >= 5
            # ... and the tablet receives the browser's camera.
            track = await asyncio.wait_for(received, 60)
            frame = await asyncio.wait_for(track.recv(), 60)
            assert frame.width > 0
            await a.click("#call-hangup")
            await asyncio.wait_for(side, 60)
    finally:
        await pc.close()
    history = await (await world.client.get("/api/family/calls", headers=maria.headers)).json()
    assert (history[0]["status"], history[0]["direction"]) == ("ended", "incoming")
