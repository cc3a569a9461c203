"""In headless Chromium (issue 23): a coordinator refers a person from the list's New
referral, assesses them with how to get in, and orders the installation; the installer
opens the work order on a 390x844 phone and has the door's facts without sideways scrolling."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, expect

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.db import upgrade_to_head
from hub.settings import HubSettings
from hub.web.serve import serving

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 30_000
ACCESS = "Porter automàtic 3-1. La veïna del 3r 2a té clau."


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade_to_head(url)
    settings = HubSettings(
        data_dir=str(tmp_path / "data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    app: web.Application = create_app(settings)
    async with serving(app) as base:
        async with app[SESSIONMAKER]() as session:
            for name, role in (("coord", Role.COORDINATOR), ("inst", Role.INSTALLER)):
                await create_user(session, name, PASSWORD, role, language="ca")
            await session.commit()
        yield base


async def _sign_in(browser: Browser, base: str, user: str, size: tuple[int, int]) -> Page:
    context = await browser.new_context(
        base_url=base, viewport={"width": size[0], "height": size[1]}
    )
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(re.compile(r".*/service.*"), timeout=TIMEOUT_MS)
    return page


async def test_new_referral_to_the_installer_at_the_door_on_a_phone(
    chromium: Browser, hub: str
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    coord = await _sign_in(chromium, hub, "coord", (1366, 768))
    await coord.goto("/service?lang=ca")
    await coord.click("#new-referral")
    await coord.wait_for_url(re.compile(r".*/service/referrals/new"))
    await coord.fill("#applicant_name", "Sergi Pons")
    await coord.fill("#applicant_phone", "934 000 000")
    await coord.fill("#person_name", "Teresa Soler Prat")
    await coord.fill("#birth_date", "1936-11-02")
    await coord.fill("#phone", "933451290")
    await coord.fill("#street", "Passeig de Sant Joan 80, 2n")
    await coord.fill("#postcode", "08009")
    await coord.fill("#municipality", "Barcelona")
    await coord.fill('[name="contacts.0.name"]', "Laura Soler")
    await coord.fill('[name="contacts.0.phone"]', "610551121")
    await coord.check('[name="contacts.0.key_holder"]')
    await coord.check("#consent_data")
    await coord.click("button[type=submit]")
    # Straight to the new referral's page, ready to assess.
    await coord.wait_for_url(re.compile(r".*/service/referrals/TA-\d{4}-[0-9A-Z]{6}$"))
    await coord.select_option("#care_level", "basic")
    await coord.fill("#abss_area", "BCN-07")
    await coord.fill("#access_notes", ACCESS)
    await coord.click("#actions button[type=submit]")
    await coord.locator("#actions form[data-then=work_order] button").click()
    await coord.wait_for_url(re.compile(r".*/service/work-orders/\d+$"))
    order_path = coord.url.split(hub, 1)[1]

    phone = await _sign_in(chromium, hub, "inst", (390, 844))
    await phone.goto(order_path + "?lang=ca")
    await expect(phone.locator("#wo-access")).to_have_text(ACCESS)
    await expect(phone.locator("#wo-phone")).to_have_attribute("href", "tel:+34933451290")
    await expect(phone.locator("#wo-phone")).to_be_in_viewport()
    await expect(phone.locator("#wo-contacts")).to_contain_text("Laura Soler")
    # Nothing wider than the phone: no sideways scrolling at the door.
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    await phone.goto("/service/work-orders?lang=ca")
    await expect(phone.locator("#work-orders")).to_contain_text("Teresa Soler Prat")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390


async def test_a_catalan_application_on_an_american_browser_takes_day_month_year(
    chromium: Browser, hub: str
) -> None:
    """The birth date in dd/mm/aaaa whatever the browser's locale (ADR 0172): an impossible
    date is refused in words before anything is sent; a good one is posted as ISO."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = await chromium.new_context(base_url=hub, locale="en-US")
    page = await context.new_page()
    sent: list[dict[str, object]] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data_json) if "/api/service/applications" in r.url else None,
    )
    await page.goto("/service/apply?lang=ca")
    born = page.get_by_label("Data de naixement")
    await expect(born).to_have_attribute("placeholder", "dd/mm/aaaa")
    await page.fill("#applicant_name", "Sergi Pons")
    await page.fill("#applicant_phone", "934 000 000")
    await page.fill("#person_name", "Teresa Soler Prat")
    await born.fill("31/02/1936")
    await page.fill("#street", "Passeig de Sant Joan 80, 2n")
    await page.fill("#postcode", "08009")
    await page.fill("#municipality", "Barcelona")
    await page.fill('[name="contacts.0.name"]', "Laura Soler")
    await page.fill('[name="contacts.0.phone"]', "610551121")
    await page.check("#consent_data")
    await page.click("button[type=submit]")
    await expect(page.locator("#birth_date-error")).to_have_text(
        "No és una data vàlida. Escriviu-la com a dd/mm/aaaa, per exemple 25/03/1940."
    )
    await expect(born).to_be_focused()
    assert sent == []
    await born.fill("2/11/1936")
    async with page.expect_response("**/api/service/applications**") as answer:
        await page.click("button[type=submit]")
    response = await answer.value
    assert response.ok, await response.text()
    assert sent[-1]["birth_date"] == "1936-11-02"
    await expect(page.locator("#applied")).to_be_visible()
    await context.close()
