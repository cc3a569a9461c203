"""A supervisor listens in to an operator's call with a home, with real sound (ADR 0100).

Three parties, two Chromium instances and the tablet's call engine: the operator's fake
microphone plays 440 Hz, the tablet's synthetic microphone 880 Hz, and the supervisor's
browser has a fake microphone of its own at 660 Hz — which must never reach the home.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aioice.ice
import numpy as np
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import expect

import protocol
from hub.auth import Role
from hub.console.demo_data import DemoIds, raise_demo_alarm
from hub.family.live import LIVE_HUB
from tablet_app.audio import SAMPLE_RATE, dominant_frequency
from teleassist.bench.voice import tablet_parts, write_tone
from tests.family.browser import media_browser, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000
SUPERVISOR_TONE_HZ = 660


def _band_energy(pcm: bytes, hz: float, width: float = 15.0) -> float:
    """Spectral energy of ``pcm`` (16-bit mono) within ``width`` Hz of ``hz``."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    return float(spectrum[(freqs > hz - width) & (freqs < hz + width)].sum())


def _hears(hz: int) -> str:
    return f"() => window.__taListen.levelAt({hz}) > -70"


async def test_a_supervisor_hears_the_home_and_the_operator_and_the_home_never_hears_them(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    rid = demo.residents[0]
    token = await token_for(Role.OPERATOR, username="op-listen", display_name="Anna")
    operator = {"Authorization": f"Bearer {token}"}
    sup_token = await token_for(Role.SUPERVISOR, username="sup-marta", display_name="Marta")
    me = await hub_client.get("/api/family/me", headers={"Authorization": f"Bearer {sup_token}"})
    sup_party = (await me.json())["party"]
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=operator)).status == 200
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=operator)
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    base = str(hub_client.make_url("/")).rstrip("/")
    _model, family, calls, ear, outbox = await tablet_parts(
        base, (await paired.json())["api_token"], rid, tmp_path
    )
    live = asyncio.create_task(family.live(retry_s=0.2))
    op_tone = write_tone(tmp_path / "tone440.wav", 440)
    sup_tone = write_tone(tmp_path / "tone660.wav", SUPERVISOR_TONE_HZ)
    try:
        async with asyncio.timeout(30):
            await family.live_connected.wait()
        async with (
            media_browser(f"--use-file-for-fake-audio-capture={op_tone}") as op_browser,
            media_browser(f"--use-file-for-fake-audio-capture={sup_tone}") as sup_browser,
        ):
            page = await signed_in_page(
                op_browser, base, "op-listen", "/console", viewport={"width": 1366, "height": 768}
            )
            await page.click(f'.qitem[data-id="{alarm}"]')
            await expect(page.locator("#act-voice")).to_be_enabled(timeout=TIMEOUT_MS)
            await page.keyboard.press("v")
            panel = page.locator("#voice-panel")
            await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)
            async with asyncio.timeout(60):
                await ear.wait_for_tone(440)
            await expect(page.locator("#listen-start")).to_have_count(0)
            call_pc = calls.pc

            sup = await signed_in_page(
                sup_browser, base, "sup-marta", "/console", viewport={"width": 1366, "height": 768}
            )
            await sup.click(f'.qitem[data-id="{alarm}"]')
            await expect(sup.locator("#listen-panel")).to_contain_text("Anna", timeout=TIMEOUT_MS)
            # The key is named where every shortcut is, for supervisors only.
            await expect(sup.locator(".shortcut-bar")).to_contain_text("I Escoltar")
            await expect(page.locator(".shortcut-bar")).not_to_contain_text("Escoltar")
            await sup.keyboard.press("i")
            listening = sup.locator("#listen-panel")
            await expect(listening).to_have_attribute(
                "data-status", "listening", timeout=TIMEOUT_MS
            )
            # The supervisor hears the home (880 Hz) and the operator (440 Hz).
            await sup.wait_for_function(_hears(880), timeout=TIMEOUT_MS)
            await sup.wait_for_function(_hears(440), timeout=TIMEOUT_MS)
            # The operator sees who listens.
            await expect(page.locator("#voice-listeners")).to_contain_text(
                "Marta", timeout=TIMEOUT_MS
            )

            # The home hears the operator and only the operator, for a whole second.
            ear.pcm.clear()
            async with asyncio.timeout(30):
                while len(ear.recent(1.0)) < SAMPLE_RATE * 2:
                    await ear.wait_for_progress()
            heard = ear.recent(1.0)
            assert dominant_frequency(heard) == pytest.approx(440, abs=10)
            assert _band_energy(heard, SUPERVISOR_TONE_HZ) < 0.001 * _band_energy(heard, 440)
            # The operator's call is untouched: the same connection, one sound from the
            # centre, still connected both ways.
            assert calls.pc is call_pc
            assert calls.audio_tracks == 1
            await expect(panel).to_have_attribute("data-status", "connected")
            await page.wait_for_function(
                "() => { const d = window.__taVoice.dominant();"
                " return d.db > -70 && Math.abs(d.hz - 880) <= 15; }",
                timeout=TIMEOUT_MS,
            )

            # The supervisor's connection drops: the hub ends the leg, the operator's card
            # stops naming them, and the supervisor's page finds out once it reconnects.
            hub_client.app[LIVE_HUB].close(sup_party)
            await expect(listening).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
            await expect(listening).to_have_attribute("data-reason", "disconnected")
            await expect(page.locator("#voice-listeners")).to_have_count(0, timeout=TIMEOUT_MS)
            await expect(panel).to_have_attribute("data-status", "connected")
            await sup.keyboard.press("i")  # and listens again
            await expect(listening).to_have_attribute(
                "data-status", "listening", timeout=TIMEOUT_MS
            )
            await sup.wait_for_function(_hears(880), timeout=TIMEOUT_MS)

            # The call ends: so does the listen-in.
            await page.keyboard.press("h")
            await expect(panel).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
            await expect(listening).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
            await expect(listening).to_have_attribute("data-reason", "call_ended")
            await expect(sup.locator("#listen-status")).to_contain_text("La trucada ha acabat")
            assert await sup.evaluate("() => window.__taListen.pc === null")
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()


async def test_listening_when_nobody_speaks_with_the_home_says_so(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
) -> None:
    rid = demo.residents[0]
    await token_for(Role.SUPERVISOR, username="sup-early", display_name="Marta")
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    base = str(hub_client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        sup = await signed_in_page(
            browser, base, "sup-early", "/console", viewport={"width": 1366, "height": 768}
        )
        await sup.click(f'.qitem[data-id="{alarm}"]')
        await expect(sup.locator("#act-voice")).to_be_visible(timeout=TIMEOUT_MS)
        await expect(sup.locator("#listen-start")).to_have_count(0)  # nothing to listen to
        await sup.keyboard.press("i")  # the key anyway: the hub's answer is shown
        panel = sup.locator("#listen-panel")
        await expect(panel).to_have_attribute("data-status", "failed", timeout=TIMEOUT_MS)
        await expect(panel).to_have_attribute("data-reason", "no_call")
        await expect(sup.locator("#listen-status")).to_have_text(
            "Ara no parla ningú amb aquesta llar"
        )
