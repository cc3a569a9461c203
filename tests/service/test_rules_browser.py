"""The coordinator changes a person's alarm rules on the referral page in Chromium: only the
settings changed are stored (a field left at the care level's default keeps following the
level), and a refused value is explained beside its field."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.clock import ManualClock
from hub.db import upgrade_to_head
from hub.service import store
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.service.referral import parse_referral
from hub.settings import HubSettings
from hub.web.serve import serving
from tests.instants import DEFAULT_START
from tests.service.browser import PASSWORD, TIMEOUT_MS, signed_in
from tests.service.helpers import application

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path: Path) -> AsyncIterator[tuple[web.Application, str, str]]:
    """A hub on SQLite with a coordinator and one assessed referral (medium level)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade_to_head(url)
    settings = HubSettings(
        data_dir=str(tmp_path / "data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    clock = ManualClock(DEFAULT_START)
    app = create_app(settings, clock=clock)
    app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
    async with serving(app) as base:
        async with app[SESSIONMAKER]() as session, session.begin():
            await create_user(session, "coord", PASSWORD, Role.COORDINATOR, language="en")
            row, _ = await store.submit_referral(
                session,
                parse_referral(application(), clock().date()),
                actor="public",
                now=clock(),
            )
            decision = store.Assessment("medium", "BCN-03", confirm_new_person=True)
            await store.assess(session, row, decision, actor="coord", now=clock())
            reference = row.reference
        yield app, base, reference


async def _overrides(app: web.Application, reference: str) -> tuple[int, dict[str, object]]:
    async with app[SESSIONMAKER]() as session:
        row = await store.get_service(session, reference)
        plan = await store.latest_plan(session, row.id)
    assert plan is not None
    return plan.version, dict(plan.rules)


async def test_the_coordinator_changes_rules_and_sees_refusals(
    chromium: Browser, hub: tuple[web.Application, str, str]
) -> None:
    app, base, reference = hub
    path = f"/service/referrals/{reference}"
    context, page = await signed_in(chromium, base, "coord", path, {"width": 1366, "height": 768})
    try:
        # A window the wrong way round: refused beside the field, nothing stored.
        await page.fill("#rules-morning_start", "10:00")
        await page.fill("#rules-morning_end", "08:00")
        await page.click("#rules-form button[type=submit]")
        error = page.locator('[data-error-for="rules.morning_end"]')
        await expect(error).to_have_text(
            "The morning window ends (08:00) before it starts (10:00).", timeout=TIMEOUT_MS
        )
        assert await _overrides(app, reference) == (1, {})
        # A late riser who needs no back-to-bed alarm, and 19,5 °C typed the Catalan way.
        await page.fill("#rules-morning_start", "08:30")
        await page.fill("#rules-morning_end", "11:00")
        await page.fill("#rules-temperature_low", "19,5")
        await page.uncheck('input[name="rules.bed"]')
        # A medicine in the empty row: insulin at 08:00 and 20:00 on weekdays.
        row = page.locator("#rules-medications tr[data-med]").last
        await row.locator('[data-med-field="name"]').fill("insulina")
        await row.locator('[data-med-field="times"]').fill("20:00, 08:00")
        for day in ("mon", "tue", "wed", "thu", "fri"):
            await row.locator(f'[data-med-day="{day}"]').check()
        async with page.expect_navigation(timeout=TIMEOUT_MS):
            await page.click("#rules-form button[type=submit]")
        version, overrides = await _overrides(app, reference)
        assert version == 2
        # Only what changed is stored: the rest keeps following the care level.
        assert overrides == {
            "bed": False,
            "medications": [
                {
                    "name": "insulina",
                    "times": ["08:00", "20:00"],
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": None,
                    "end": None,
                }
            ],
            "morning_end": "11:00",
            "morning_start": "08:30",
            "temperature_low": 19.5,
        }
        # Shown again with an empty row to add the next one.
        await expect(page.locator("#rules-medications tr[data-med]")).to_have_count(2)
        await expect(page.locator("#rules-morning_start")).to_have_value("08:30")
        await expect(page.locator('input[name="rules.bed"]')).not_to_be_checked()
    finally:
        await context.close()
