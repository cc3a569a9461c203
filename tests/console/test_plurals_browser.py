"""Counts in the console agree with their number in each language (issue 23: "Catalan plurals
done properly"): the queue reads "2 obertes" / "2 abiertas" / "2 open", "1 oberta" for one,
never "2 oberta(es)"; the 112 retry badge "ha fallat 2 cops", "failed once".

ta.js's tn() chooses ``key_one`` / ``key_other`` by the page language's plural rules
(Intl.PluralRules) in real Chromium. The hub is the operator screenshots' demo hub (a panic
and a fall)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000

COUNTS = """async () => {
  const m = await import("/static/web/ta.js");
  return [0, 1, 2, 5].map((n) => m.tn("queue_count", n))
    .concat([1, 2].map((n) => m.tn("handoff_retrying", n)));
}"""

EXPECTED = {
    "ca": ("2 obertes", ["0 obertes", "1 oberta", "2 obertes", "5 obertes",
                         "112: ha fallat 1 cop, es reintenta",
                         "112: ha fallat 2 cops, es reintenta"]),
    "es": ("2 abiertas", ["0 abiertas", "1 abierta", "2 abiertas", "5 abiertas",
                          "112: ha fallado 1 vez, se reintenta",
                          "112: ha fallado 2 veces, se reintenta"]),
    "en": ("2 open", ["0 open", "1 open", "2 open", "5 open",
                      "112: failed once, retrying", "112: failed 2 times, retrying"]),
}  # fmt: skip


async def test_the_queue_counts_agree_with_their_number(chromium: Browser, demo_url: str) -> None:
    for lang, (shown, counts) in EXPECTED.items():
        async with demo_page(chromium, demo_url, "anna", lang) as page:
            # The user's language is stored with their account: choose it on the page.
            async with page.expect_navigation():
                await page.click(f"[data-ta-lang='{lang}']")
            # The demo's two open care alarms, worded as a plural.
            await expect(page.locator("#queue-count")).to_have_text(shown, timeout=TIMEOUT_MS)
            assert await page.evaluate(COUNTS) == counts, lang
            assert "(" not in await page.locator("#queue-count").inner_text()
