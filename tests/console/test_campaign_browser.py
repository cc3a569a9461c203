"""A coordinator creates a campaign of wellbeing calls in Chromium and an operator records an
outcome from the agenda; the coordinator's campaign page follows it without reloading
(issue 22, item 5).

The hub is the operator screenshots' demo hub (three residents of 85-90 living alone in area
BCN-2, staff including the coordinator ``eva``); nothing here depends on the time."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.appkeys import SESSIONMAKER
from hub.console.models import Campaign, WellbeingCall
from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000
SIZE = {"width": 1366, "height": 768}


async def test_a_coordinator_runs_a_campaign_and_an_operator_records_an_outcome(
    chromium: Browser, demo_app: tuple[Any, str]
) -> None:
    app, url = demo_app
    async with (
        demo_page(chromium, url, "eva", "en", SIZE) as coordinator,
        demo_page(chromium, url, "anna", "en", SIZE) as operator,
    ):
        await coordinator.goto(f"{url}/console/campaigns")
        for page in (coordinator, operator):  # Eva and Anna work in Catalan: English here
            async with page.expect_navigation():
                await page.click("[data-ta-lang='en']")
        await expect(coordinator.locator("#campaigns-empty")).to_be_visible(timeout=TIMEOUT_MS)
        # A population that selects nobody is refused in words, and nothing is stored.
        await coordinator.fill("#c-name", "Heat wave")
        await coordinator.fill("#c-min-age", "100")
        await coordinator.click("#c-create")
        await expect(coordinator.locator("#campaigns-error")).to_have_text(
            "These filters select nobody.", timeout=TIMEOUT_MS
        )
        # Over 80, living alone, area BCN-2: the preview names the three demo residents.
        await coordinator.fill("#c-min-age", "80")
        await coordinator.select_option("#c-alone", "yes")
        await coordinator.check('#c-areas input[value="BCN-2"]')
        await coordinator.click("#c-preview")
        await expect(coordinator.locator("#c-preview-count")).to_have_text(
            "3 people", timeout=TIMEOUT_MS
        )
        await coordinator.fill("#c-script", "Are you drinking water? Is the flat cool?")
        await coordinator.select_option("#c-priority", "high")
        await coordinator.check('#c-operators input[value="anna"]')
        await coordinator.click("#c-create")
        await expect(coordinator.locator("#campaigns-notice")).to_have_text(
            "Campaign created: 3 calls in the agenda.", timeout=TIMEOUT_MS
        )
        await expect(coordinator.locator("#campaign-figures")).to_contain_text("3")
        async with app[SESSIONMAKER]() as session:
            campaign = (await session.scalars(select(Campaign))).one()
        assert campaign.filters == {"min_age": 80, "lives_alone": True, "areas": ["BCN-2"]}
        assert campaign.priority == 2

        # The operator's agenda: the campaign's calls with its name and script, hers.
        await operator.goto(f"{url}/console/calls")
        row = operator.locator(f"tr[data-campaign='{campaign.id}']").first
        await expect(row).to_contain_text("Heat wave", timeout=TIMEOUT_MS)
        await expect(row).to_contain_text("Are you drinking water? Is the flat cool?")
        await expect(row).to_contain_text("For anna")  # all three are hers
        resident = (await row.locator("strong").first.text_content() or "").strip()
        await row.locator("button[data-outcome='reached_follow_up']").click()
        await expect(operator.locator("#done-calls")).to_contain_text(resident)

        # The coordinator's page follows without a reload: one done, for anna.
        done = coordinator.locator("#campaign-operators tr[data-operator='anna'] td")
        await expect(done).to_have_text(["Anna Soler", "3", "1", "0", "2"], timeout=TIMEOUT_MS)
        await expect(coordinator.locator("#campaigns tbody tr").first).to_contain_text(
            "1 of 3 done · 2 pending · 0 no answer", timeout=TIMEOUT_MS
        )
        await expect(coordinator.locator("#campaign-figures .figure").nth(3)).to_contain_text("1")
        async with app[SESSIONMAKER]() as session:
            outcomes = list(
                await session.scalars(
                    select(WellbeingCall.outcome).where(WellbeingCall.campaign_id == campaign.id)
                )
            )
        assert sorted(o or "" for o in outcomes) == ["", "", "reached_follow_up"]

        # Closing: the two calls not made leave the agenda.
        coordinator.once("dialog", lambda dialog: dialog.accept())
        await coordinator.click("#campaign-close")
        await expect(coordinator.locator("#campaigns tbody tr").first).to_contain_text(
            "Closed", timeout=TIMEOUT_MS
        )
        await operator.reload()
        await expect(operator.locator("#done-calls")).to_contain_text(
            "Not made (campaign closed)", timeout=TIMEOUT_MS
        )
        assert await operator.locator(f"tr[data-campaign='{campaign.id}']").count() == 0
