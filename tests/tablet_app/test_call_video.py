"""The call screen in a real window shows the caller's video, answered through the real hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from PIL import Image

from tablet_app.calls import SYNTHETIC_BARS, CallEngine, SyntheticMedia
from tests.family.conftest import World
from tests.tablet_app.conftest import pump, pump_until, tap

pytestmark = pytest.mark.tablet

TOLERANCE = 60  # VP8, YUV 4:2:0 and scaling blur the bars' colours a little
NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ICE on 127.0.0.1 (aioice leaves loopback out by default); no STUN/TURN."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def screen_colour(shot: Image.Image, window: Any, x: float, y: float) -> tuple[int, int, int]:
    """The colour on screen at Kivy window coordinates (origin bottom left)."""
    scale_x = shot.width / window.width
    scale_y = shot.height / window.height
    px = int(x * scale_x)
    py = int((window.height - y) * scale_y)
    r, g, b = shot.getpixel((px, py))[:3]
    return int(r), int(g), int(b)


def close_to(found: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(found, wanted, strict=True))


async def test_answered_call_shows_the_callers_video_on_screen(
    world: World, kivy_window: Any, tmp_path: Path
) -> None:
    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.family import FamilyClient
    from tablet_app.link import Broker, HubLink
    from tablet_app.model import CallState, Screen, TabletModel
    from tablet_app.outbox import Outbox
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import find

    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)

    model = TabletModel(language="en", online=True)
    token = tablet.headers["Authorization"].removeprefix("Bearer ")
    family = FamilyClient(
        str(world.client.make_url("/")), token, tablet.resident_id, model, tmp_path / "m"
    )
    calls = CallEngine(family.send_live, SyntheticMedia(), on_failed=model.call_ended)
    family.calls = calls
    outbox = Outbox(tmp_path / "o.db")

    class Quiet:
        def say(self, text: str, language: str) -> None:
            pass

    TabletController(
        model,
        HubLink("tab-video", Broker(), outbox),
        speaker=Quiet(),
        ringer=SilentRinger(),
        clock=lambda: NOW,
        family=family,
    )
    view = TabletView(
        model,
        lambda: NOW,
        Actions(lambda: None, lambda _m: None, call_video=lambda: (calls.sink, calls.local)),
    )
    kivy_window.add_widget(view)
    live = asyncio.create_task(family.live(retry_s=0.2))
    ws = await world.client.ws_connect("/api/family/ws", headers=anna.headers)
    anna_phone = CallEngine(ws.send_json, SyntheticMedia())

    async def anna_reads() -> None:
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame.get("type") == "call.state":
                await anna_phone.on_call_state(frame["call_id"], frame["status"])
            elif frame.get("type") == "call.signal":
                await anna_phone.on_signal(frame["call_id"], frame["data"])

    reader = asyncio.create_task(anna_reads())
    try:
        async with asyncio.timeout(20):
            await family.live_connected.wait()
        await anna_phone.place(tablet.party)
        await pump_until(lambda: view.shown is Screen.CALL)
        assert model.call_state is CallState.RINGING
        pump(3)  # lay the call screen out before touching it

        tap(find(view, "call.answer"))  # the resident's finger on "Answer"
        assert model.call_state is CallState.TALKING
        video = find(view, "call.video")
        # No frame can have arrived yet (nothing awaited since the tap): the caller's face.
        assert not video.has_frame
        assert [type(w).__name__ for w in video.children] == ["Face"]

        async with asyncio.timeout(60):
            await calls.sink.wait_for(5)
        await pump_until(lambda: find(view, "call.video").has_frame)
        await pump_until(lambda: find(view, "call.self").has_frame)
        pump(3)
        video = find(view, "call.video")
        assert video.children == []  # the face made way for the picture
        assert video.texture.size == (320, 240)

        shot = Image.open(kivy_window.screenshot(name=str(tmp_path / "call.png"))).convert("RGB")
        x, y, w, h = video.video_rect
        assert w > 0
        assert h > 0
        for index, wanted in enumerate(SYNTHETIC_BARS):
            # the middle of each bar, a third of the way down the picture
            centre_x = x + w * (index + 0.5) / len(SYNTHETIC_BARS)
            found = screen_colour(shot, kivy_window, centre_x, y + h * 0.66)
            assert close_to(found, wanted), (index, found, wanted)

        # the self-view (the tablet's own synthetic camera) shows the same bars, small
        small = find(view, "call.self")
        sx, sy, sw, sh = small.video_rect
        assert 0 < sw < w / 2
        found = screen_colour(shot, kivy_window, sx + sw * 0.125, sy + sh * 0.66)
        assert close_to(found, SYNTHETIC_BARS[0]), found

        # the picture keeps moving with the caller's: the grey band slides (it is the
        # bottom sixth of the picture, under the call's buttons on screen, so it is read
        # from the view's texture)
        first = bytes(video.texture.pixels)
        shown = video.frames_shown
        await pump_until(lambda: video.frames_shown >= shown + 3)
        pump(2)  # draw it
        assert bytes(video.texture.pixels) != first

        tap(find(view, "call.hangup"))
        async with asyncio.timeout(20):
            while anna_phone.pc is not None:
                await asyncio.sleep(0.02)
        assert model.call_state is CallState.ENDED
    finally:
        reader.cancel()
        live.cancel()
        for task in (reader, live):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ws.close()
        await anna_phone.close()
        await calls.close()
        await family.close()
        outbox.close()
        view.detach()
        kivy_window.remove_widget(view)
        pump()


def _answered_call_view(kivy_window: Any) -> tuple[Any, Any]:
    """A tablet view on the call screen of an answered call whose caller sent one frame."""
    from av import VideoFrame

    from tablet_app.calls import synthetic_picture
    from tablet_app.model import Contact, TabletModel
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    class Still:
        frames = 1
        last = VideoFrame.from_image(synthetic_picture(160, 120, 0))

    model = TabletModel(language="en", online=True)
    model.contacts = [Contact("u:2", "Anna")]
    view = TabletView(
        model, lambda: NOW, Actions(lambda: None, lambda _m: None, call_video=lambda: (Still, None))
    )
    kivy_window.add_widget(view)
    model.incoming_call("7", "u:2")
    model.answer_call()
    return model, view


@pytest.mark.parametrize("frames_on_screen", [0, 3])
def test_a_video_view_stops_its_clock_once_the_screen_is_rebuilt(
    kivy_window: Any, frames_on_screen: int
) -> None:
    """Rebuilt at once (no Kivy frame drawn, its clock never looked while it was shown) or
    after a few frames: either way the call screen's views stop looking at their feeds."""
    from tablet_app.widgets import find

    model, view = _answered_call_view(kivy_window)
    try:
        pump(frames_on_screen)
        video, self_view = find(view, "call.video"), find(view, "call.self")
        assert video.has_frame  # a frame was there at once: no face first
        assert not self_view.has_frame  # no camera: the corner stays empty
        assert video._event.is_triggered
        assert self_view._event.is_triggered
        model.call_ended()  # the screen is rebuilt without video
        assert not video._event.is_triggered
        assert not self_view._event.is_triggered
    finally:
        view.detach()
        kivy_window.remove_widget(view)
        pump()


def test_a_detached_view_stops_its_video_clocks(kivy_window: Any) -> None:
    from tablet_app.widgets import find

    _, view = _answered_call_view(kivy_window)
    video, self_view = find(view, "call.video"), find(view, "call.self")
    view.detach()
    kivy_window.remove_widget(view)
    pump()
    assert not video._event.is_triggered
    assert not self_view._event.is_triggered
