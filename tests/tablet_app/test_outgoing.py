"""The resident records a voice message or takes a photo; it reaches the real hub.

The window is real (Kivy under Xvfb), touches go through it, the hub is the real family
API; microphone and camera are the synthetic ones (a 440 Hz tone, colour bars).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hub.app import create_app
from hub.clock import ManualClock
from hub.family.settings import FAMILY_SETTINGS, FamilySettings
from hub.media import MediaLimits
from hub.settings import HubSettings
from tablet_app.capture import SyntheticCamera, SyntheticMicrophone
from tablet_app.family import FamilyClient
from tablet_app.model import Outgoing, Screen, TabletModel
from tablet_app.outbox import Outbox
from tablet_app.outgoing import OutgoingMedia
from tests.family.conftest import Person, Tablet, World
from tests.tablet_app.conftest import pump, pump_until, tap
from tests.tablet_app.test_family import direct_conversation, say

pytestmark = pytest.mark.tablet

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
VOICE_LIMIT = 20_000  # bytes: a second of voice (~3.5 KB) passes, fifteen (~47 KB) do not


@pytest.fixture
def hub_app(hub_settings: HubSettings, hub_clock: ManualClock) -> web.Application:
    """The real hub, with a small voice-size limit so "too big" can be tested quickly."""
    app = create_app(hub_settings, clock=hub_clock)
    app[FAMILY_SETTINGS] = FamilySettings(media=MediaLimits(voice_max_bytes=VOICE_LIMIT))
    return app


def closed_port() -> int:
    """A local port nothing listens on (the hub is "down")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Home:
    """The tablet (window, model, outgoing media) and Anna in the family web app."""

    world: World
    tablet: Tablet
    anna: Person
    cid: int
    model: TabletModel
    family: FamilyClient
    media: OutgoingMedia
    outbox: Outbox
    view: Any

    def find(self, name: str) -> Any:
        from tablet_app.widgets import find

        return find(self.view, name)

    async def message_ids(self) -> list[int]:
        return [int(m["id"]) for m in await self.messages()]

    async def messages(self) -> list[dict[str, Any]]:
        resp = await self.world.client.get(
            f"/api/family/conversations/{self.cid}/messages", headers=self.anna.headers
        )
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return list(body["messages"])

    async def download(self, url: str, target: Path) -> Path:
        resp = await self.world.client.get(url, headers=self.anna.headers)
        assert resp.status == 200, await resp.text()
        target.write_bytes(await resp.read())
        return target


@pytest.fixture
async def home(world: World, kivy_window: Any, tmp_path: Path) -> AsyncIterator[Home]:
    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.link import Broker, HubLink
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)
    cid = await direct_conversation(world, anna, tablet)
    await say(world, anna, cid, text="Hola mama!")

    model = TabletModel(language="en", online=True)
    token = tablet.headers["Authorization"].removeprefix("Bearer ")
    family = FamilyClient(
        str(world.client.make_url("/")), token, tablet.resident_id, model, tmp_path / "m"
    )
    await family.refresh()
    outbox = Outbox(tmp_path / "media-outbox.db")
    media = OutgoingMedia(
        family,
        model,
        outbox,
        microphone=SyntheticMicrophone(),
        camera=SyntheticCamera(),
        retry_s=(0.05,),
    )
    link_outbox = Outbox(tmp_path / "o.db")

    class Quiet:
        def say(self, text: str, language: str) -> None:
            pass

    TabletController(
        model,
        HubLink("tab-media", Broker(), link_outbox),
        speaker=Quiet(),
        ringer=SilentRinger(),
        clock=lambda: NOW,
        family=family,
        media=media,
    )
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    model.open_conversation(anna.party)
    pump(3)
    try:
        yield Home(world, tablet, anna, cid, model, family, media, outbox, view)
    finally:
        await media.close()
        await family.close()
        outbox.close()
        link_outbox.close()
        view.detach()
        kivy_window.remove_widget(view)
        pump()


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def decode_pcm(path: Path) -> bytes:
    """The whole recording decoded to 16-bit mono 48 kHz PCM (what a player does)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout


def pitch_hz(pcm: bytes) -> float:
    """The tone's frequency from its zero crossings."""
    import array

    samples = array.array("h", pcm)
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 48_000)


async def test_one_press_records_the_second_sends_a_playable_voice_message(
    home: Home, tmp_path: Path
) -> None:
    assert home.model.can_record
    assert home.find("record.start").label.text == "Record a message"
    tap(home.find("record.start"))
    assert home.model.outgoing is Outgoing.RECORDING
    big = home.find("record.stop")
    assert big.label.text == "Recording… 0:00\nPress to send"
    assert home.find("record.cancel").label.text == "Cancel"
    with pytest.raises(LookupError):
        home.find("back")  # nothing else to press while the microphone is on

    async with asyncio.timeout(30):
        await home.media.recorder.wait_for(1.5)
    tap(home.find("record.stop"))
    assert home.model.outgoing is not Outgoing.RECORDING
    await pump_until(lambda: home.model.outgoing is Outgoing.SENT)
    pump(2)
    assert home.find("outgoing.line").text == "Sent!"
    assert len(home.outbox) == 0
    recorded_s = home.media.recorder.seconds

    newest = (await home.messages())[0]
    assert newest["kind"] == "voice"
    assert newest["sender"]["party"] == home.tablet.party
    assert newest["media"]["content_type"] == "audio/ogg"
    assert newest["media"]["duration_s"] == pytest.approx(recorded_s, abs=0.1)

    path = await home.download(newest["media"]["url"], tmp_path / "voice.ogg")
    [stream] = probe(path)["streams"]
    assert stream["codec_name"] == "opus"
    assert stream["channels"] == 1
    pcm = decode_pcm(path)
    assert len(pcm) / 2 / 48_000 == pytest.approx(recorded_s, abs=0.1)
    assert pitch_hz(pcm) == pytest.approx(440, abs=10)


async def test_cancel_sends_nothing(home: Home) -> None:
    before = await home.message_ids()
    tap(home.find("record.start"))
    async with asyncio.timeout(30):
        await home.media.recorder.wait_for(0.2)
    tap(home.find("record.cancel"))
    assert home.model.outgoing is Outgoing.IDLE
    assert home.view.shown is Screen.CONVERSATION
    home.find("record.start")  # back to the conversation with its buttons
    await pump_until(lambda: not home.media.recorder.recording)
    assert len(home.outbox) == 0
    assert await home.message_ids() == before


async def test_take_a_photo_sends_it(home: Home, tmp_path: Path) -> None:
    assert home.find("photo.take").label.text == "Take a photo"
    tap(home.find("photo.take"))
    await pump_until(lambda: home.model.outgoing is Outgoing.SENT)
    newest = (await home.messages())[0]
    assert newest["kind"] == "photo"
    assert newest["media"]["content_type"] == "image/jpeg"
    assert (newest["media"]["width"], newest["media"]["height"]) == (640, 480)
    path = await home.download(newest["media"]["url"], tmp_path / "photo.jpg")
    from PIL import Image

    with Image.open(path) as image:
        assert image.getpixel((40, 100))[0] > 180  # the red bar on the left


async def test_hub_down_keeps_the_message_and_sends_it_when_back(home: Home) -> None:
    up = home.family.base_url
    home.family.base_url = f"http://127.0.0.1:{closed_port()}"
    runner = asyncio.create_task(home.media.run())
    try:
        tap(home.find("record.start"))
        async with asyncio.timeout(30):
            await home.media.recorder.wait_for(1.0)
        tap(home.find("record.stop"))
        await pump_until(lambda: home.model.outgoing is Outgoing.QUEUED)
        pump(2)
        assert home.find("outgoing.line").text == (
            "Voice message saved. We will send it when we can."
        )
        [kept] = home.outbox.pending()
        assert kept.topic == f"voice/{home.anna.party}"
        assert kept.payload.startswith(b"OggS")
        await pump_until(lambda: home.media.attempts >= 2)  # the retry loop keeps trying

        home.family.base_url = up  # the hub is back
        await pump_until(lambda: home.model.outgoing is Outgoing.SENT)
        assert len(home.outbox) == 0
        newest = (await home.messages())[0]
        assert newest["kind"] == "voice"
        assert newest["media"]["content_type"] == "audio/ogg"
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_a_recording_the_hub_refuses_as_too_big_stays_queued(home: Home) -> None:
    before = await home.message_ids()
    home.media.recorder.microphone = SyntheticMicrophone(realtime=False)
    runner = asyncio.create_task(home.media.run())
    try:
        tap(home.find("record.start"))
        async with asyncio.timeout(30):
            await home.media.recorder.wait_for(15.0)
        tap(home.find("record.stop"))
        await pump_until(lambda: home.model.outgoing is Outgoing.QUEUED)
        [kept] = home.outbox.pending()
        assert len(kept.payload) > VOICE_LIMIT
        await pump_until(lambda: home.media.attempts >= 2)
        assert len(home.outbox) == 1  # still kept: never silently lost
        assert await home.message_ids() == before
        pump(2)
        assert home.find("outgoing.line").text.startswith("Voice message saved.")
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_without_microphone_or_camera_the_buttons_are_hidden(home: Home) -> None:
    from tablet_app.capture import NoDevice

    media = OutgoingMedia(
        home.family, home.model, home.outbox, microphone=NoDevice(), camera=NoDevice()
    )
    assert not home.model.can_record
    assert not home.model.can_photo
    home.model.changed()
    pump(2)
    for name in ("record.start", "photo.take"):
        with pytest.raises(LookupError):
            home.find(name)
    await media.close()


@pytest.mark.browser
@pytest.mark.slow
async def test_the_family_web_app_plays_the_tablets_voice_message(home: Home) -> None:
    from tests.family.browser import media_browser, signed_in_page

    tap(home.find("record.start"))
    async with asyncio.timeout(30):
        await home.media.recorder.wait_for(1.0)
    tap(home.find("record.stop"))
    await pump_until(lambda: home.model.outgoing is Outgoing.SENT)
    recorded_s = home.media.recorder.seconds

    base = str(home.world.client.make_url("/"))
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, home.anna.username, f"/family/chat/{home.cid}", lang="ca"
        )
        audio = page.locator('.msg[data-kind="voice"] audio')
        await audio.wait_for(timeout=60_000)
        # Chromium decodes it: the length is known and playing moves the clock on.
        duration = await audio.evaluate(
            """a => new Promise((ok, fail) => {
                 if (a.readyState >= 1) return ok(a.duration);
                 a.addEventListener('loadedmetadata', () => ok(a.duration));
                 a.addEventListener('error', () => fail(String(a.error && a.error.code)));
                 a.load();
               })"""
        )
        assert duration == pytest.approx(recorded_s, abs=0.1)
        played = await audio.evaluate(
            """a => new Promise((ok, fail) => {
                 a.muted = true;
                 a.addEventListener('ended', () => ok(a.currentTime));
                 a.addEventListener('error', () => fail(String(a.error && a.error.code)));
                 a.play().catch(e => fail(String(e)));
               })"""
        )
        assert played == pytest.approx(recorded_s, abs=0.1)


async def test_an_upload_already_done_is_not_repeated_after_a_restart(
    home: Home, tmp_path: Path
) -> None:
    """The queue says "uploaded as media N, message not sent yet": only the message is sent."""
    resp = await home.world.client.post(
        "/api/family/media?kind=photo",
        data=await SyntheticCamera().snap(),
        headers=home.tablet.headers,
    )
    assert resp.status == 201, await resp.text()
    media_id = int((await resp.json())["media_id"])
    home.outbox.put("left-by-last-run", f"sent/{home.anna.party}/{media_id}", b"")
    home.outbox.put("garbage", "what/is/this", b"x")  # a damaged entry is dropped, logged

    uploads: list[str] = []
    real_upload = home.family.upload_media

    async def counting_upload(kind: str, data: bytes, content_type: str) -> int:
        uploads.append(kind)
        return await real_upload(kind, data, content_type)

    home.family.upload_media = counting_upload  # type: ignore[method-assign]
    assert await home.media.flush()
    assert uploads == []
    assert len(home.outbox) == 0
    newest = (await home.messages())[0]
    assert newest["kind"] == "photo"
    assert newest["media"]["id"] == media_id
