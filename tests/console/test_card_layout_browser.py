"""The alarm's header, timer and actions stay on screen at 1366×768 whatever the operator
does with the card below (issue 23): revealing the key-safe code, scrolling to the history;
and the alarm's protocol sits beside the resident, so who they are and where they live is
on the first screen.

The hub is the operator screenshots' demo hub (demo residents, a panic and a fall)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from teleassist.screenshots import operator as shots
from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000
SIZE = {"width": 1366, "height": 768}


async def _box(page: Page, selector: str) -> dict[str, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not rendered"
    return box


async def _on_screen(page: Page, selector: str) -> None:
    """``selector`` is wholly inside the window and not under the fixed alarm header."""
    box = await _box(page, selector)
    assert box["y"] >= 0, (selector, box)
    assert box["y"] + box["height"] <= SIZE["height"], (selector, box)
    assert box["x"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= SIZE["width"], (selector, box)


async def _fixed_top_shown(page: Page) -> None:
    for selector in ("#detail-age", "#detail-claim", "#detail-rule", "#act-escalate",
                     "#act-resolve", "#act-voice"):  # fmt: skip
        await _on_screen(page, selector)


async def test_header_and_actions_stay_when_the_key_safe_code_is_revealed(
    chromium: Browser, demo_app: tuple[Any, str]
) -> None:
    _, url = demo_app
    async with demo_page(chromium, url, "anna", "ca", SIZE) as page:
        await page.wait_for_selector("#resident-card #protocol", timeout=TIMEOUT_MS)
        # First screen: the resident's name, address and key safe are visible, the protocol
        # is beside them (not above them).
        for selector in ("#card-name", "#card-address", "#keysafe-show, #resident-card .keysafe"):
            await _on_screen(page, selector)
        name, protocol = await _box(page, "#card-name"), await _box(page, "#protocol")
        assert protocol["x"] > name["x"] + name["width"] - 1  # another column
        await shots._accept(page)
        await shots._reveal_key_safe(page)
        await _fixed_top_shown(page)
        code = await _box(page, "#keysafe-value.code")
        top = await _box(page, "#alarm-top")
        assert code["y"] >= top["y"] + top["height"], "the code is hidden under the header"
        await _on_screen(page, "#keysafe-value.code")
        # Reading on to the history at the bottom of the card: the header does not move.
        await page.evaluate("document.getElementById('history').scrollIntoView()")
        await page.wait_for_function(
            "() => document.getElementById('detail').scrollTop > 300", timeout=TIMEOUT_MS
        )
        await _fixed_top_shown(page)
        assert await _box(page, "#alarm-top") == top


async def test_an_untaken_alarm_shows_all_its_actions_in_english(
    chromium: Browser, demo_app: tuple[Any, str]
) -> None:
    _, url = demo_app
    async with demo_page(chromium, url, "marc", "en", SIZE) as page:
        async with page.expect_navigation():
            await page.click("[data-ta-lang='en']")
        await page.wait_for_selector("#resident-card #protocol", timeout=TIMEOUT_MS)
        fall = page.locator(".qitem", has_text="Margaret Wilson")
        await fall.click()
        await page.wait_for_selector("#act-accept", timeout=TIMEOUT_MS)
        await page.wait_for_function(
            "() => document.getElementById('card-name')?.textContent === 'Margaret Wilson'",
            timeout=TIMEOUT_MS,
        )
        await _fixed_top_shown(page)
        await _on_screen(page, "#act-accept")
        await _on_screen(page, "#card-address")
