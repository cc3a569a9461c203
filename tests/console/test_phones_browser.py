"""One way of writing a phone number on every page (issue 23: "inconsistent date, phone and
decimal formats"): the console's card and its "next step" list group a Spanish number as the
service pages do (hub/web/numbers.format_phone, "+34 611 23 45 67"), not as it was typed.

ta.js's formatPhone is checked against format_phone on the same inputs in real Chromium, and
the card of the operator screenshots' demo hub shows the contacts' numbers so."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from hub.web.numbers import format_phone
from tests.console.browser import demo_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT_MS = 30_000

TYPED = [
    "+34 611 234 567",
    "611234567",
    "0034 933-45-12-90",
    "933 45 12 90",
    "(+34) 622.345.678",
    "+44 20 7946 0958",
    "112",
    "  061  ",
    "",
]


async def test_the_console_writes_phones_as_the_service_pages_do(
    chromium: Browser, demo_url: str
) -> None:
    async with demo_page(chromium, demo_url, "anna", "ca") as page:
        written = await page.evaluate(
            """async (typed) => {
              const m = await import("/static/web/ta.js");
              return typed.map((p) => m.formatPhone(p));
            }""",
            TYPED,
        )
        assert written == [format_phone(p) for p in TYPED]
        # The demo resident's son, stored as "+34 611 234 567".
        contact = page.locator("#resident-card [data-contact]", has_text="Jordi Puig")
        await expect(contact.locator(".phone")).to_have_text("+34 611 23 45 67", timeout=TIMEOUT_MS)
        phones = await page.locator("#resident-card .phone").all_inner_texts()
        assert phones, "the card shows no phone"
        assert all(p == format_phone(p) for p in phones), phones
