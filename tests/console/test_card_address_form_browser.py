"""The resident card says how to address the person and phrases "lives alone" by it, in
Catalan (issue 23, ADR 0170): "Viu sola" for a woman, "Viu sol" for a man, "Viu a soles"
when nobody stated it — never "Viu sola" for a man.

The hub is the operator screenshots' demo hub (demo residents, a panic and a fall)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.appkeys import SESSIONMAKER
from hub.db.models import Resident
from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000
SIZE = {"width": 1366, "height": 768}


async def test_the_card_addresses_the_resident_as_recorded(
    chromium: Browser, demo_app: tuple[Any, str]
) -> None:
    app, url = demo_app
    async with demo_page(chromium, url, "anna", "ca", SIZE) as page:
        await page.wait_for_selector("#resident-card #card-name", timeout=TIMEOUT_MS)
        name = (await page.locator("#card-name").inner_text()).strip()
        async with app[SESSIONMAKER]() as session:
            resident = await session.scalar(select(Resident).where(Resident.name == name))
        assert resident is not None
        assert resident.address_form == "feminine"  # every woman of the demo cast
        await expect(page.locator("#card-address-form")).to_have_text("Femení (senyora)")
        await expect(page.locator("#card-lives-alone")).to_have_text("Viu sola")
        tractament = page.locator("#resident-card dt", has_text="Tractament")
        await expect(tractament).to_be_visible()

        for form, words, shown in (
            ("masculine", "Viu sol", "Masculí (senyor)"),
            ("unknown", "Viu a soles", "No consta (frases neutres)"),
            ("neutral", "Viu a soles", "Neutre"),
        ):
            async with app[SESSIONMAKER]() as session, session.begin():
                row = await session.get(Resident, resident.id)
                assert row is not None
                row.address_form = form
            await page.reload()
            await expect(page.locator("#card-lives-alone")).to_have_text(words, timeout=TIMEOUT_MS)
            await expect(page.locator("#card-address-form")).to_have_text(shown)
