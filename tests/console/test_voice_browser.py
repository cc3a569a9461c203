"""A wellbeing call from the console's agenda in real Chromium to the tablet's call engine.

No alarm: the tablet rings, the resident's one tap answers, and the sound goes both ways
(Chromium's fake microphone plays 440 Hz, the tablet's synthetic microphone 880 Hz).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import expect

from hub.auth import Role
from hub.clock import ManualClock
from hub.console.demo_data import DemoIds
from teleassist.bench.voice import tablet_parts, write_tone
from tests.family.browser import media_browser, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000


async def test_a_wellbeing_call_rings_on_the_tablet_and_carries_sound_both_ways(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
    hub_clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from tablet_app.model import CallState

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    rid = demo.residents[0]
    operator_token = await token_for(Role.OPERATOR, username="op-voice", display_name="Anna")
    operator = {"Authorization": f"Bearer {operator_token}"}
    planner = {"Authorization": f"Bearer {await token_for(Role.SUPERVISOR)}"}
    planned = await hub_client.post(
        "/api/console/calls",
        json={
            "resident_id": rid,
            "reason": "other",
            "due_at": (hub_clock() + timedelta(hours=1)).isoformat(),
        },
        headers=planner,
    )
    assert planned.status == 201, await planned.text()
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=operator)
    assert code.status == 201, await code.text()
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    token = (await paired.json())["api_token"]
    base = str(hub_client.make_url("/")).rstrip("/")
    model, family, calls, ear, outbox = await tablet_parts(base, token, rid, tmp_path)
    live = asyncio.create_task(family.live(retry_s=0.2))
    tone = write_tone(tmp_path / "tone440.wav", 440)
    try:
        async with asyncio.timeout(30):
            await family.live_connected.wait()
        async with media_browser(f"--use-file-for-fake-audio-capture={tone}") as browser:
            page = await signed_in_page(
                browser, base, "op-voice", "/console/calls",
                viewport={"width": 1366, "height": 768},
            )  # fmt: skip
            await page.click(f'button[data-speak="{rid}"]')
            async with asyncio.timeout(60):
                while model.call_state is not CallState.RINGING:
                    await asyncio.sleep(0.05)
            assert model.call_centre
            assert not model.call_alarm  # no alarm: it rings, nothing answers by itself
            panel = page.locator("#voice-panel")
            await expect(panel).to_have_attribute("data-status", "ringing", timeout=TIMEOUT_MS)
            model.answer_call()  # the resident's one tap
            await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)
            async with asyncio.timeout(60):
                heard = await ear.wait_for_tone(440)
            assert heard == pytest.approx(440, abs=10)
            await page.wait_for_function(
                "() => { const d = window.__taVoice.dominant();"
                " return d.db > -70 && Math.abs(d.hz - 880) <= 15; }",
                timeout=TIMEOUT_MS,
            )
            assert calls.local.frames == 0  # voice only
            await page.click("#voice-hangup")
            await expect(panel).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
            async with asyncio.timeout(60):
                while model.call_state is not CallState.ENDED:
                    await asyncio.sleep(0.05)
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()
    tablet = {"Authorization": f"Bearer {token}"}
    history = await hub_client.get("/api/family/calls", headers=tablet)
    [call] = await history.json()
    assert (call["kind"], call["alarm_ref"], call["status"]) == ("centre", None, "ended")
    assert call["connected_at"] is not None


async def test_after_a_hub_restart_the_card_shows_no_connected_call(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import protocol
    from hub.console.demo_data import raise_demo_alarm
    from hub.family.live import LIVE_HUB
    from hub.family.ws import CALL_SERVICE

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    rid = demo.residents[0]
    token = await token_for(Role.OPERATOR, username="op-restart", display_name="Anna")
    operator = {"Authorization": f"Bearer {token}"}
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=operator)).status == 200
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=operator)
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    base = str(hub_client.make_url("/")).rstrip("/")
    _, family, calls, _ear, outbox = await tablet_parts(
        base, (await paired.json())["api_token"], rid, tmp_path
    )
    live = asyncio.create_task(family.live(retry_s=0.2))
    try:
        async with asyncio.timeout(30):
            await family.live_connected.wait()
        async with media_browser() as browser:
            page = await signed_in_page(
                browser, base, "op-restart", "/console", viewport={"width": 1366, "height": 768}
            )
            await page.click(f'.qitem[data-id="{alarm}"]')
            await expect(page.locator("#act-voice")).to_be_enabled(timeout=TIMEOUT_MS)
            await page.keyboard.press("v")
            panel = page.locator("#voice-panel")
            await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)

            # What a restart does to the hub's side: the process's live calls are gone, the
            # new process closes the stored ones at start-up, every socket reconnects.
            service = hub_client.app[CALL_SERVICE]
            await service.close()
            assert await service.recover() == 1
            await service.tell_recovered()
            assert hub_client.app[LIVE_HUB].close_all() >= 2  # the console's and the tablet's

            await expect(panel).to_have_attribute("data-status", "failed", timeout=TIMEOUT_MS)
            await expect(panel).to_have_attribute("data-failure", "hub_restart")
            await expect(page.locator("#voice-next")).to_be_visible()  # the next steps
            history = page.locator('#history li[data-action="voice_call"]')
            await expect(history).to_have_count(1, timeout=TIMEOUT_MS)
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()


async def test_an_offline_tablet_is_said_on_the_card_at_once_with_the_next_steps(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
) -> None:
    import protocol
    from hub.console.demo_data import raise_demo_alarm

    rid = demo.residents[0]
    # A Spanish-speaking operator: the next steps name relationships typed in Catalan in her
    # language ("fill" → "hijo"; issue 23).
    token = await token_for(
        Role.OPERATOR, username="op-offline", display_name="Anna", language="es"
    )
    operator = {"Authorization": f"Bearer {token}"}
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=operator)).status == 200
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=operator)
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    assert paired.status == 200  # paired, but never connected
    base = str(hub_client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, "op-offline", "/console", viewport={"width": 1366, "height": 768}
        )
        await page.click(f'.qitem[data-id="{alarm}"]')
        panel = page.locator("#voice-panel")
        await expect(panel).to_have_attribute("data-status", "offline", timeout=TIMEOUT_MS)
        await expect(page.locator("#voice-status")).to_contain_text("no está conectada")
        steps = page.locator("#voice-next")
        await expect(steps).to_contain_text("+34")  # the resident's phone or a contact's
        await expect(steps).to_contain_text("Jordi Puig hijo")
        await expect(steps).not_to_contain_text("fill")
        await expect(steps.locator('[data-fallback="escalate"]')).to_be_visible()
        # trying anyway: the hub says so and records the attempt
        await page.keyboard.press("v")
        await expect(panel).to_have_attribute("data-status", "failed", timeout=TIMEOUT_MS)
        await expect(panel).to_have_attribute("data-failure", "tablet_offline")


class HeldAnnouncement:
    """The tablet's speech, finished when the test says (an announcement of any length)."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.done = asyncio.Event()

    def say(self, text: str, language: str) -> None:
        self.said.append(text)

    async def announce(self, text: str, language: str) -> None:
        self.said.append(text)
        await self.done.wait()


async def test_at_an_alarm_the_operator_waits_while_the_tablet_announces_the_call(
    hub_client: TestClient[Any, Any],
    demo: DemoIds,
    token_for: Callable[..., Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import protocol
    import tablet_app.calls
    from hub.console.demo_data import raise_demo_alarm
    from tablet_app.audio import SAMPLE_RATE, rms

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    # The announcement ends when the test says (``speech.done``), not at the tablet's 10 s cap
    # (tests/tablet_app/test_call_announce.py tests the cap): on a loaded machine the page's
    # checks took longer than that and the tablet gave up the announcement under them.
    monkeypatch.setattr(tablet_app.calls, "ANNOUNCE_MAX_S", 600.0)
    rid = demo.residents[0]
    token = await token_for(Role.OPERATOR, username="op-announce", display_name="Anna")
    operator = {"Authorization": f"Bearer {token}"}
    [alarm] = await raise_demo_alarm(
        hub_client.app, rid, demo.devices[rid][0], protocol.Panic(source="pendant")
    )
    assert (await hub_client.post(f"/api/alarms/{alarm}/accept", headers=operator)).status == 200
    code = await hub_client.post(f"/api/residents/{rid}/tablet-setup-codes", headers=operator)
    paired = await hub_client.post("/api/tablet/pair", json={"code": (await code.json())["code"]})
    base = str(hub_client.make_url("/")).rstrip("/")
    speech = HeldAnnouncement()
    _model, family, calls, ear, outbox = await tablet_parts(
        base, (await paired.json())["api_token"], rid, tmp_path, speaker=speech
    )
    live = asyncio.create_task(family.live(retry_s=0.2))
    tone = write_tone(tmp_path / "tone440.wav", 440)
    try:
        async with asyncio.timeout(30):
            await family.live_connected.wait()
        async with media_browser(f"--use-file-for-fake-audio-capture={tone}") as browser:
            page = await signed_in_page(
                browser, base, "op-announce", "/console", viewport={"width": 1366, "height": 768}
            )
            await page.click(f'.qitem[data-id="{alarm}"]')
            await expect(page.locator("#act-voice")).to_be_enabled(timeout=TIMEOUT_MS)
            await page.keyboard.press("v")
            panel = page.locator("#voice-panel")
            # Answered by itself, media connected, but the tablet is still speaking.
            await expect(panel).to_have_attribute("data-status", "announcing", timeout=TIMEOUT_MS)
            await expect(page.locator("#voice-status")).to_have_text(
                "La tauleta avisa la persona usuària… espereu"
            )
            assert speech.said == ["El centre us parla."]
            async with asyncio.timeout(60):
                while calls.jitter.played_samples < SAMPLE_RATE // 2:
                    await ear.wait_for_progress()
            assert rms(ear.recent(0.4)) == 0  # the operator's 440 Hz is not played over it
            speech.done.set()
            await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)
            await expect(page.locator("#voice-status")).to_have_text("En conversa")
            async with asyncio.timeout(60):
                heard = await ear.wait_for_tone(440)
            assert heard == pytest.approx(440, abs=10)
    finally:
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()
