"""Joining by oneself in real Chromium at phone size: a code made on the resident's tablet,
the relative's own phone number verified through the SMS stand-in, then the family home."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from teleassist.config import Config, load_config
from tests.family.browser import PHONE, media_browser
from tests.family.conftest import World
from tests.family.standins import SmsGateway, SmtpServer, message_standins

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000


@pytest.fixture
async def standins():  # type: ignore[no-untyped-def]
    async with message_standins() as both:
        yield both


@pytest.fixture
def hub_config(standins: tuple[SmsGateway, SmtpServer]) -> Config:
    sms, smtp = standins
    return load_config().with_overrides(
        "alarms", sms_url=sms.url, sms_token=sms.token, smtp_host="127.0.0.1", smtp_port=smtp.port
    )


async def test_a_relative_joins_on_a_phone_in_catalan(
    world: World, standins: tuple[SmsGateway, SmtpServer]
) -> None:
    sms = standins[0]
    tablet = await world.resident("Maria Soler")
    resp = await world.client.post(
        f"/api/family/residents/{tablet.resident_id}/linking-codes",
        json={"consent": ["alarms", "activity"]},
        headers=tablet.headers,
    )
    code = (await resp.json())["code"]
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        context = await browser.new_context(viewport=PHONE, timezone_id="Europe/Madrid")
        page = await context.new_page()
        await page.goto(f"{base}/login?lang=ca")
        await page.click("a[href^='/family/join']")
        await page.fill("#join-code", code.lower().replace("-", " "))  # as people type it
        await page.fill("#join-name", "Jordi Puig")
        await page.fill("#join-relationship", "nét")
        await page.fill("#join-contact", "612 34 56 78")
        await page.fill("#join-password", "curt")
        await page.click("#join-submit")
        await expect(page.locator("#join-error")).to_contain_text("almenys 10", timeout=TIMEOUT_MS)
        assert sms.sent == []
        await page.fill("#join-password", "un passeig llarg pel mar")
        await page.click("#join-submit")
        await expect(page.locator("#verify-sent")).to_contain_text("••78", timeout=TIMEOUT_MS)
        [sent] = sms.codes()
        await page.fill("#verify-code", "000000" if sent != "000000" else "111111")
        await page.click("#verify-submit")
        await expect(page.locator("#verify-error")).to_have_text(
            "No és el codi. Et queden 4 intents.", timeout=TIMEOUT_MS
        )
        await page.fill("#verify-code", sent)
        await page.click("#verify-submit")
        await page.wait_for_url(f"{base}/family", timeout=TIMEOUT_MS)
        await expect(page.locator("main")).to_contain_text("Maria Soler", timeout=TIMEOUT_MS)
        await context.close()
