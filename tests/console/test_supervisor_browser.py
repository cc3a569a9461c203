"""The supervisor's figures in Chromium (issue 23): the period written as every other date
of the web, every percentage with one decimal and the count behind it, and tables whose
totals say that technical alarms are in them (and which rows are technical).

The hub is the operator screenshots' demo hub: six care alarms today (four handled
earlier, a panic and a fall waiting) and one technical (low battery)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000


@pytest.mark.parametrize(
    ("lang", "period", "included", "of", "total", "technical"),
    [
        ("ca", "Període: 3 de des. del 2026", "Alarmes tècniques (no incloses): 3",
         r"\d de 6", "Total (atenció i tècniques)", "Tècnica"),
        ("en", "Period: 3 Dec 2026", "Technical alarms (not included): 3",
         r"\d of 6", "Total (care and technical)", "Technical"),
    ],
)  # fmt: skip
async def test_figures_say_what_they_count(
    chromium: Browser, demo_url: str, lang: str, period: str, included: str, of: str,
    total: str, technical: str,
) -> None:  # fmt: skip
    async with demo_page(chromium, demo_url, "laia", lang) as page:
        await page.goto(f"{demo_url}/console/supervisor")
        async with page.expect_navigation():
            await page.click(f"[data-ta-lang='{lang}']")
        # the story's day (the browser's clock), written as every date of the web writes a
        # day (ta.js formatDay, the server's rule), not Chromium's own "3 de desembre de 2026"
        await expect(page.locator("#period-text")).to_have_text(period, timeout=TIMEOUT_MS)
        await expect(page.locator("#fig-alarms .value")).to_have_text("6")
        await expect(page.locator("#fig-alarms")).to_contain_text(included)
        for tile in ("#fig-60", "#fig-180"):
            value = await page.locator(f"{tile} .value").inner_text()
            # one decimal always, the language's decimal mark (100,0 % / 100.0%)
            mark = "," if lang == "ca" else r"\."
            assert re.fullmatch(rf"\d{{1,3}}{mark}\d\s?%", value), value
            await expect(page.locator(tile)).to_contain_text(re.compile(of))
        await expect(page.locator("#fig-60 .target")).to_contain_text(
            "97,5" if lang == "ca" else "97.5"
        )
        await expect(page.locator("#by-type tfoot")).to_contain_text(total)
        # 6 care alarms and the story's 3 technical ones (two low batteries, a sensor fault)
        await expect(page.locator("#by-type-total")).to_have_text("9")
        await expect(page.locator("#by-outcome-total")).to_have_text("9")
        technical_rows = page.locator('#by-type tr[data-category="technical"]')
        await expect(technical_rows).to_have_count(2)  # low battery, device fault
        for row in await technical_rows.all():
            await expect(row).to_contain_text(technical)
