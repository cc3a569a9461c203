"""In headless Chromium, in Catalan (issue 23, ADR 0170): a coordinator types a referral in,
says how the person is addressed with the form's select, finds it again on the referral
page with the words that follow it ("Viu sol"), and changes it there ("Viu sola")."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.db import upgrade_to_head
from hub.db.models import AuditEntry
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.settings import HubSettings
from hub.web.serve import serving
from tests.service.browser import PASSWORD, TIMEOUT_MS, signed_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path: Path) -> AsyncIterator[tuple[web.Application, str]]:
    """A served hub on SQLite with a Catalan-speaking coordinator."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade_to_head(url)
    settings = HubSettings(
        data_dir=str(tmp_path / "data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    app = create_app(settings)
    app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
    async with serving(app) as base:
        async with app[SESSIONMAKER]() as session:
            await create_user(session, "coord", PASSWORD, Role.COORDINATOR, language="ca")
            await session.commit()
        yield app, base


async def test_the_referral_form_asks_how_to_address_the_person_and_the_page_changes_it(
    chromium: Browser, hub: tuple[web.Application, str]
) -> None:
    app, base = hub
    context, page = await signed_in(chromium, base, "coord", "/service/referrals/new")

    choice = page.get_by_label("Com cal adreçar-s'hi?")
    await expect(choice).to_have_value("unknown", timeout=TIMEOUT_MS)  # nothing is guessed
    options = await choice.locator("option").all_inner_texts()
    assert options == ["No consta (frases neutres)", "Femení (senyora)", "Masculí (senyor)",
                       "Neutre"]  # fmt: skip
    await page.fill("#applicant_name", "Laia Vidal")
    await page.fill("#applicant_phone", "933 456 789")
    await page.fill("#person_name", "Pere Serra i Vila")
    await page.fill("#birth_date", "1938-02-11")
    await page.fill("#street", "Carrer de Sants 12")
    await page.fill("#postcode", "08014")
    await page.fill("#municipality", "Barcelona")
    await page.check("#lives_alone")
    await choice.select_option("masculine")
    await page.fill('[name="contacts.0.name"]', "Marta Serra")
    await page.fill('[name="contacts.0.phone"]', "600111222")
    await page.check("#consent_data")
    await page.click("#apply-form button[type=submit]")
    await page.wait_for_url(re.compile(r"/service/referrals/TA-"), timeout=TIMEOUT_MS)

    # The referral page says it again, and the words that take a gender follow it.
    await expect(page.locator("#svc-address-form")).to_have_text("Masculí (senyor)")
    await expect(page.locator("#svc-lives-alone")).to_have_text("Viu sol")
    reference = page.url.rsplit("/", 1)[1]

    # A mistake is put right on the same page: audited, and the page follows.
    await page.select_option("#new_address_form", "feminine")
    await page.click("#address-form-form button[type=submit]")
    await expect(page.locator("#svc-address-form")).to_have_text(
        "Femení (senyora)", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#svc-lives-alone")).to_have_text("Viu sola")
    await expect(page.locator("#new_address_form")).to_have_value("feminine")
    async with app[SESSIONMAKER]() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "service.address_form")
            )
        ).all()
    assert [(e.actor, e.object, e.details) for e in entries] == [
        ("coord", f"service:{reference}", {"from": "masculine", "to": "feminine"})
    ]
    await context.close()
