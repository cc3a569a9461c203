"""A supervisor changes a resident's alarm rules on the resident card in Chromium: only the
changed settings are sent, a setting put back to the care level's default is sent as null
(it follows the level again), a refusal is listed in words, and the card shows the new plan.

The hub is the operator screenshots' demo hub (demo residents, three with a service, two
alarms); it runs on the machine's clock, and nothing here depends on the time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.appkeys import SESSIONMAKER
from hub.service import store
from hub.service.models import ServiceRow
from tests.console.browser import demo_page, served_demo

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000


@pytest_asyncio.fixture(loop_scope="session")
async def demo_hub() -> AsyncIterator[tuple[Any, str, str]]:
    """The demo hub, its address and the panic's alarm (resident 1, the late riser)."""
    async with served_demo() as (app, url, seeded):
        yield app, url, seeded["alarms"][1]


async def _panic_card(page: Any, panic: str) -> None:
    """Open the panic's card. The queue's own first pick is no fixed alarm: the hub runs on
    the machine's clock, so by the time a slow run signs in, the fall's timers may have
    moved it ahead (a CI run waited 30 s on another resident's card)."""
    await page.click(f'.qitem[data-id="{panic}"]', timeout=TIMEOUT_MS)
    await expect(page.locator(f'.qitem[data-id="{panic}"]')).to_have_attribute(
        "aria-selected", "true", timeout=TIMEOUT_MS
    )


async def _overrides(app: Any, resident_id: int) -> tuple[int, dict[str, Any]]:
    async with app[SESSIONMAKER]() as session:
        row = await session.scalar(select(ServiceRow).where(ServiceRow.resident_id == resident_id))
        assert row is not None
        plan = await store.latest_plan(session, row.id)
    assert plan is not None
    return plan.version, dict(plan.rules)


async def test_a_supervisor_changes_rules_on_the_card(
    chromium: Browser, demo_hub: tuple[Any, str, str]
) -> None:
    app, url, panic = demo_hub
    # Laia works in Catalan: the refusal comes in her language.
    async with demo_page(chromium, url, "laia", "ca", {"width": 1366, "height": 768}) as page:
        await _panic_card(page, panic)
        await page.wait_for_selector("#card-rules summary", timeout=TIMEOUT_MS)
        resident_id = 1  # the panic's resident: the late riser of the demo
        version, before = await _overrides(app, resident_id)
        assert before["bed"] is False
        await page.click("#card-rules summary")
        # A refusal first: nothing is stored.
        await page.fill("#rule-morning_end", "06:00")
        await page.click("#rules-form button[type=submit]")
        await expect(page.locator("#rules-errors")).to_contain_text(
            "La franja del matí acaba (06:00) abans que comenci (09:00).", timeout=TIMEOUT_MS
        )
        assert await _overrides(app, resident_id) == (version, before)
        # Then: a night from 22:00, and the back-to-bed alarm on again (the default).
        await page.fill("#rule-morning_end", "11:30")
        await page.fill("#rule-night_start", "22:00")
        await page.check('#rules-form input[name="bed"]')
        await page.click("#rules-form button[type=submit]")
        await expect(page.locator("#detail-notice")).to_contain_text(
            f"pla v{version + 1}", timeout=TIMEOUT_MS
        )
        new_version, after = await _overrides(app, resident_id)
        assert new_version == version + 1
        expected = {k: v for k, v in before.items() if k != "bed"} | {"night_start": "22:00"}
        assert after == expected
        await expect(page.locator("#card-rules")).to_contain_text("22:00–07:00")


async def test_a_supervisor_corrects_the_health_record_on_the_card(
    chromium: Browser, demo_hub: tuple[Any, str, str]
) -> None:
    from hub.db.health import ResidentHealth

    app, url, panic = demo_hub
    async with demo_page(chromium, url, "laia", "ca", {"width": 1366, "height": 768}) as page:
        await _panic_card(page, panic)
        await page.wait_for_selector("#card-health .allergies", timeout=TIMEOUT_MS)
        assert await page.locator("#card-dnr").count() == 0
        await page.click("#health-edit summary")
        await page.fill("#health-allergies", "penicil·lina\n  iode \n\n")
        await page.check('#health-form input[name="dnr"]')
        await page.click("#health-form button[type=submit]")
        await expect(page.locator("#card-dnr")).to_have_text(
            "NO REANIMAR (document registrat)", timeout=TIMEOUT_MS
        )
        await expect(page.locator("#card-health .allergies")).to_contain_text("iode")
        async with app[SESSIONMAKER]() as session:
            row = await session.get(ResidentHealth, 1)
        assert row is not None
        assert (row.allergies, row.dnr, row.updated_by) == (["penicil·lina", "iode"], True, "laia")
        assert row.conditions == ["diabetis tipus 2", "marcapassos (2019)"]  # kept
