"""The console in real Chromium with a carephone's calls (ADR 0121, 0143), SIPp on the far end.

1. Click-to-call: the operator holding the alarm clicks "Dial" beside a contact on the card;
   SIPp answers as the contact behind the centre's PBX, speaks (a 1 kHz G.711 tone) and
   presses 1. The page shows the call answered and hears the tone (the WebAudio analyser of
   the voice tests), the history shows the outcome and "on my way", live; hang up ends it.
2. The carephone's own call: SIPp plays the unit (its SCAIP alarm message, then an INVITE
   whose audio is a 1 kHz tone); the call rings (ADR 0160) and the alarm's card says so;
   the operator accepts the alarm, which answers the unit's call and speaks with the home at
   once, and the page hears the tone; the operator's hang-up ends the unit's call (the hub's
   BYE, ADR 0160) and the history says it was ended by the operator.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from hub.app import SESSIONMAKER, SETTINGS
from hub.auth import Role, create_user
from hub.auth.service import issue_tokens
from hub.clock import ManualClock
from hub.settings import HubSettings
from teleassist.localbroker import MosquittoBroker
from tests.family.browser import media_browser, signed_in_page
from tests.hub.carephones.conftest import T0, Dc09Hub
from tests.hub.carephones.rtp_tone import tone_pcap
from tests.hub.carephones.sipp import free_udp_tcp_port, mrq, needs_sipp, run_sipp
from tests.hub.carephones.sipunit import call_scenario
from tests.hub.carephones.test_calling_out import DTMF_1, answering, callee
from tests.hub.carephones.test_dial import alarm_with_contact
from tests.hub.carephones.test_scaip import ports, register, send, start_scaip_hub
from tests.hub.fixtures import TEST_PASSWORD

pytestmark = [
    pytest.mark.broker,
    pytest.mark.browser,
    pytest.mark.slow,
    needs_sipp,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000
# The screens these tests reach, as docs/console.md shows them: written here when set
# (TELEASSIST_SHOTS=docs/screenshots), else into the test's own folder (looked at by hand).
SHOTS = os.environ.get("TELEASSIST_SHOTS")
LANGS = pytest.mark.parametrize("lang", ["en", "ca"])


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    await page.wait_for_timeout(300)  # the timer's next second, the fonts
    await page.screenshot(path=str(Path(SHOTS or tmp_path) / name))


HEARS_1KHZ = (
    "(name) => { const d = window[name].dominant();"
    " return d.db > -70 && Math.abs(d.hz - 1000) <= 15; }"
)


async def browser_operator(hub: Dc09Hub, lang: str) -> tuple[str, dict[str, str]]:
    """An operator (speaking ``lang``) who signs in through the page; (username, headers)."""
    username = f"op-{secrets.token_hex(3)}"
    async with hub.app[SESSIONMAKER]() as session:
        user = await create_user(
            session, username, TEST_PASSWORD, Role.OPERATOR, display_name="Anna", language=lang
        )
        await session.commit()
        pair = await issue_tokens(session, user, hub.app[SETTINGS], hub.clock())
        await session.commit()
    return username, {"Authorization": f"Bearer {pair.access_token}"}


async def open_alarm(page: Page, alarm_id: str) -> None:
    await page.click(f'.qitem[data-id="{alarm_id}"]')
    await expect(page.locator(f'article[data-alarm="{alarm_id}"]')).to_be_visible()


@pytest.mark.skipif(not DTMF_1.exists(), reason="SIPp's DTMF pcap files are not installed")
@LANGS
async def test_the_operator_dials_a_contact_from_the_card_and_sees_the_outcome_live(
    lang: str,
    aiohttp_client: Any,
    hub_settings: HubSettings,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
    loopback: None,
) -> None:
    pbx_port = free_udp_tcp_port()
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"w{secrets.token_hex(3)}",
        scaip_speech_enabled=True, scaip_pbx=f"127.0.0.1:{pbx_port}",
    )  # fmt: skip
    username, operator = await browser_operator(hub, lang)
    alarm_id, _, contact_id = await alarm_with_contact(
        hub, tmp_path, "+34 600 11 22 33", accept_as=operator, caller_id="sip:unit@127.0.0.1"
    )
    tone = tmp_path / "tone.pcap"
    tone_pcap(tone, 1000.0, 8.0)
    peer = await callee(tmp_path, answering(tone), pbx_port)
    base = str(hub.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, username, "/console", lang, viewport={"width": 1366, "height": 768}
        )
        await open_alarm(page, alarm_id)
        await expect(page.locator('[data-dial="carephone"]')).to_be_visible(timeout=TIMEOUT_MS)
        button = page.locator(f'[data-dial="{contact_id}"]')
        await expect(button).to_be_visible(timeout=TIMEOUT_MS)
        await button.click()
        panel = page.locator("#dial-panel")
        await expect(panel).to_have_attribute("data-status", "answered", timeout=TIMEOUT_MS)
        await page.wait_for_function(HEARS_1KHZ, arg="__taDial", timeout=TIMEOUT_MS)
        history = page.locator("#history")
        await expect(
            history.locator('li[data-action="dialled"][data-outcome="answered"]')
        ).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(history.locator('li[data-action="on_my_way"]')).to_have_count(
            1, timeout=TIMEOUT_MS
        )
        await expect(page.locator("#dial-onmyway")).to_be_visible()
        await expect(history.locator('li[data-action="on_my_way"]')).to_contain_text("Laia")
        # The contact's line on the card lists the call placed to it.
        attempt = page.locator(f'li[data-contact="{contact_id}"] .attempt[data-result="answered"]')
        await expect(attempt).to_have_count(1)
        await shoot(page, tmp_path, f"operator-dial-{lang}-1366x768.png")
        await page.click("#dial-hangup")
        await expect(panel).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
        await expect(history.locator('li[data-action="dial_ended"]')).to_have_count(
            1, timeout=TIMEOUT_MS
        )
    out, _ = await peer.communicate()
    assert peer.returncode == 0, out.decode(errors="replace")[-1500:]


@LANGS
async def test_the_carephones_call_rings_on_its_alarm_and_the_operator_hears_it(
    lang: str,
    aiohttp_client: Any,
    hub_settings: HubSettings,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
    loopback: None,
) -> None:
    hub = await start_scaip_hub(
        aiohttp_client, hub_settings, mosquitto, ManualClock(T0), f"v{secrets.token_hex(3)}",
        scaip_speech_enabled=True,
    )  # fmt: skip
    username, _ = await browser_operator(hub, lang)
    cid = f"{hub.tag}u"
    _, home_id = await register(hub, cid, caller_id=f"sip:{cid}@127.0.0.1")
    await send(hub, tmp_path, mrq(cid, "B1", "10", crd=f"sip:{cid}@127.0.0.1"), 200, ref="B1")
    (alarm,) = await hub.wait_alarms(home_id)
    pcap = tmp_path / "tone.pcap"
    tone_pcap(pcap, 1000.0, 15.0)
    base = str(hub.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, username, "/console", lang, viewport={"width": 1366, "height": 768}
        )
        await open_alarm(page, alarm["id"])
        await expect(page.locator("#unit-call")).to_have_count(0)
        # The alarm's detail says which protocol the unit spoke and what exactly came.
        await expect(page.locator("#detail-unit-event [data-protocol]")).to_have_text("SCAIP")
        await expect(page.locator("#detail-raw-event")).to_contain_text("10")
        unit_call = asyncio.ensure_future(
            run_sipp(
                tmp_path,
                "unit",
                call_scenario(cid, pcap, 60000, centre_hangs_up=True),
                ports(hub)["udp"],
            )
        )
        try:
            # The unit's call rings on its alarm (nobody has accepted it): the card says so
            # and how to answer it.
            ringing = page.locator("#unit-call")
            await expect(ringing).to_have_attribute("data-status", "ringing", timeout=TIMEOUT_MS)
            await expect(ringing.locator("kbd")).to_have_text("A")
            await expect(page.locator('#history li[data-action="unit_calling"]')).to_have_count(
                1, timeout=TIMEOUT_MS
            )
            await shoot(page, tmp_path, f"operator-unit-call-{lang}-1366x768.png")
            # Accepting the alarm answers the unit's call and speaks with the home.
            await page.keyboard.press("a")
            panel = page.locator("#voice-panel")
            await expect(panel).to_have_attribute("data-status", "connected", timeout=TIMEOUT_MS)
            await expect(ringing).to_have_count(0)
            await page.wait_for_function(HEARS_1KHZ, arg="__taVoice", timeout=TIMEOUT_MS)
            answered = page.locator(
                '#history li[data-action="unit_calling"][data-status="answered"]'
            )
            await expect(answered).to_have_count(1, timeout=TIMEOUT_MS)
            await page.click("#voice-hangup")
            await expect(panel).to_have_attribute("data-status", "ended", timeout=TIMEOUT_MS)
        finally:
            run = await unit_call
        # The hang-up ended the unit's call too: the hub's BYE, answered by SIPp (ADR 0160);
        # the history says who ended it, and nothing rings any more.
        assert run.returncode == 0, (run.errors, run.output)
        ended = page.locator('#history li[data-action="unit_calling"][data-status="ended"]')
        await expect(ended).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(ended).to_contain_text(
            {"en": "ended by the operator", "ca": "finalitzada per l'operador"}[lang]
        )
        await expect(page.locator("#unit-call")).to_have_count(0)
        await ended.scroll_into_view_if_needed()
        await shoot(page, tmp_path, f"operator-unit-call-ended-{lang}-1366x768.png")
