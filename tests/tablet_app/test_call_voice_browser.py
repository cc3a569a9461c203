"""Real sound both ways between Chromium and the tablet app in a real window.

Chromium's fake microphone plays a generated 440 Hz tone; the tablet's synthetic
microphone sends 880 Hz. The tablet's loudspeaker output (``CapturedOutput``: the PCM a
sound card would play) must show 440 Hz by FFT, and the browser's Web Audio analyser
880 Hz in the remote stream — for the centre's call at an alarm (answered by itself, no
touch) and for a family video call (answered by a tap).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from playwright.async_api import Page, expect

import protocol
from hub.auth import Role
from hub.console.demo_data import raise_demo_alarm
from tablet_app.audio import CapturedOutput, rms
from tablet_app.calls import CallEngine, SyntheticMedia
from teleassist.bench.voice import loopback_sdp, write_tone
from tests.family.browser import media_browser, signed_in_page
from tests.family.conftest import Tablet, World
from tests.tablet_app.conftest import pump, pump_until, tap

pytestmark = [pytest.mark.tablet, pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 60_000
DESK = {"width": 1366, "height": 768}
NOW = datetime(2026, 11, 23, 8, 5).astimezone()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ICE on 127.0.0.1 (aioice leaves loopback out by default); no STUN/TURN."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@dataclass
class TabletApp:
    """The tablet's model, call engine and screen, answering through the real hub."""

    model: Any
    view: Any
    calls: CallEngine
    ear: CapturedOutput
    spoken: list[tuple[str, str]]


@contextlib.asynccontextmanager
async def tablet_app(
    world: World, tablet: Tablet, window: Any, tmp_path: Path
) -> AsyncIterator[TabletApp]:
    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.family import FamilyClient
    from tablet_app.link import Broker, HubLink
    from tablet_app.model import TabletModel
    from tablet_app.outbox import Outbox
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    model = TabletModel(language="ca", online=True)
    token = tablet.headers["Authorization"].removeprefix("Bearer ")
    family = FamilyClient(
        str(world.client.make_url("/")), token, tablet.resident_id, model, tmp_path / "m"
    )
    ear = CapturedOutput()
    calls = CallEngine(
        family.send_live, SyntheticMedia(tone_hz=880), on_failed=model.call_ended, output=ear
    )
    received = calls.on_signal

    async def from_browser(call_id: int, data: dict[str, Any]) -> None:
        await received(call_id, loopback_sdp(data))

    calls.on_signal = from_browser  # type: ignore[method-assign]
    family.calls = calls
    outbox = Outbox(tmp_path / "o.db")
    spoken: list[tuple[str, str]] = []

    class Voice:
        def say(self, text: str, language: str) -> None:
            spoken.append((text, language))

    TabletController(
        model,
        HubLink("tab-voice", Broker(), outbox),
        speaker=Voice(),
        ringer=SilentRinger(),
        clock=lambda: NOW,
        family=family,
    )
    view = TabletView(
        model,
        lambda: NOW,
        Actions(lambda: None, lambda _m: None, call_video=lambda: (calls.sink, calls.local)),
    )
    window.add_widget(view)
    live = asyncio.create_task(family.live(retry_s=0.2))
    try:
        async with asyncio.timeout(20):
            await family.live_connected.wait()
        yield TabletApp(model, view, calls, ear, spoken)
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()
        view.detach()
        window.remove_widget(view)
        pump()


async def browser_hears(page: Page, hz: float, expression: str) -> float:
    """Poll the page's analyser until its strongest frequency is ``hz`` (±15 Hz), loud."""
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while True:
            found = await page.evaluate(expression)
            if found["db"] > -70 and abs(found["hz"] - hz) <= 15:
                return float(found["hz"])
            await asyncio.sleep(0.2)


async def test_the_centre_speaks_with_the_home_at_an_alarm_and_both_hear_each_other(
    world: World, kivy_window: Any, tmp_path: Path
) -> None:
    from tablet_app.model import CallState, Screen
    from tablet_app.widgets import find

    tablet = await world.resident("Maria")
    operator = await world.person(Role.OPERATOR, name="Anna Operadora")
    [alarm] = await raise_demo_alarm(
        world.client.app, tablet.resident_id, "pendant-1", protocol.Panic(source="pendant")
    )
    tone = write_tone(tmp_path / "tone440.wav", 440)
    base = str(world.client.make_url("/"))
    async with (
        tablet_app(world, tablet, kivy_window, tmp_path) as app,
        media_browser(f"--use-file-for-fake-audio-capture={tone}") as browser,
    ):
        page = await signed_in_page(
            browser, base, operator.username, "/console", lang="ca", viewport=DESK
        )
        await expect(page.locator(f'.qitem[data-id="{alarm}"]')).to_be_visible(timeout=TIMEOUT_MS)
        await page.click(f'.qitem[data-id="{alarm}"]')
        await page.click("#act-accept")
        await expect(page.locator("#act-voice")).to_be_enabled(timeout=TIMEOUT_MS)
        await page.keyboard.press("v")  # "Speak with the home"

        # The tablet answers by itself: announcement in Catalan, the centre's full screen.
        await pump_until(lambda: app.model.call_state is CallState.TALKING, timeout=60)
        assert app.model.call_centre
        assert app.model.call_alarm
        assert app.spoken == [("El centre us parla.", "ca")]
        await pump_until(lambda: app.view.shown is Screen.CALL)
        pump(3)
        assert find(app.view, "call.headline").text == "Parlant amb el centre"
        assert find(app.view, "call.hangup") is not None

        panel = page.locator("#voice-panel")
        await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)
        async with asyncio.timeout(60):
            heard = await app.ear.wait_for_tone(440)
        assert heard == pytest.approx(440, abs=10)
        back = await browser_hears(page, 880, "window.__taVoice.dominant()")
        assert back == pytest.approx(880, abs=15)
        assert app.calls.local.frames == 0  # voice only: no camera opened

        # "Louder": one step up on the tablet, confirmed on the card.
        before = app.calls.volume
        await page.keyboard.press("l")
        await expect(page.locator("#voice-volume")).to_have_text(
            re.compile(rf"{before + 2}/5"), timeout=TIMEOUT_MS
        )
        assert app.calls.volume == before + 1
        await expect(page.locator("#voice-timer")).to_have_text(re.compile(r"00:0[1-9]|00:[1-5]"))

        # Mute: the operator's microphone goes silent at the home, and comes back.
        await page.keyboard.press("m")
        await expect(page.locator("#voice-mute")).to_have_attribute("aria-pressed", "true")
        async with asyncio.timeout(60):
            while rms(app.ear.recent(0.3)) > 200:
                await app.ear.wait_for_progress()
        await page.keyboard.press("m")
        async with asyncio.timeout(60):
            await app.ear.wait_for_tone(440)

        await page.keyboard.press("h")  # hang up
        await expect(panel).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
        await pump_until(lambda: app.model.call_state is CallState.ENDED, timeout=60)
        history = page.locator('#history li[data-action="voice_call"]')
        await expect(history).to_contain_text("Contacte de veu", timeout=TIMEOUT_MS)
        await expect(page.locator('#history li[data-action="voice_connected"]')).to_have_count(1)


async def test_a_family_call_rings_is_answered_by_a_tap_and_carries_sound(
    world: World, kivy_window: Any, tmp_path: Path
) -> None:
    from tablet_app.model import CallState, Screen
    from tablet_app.widgets import find

    tablet = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(tablet, anna)
    tone = write_tone(tmp_path / "tone440.wav", 440)
    base = str(world.client.make_url("/"))
    async with (
        tablet_app(world, tablet, kivy_window, tmp_path) as app,
        media_browser(f"--use-file-for-fake-audio-capture={tone}") as browser,
    ):
        page = await signed_in_page(browser, base, anna.username, f"/family/call/{tablet.party}")
        await pump_until(lambda: app.model.call_state is CallState.RINGING, timeout=60)
        assert not app.model.call_centre
        await pump_until(lambda: app.view.shown is Screen.CALL)
        pump(3)
        # It keeps ringing: a family call is never answered by itself.
        assert app.model.call_state is CallState.RINGING
        assert app.spoken == []
        tap(find(app.view, "call.answer"))
        assert app.model.call_state is CallState.TALKING
        async with asyncio.timeout(60):
            heard = await app.ear.wait_for_tone(440)
        assert heard == pytest.approx(440, abs=10)
        await page.evaluate(
            """() => {
              const video = document.getElementById("remote-video");
              const ctx = new AudioContext();
              const an = ctx.createAnalyser();
              an.fftSize = 8192;
              ctx.createMediaStreamSource(video.srcObject).connect(an);
              window.__tone = () => {
                const bins = new Float32Array(an.frequencyBinCount);
                an.getFloatFrequencyData(bins);
                let best = 1;
                for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
                return { hz: (best * ctx.sampleRate) / an.fftSize, db: bins[best] };
              };
            }"""
        )
        back = await browser_hears(page, 880, "window.__tone()")
        assert back == pytest.approx(880, abs=15)
        tap(find(app.view, "call.hangup"))
        await pump_until(lambda: app.model.call_state is CallState.ENDED, timeout=60)
