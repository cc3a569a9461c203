"""The browser side of dates (ta.js with Intl) in real Chromium: each language its own
order and words, a 24-hour clock in English too, relative times in words."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.family.browser import media_browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SCRIPT = """async (iso) => {
  const m = await import("/static/web/ta.js");
  return [m.formatDateTime(iso), m.formatTime(iso, { date: "never" }), m.formatAgo(20),
          m.formatAgo(150)];
}"""


async def test_dates_and_relative_times_in_each_language(hub_client: TestClient[Any, Any]) -> None:
    base = str(hub_client.make_url("/")).rstrip("/")
    expected = {
        # The day and month words are the server's (see the test below); the clock too.
        "ca": ("21:45", "fa 20 minuts", "fa 2 hores", "des."),
        "es": ("21:45", "hace 20 minutos", "hace 2 horas", "dic"),
        "en": ("21:45", "20 minutes ago", "2 hours ago", "Dec"),
    }
    async with media_browser() as browser:
        context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
        page = await context.new_page()
        for lang, (clock, ago, hours, month) in expected.items():
            await page.goto(f"{base}/login?lang={lang}")
            full, time_only, twenty, more = await page.evaluate(SCRIPT, "2026-12-06T20:45:00Z")
            # The service's zone and the page's language, not the browser's (New York, en-US).
            assert time_only == clock, lang
            assert full.startswith("6 "), (lang, full)
            assert month in full, (lang, full)
            assert full.endswith(clock), (lang, full)
            assert "PM" not in full
            assert (twenty, more) == (ago, hours), lang
        await context.close()


MOMENTS = ("2026-12-04T20:45:00Z", "2027-04-01T22:05:00Z", "2026-03-29T00:30:00Z")


async def test_the_browser_writes_a_moment_as_the_server_pages_do(
    hub_client: TestClient[Any, Any],
) -> None:
    """Issue 23: Chromium wrote "4 de des. 2026" where the server's pages say "4 de des. del
    2026"; ta.js now fills the server's rule (hub/web/dates.py moment_rule)."""
    from hub.web.dates import format_moment, parse_iso

    base = str(hub_client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
        page = await context.new_page()
        for lang in ("ca", "es", "en"):
            await page.goto(f"{base}/login?lang={lang}")
            for iso in MOMENTS:
                written = await page.evaluate(
                    'async (iso) => (await import("/static/web/ta.js")).formatDateTime(iso)', iso
                )
                moment = parse_iso(iso)
                assert moment is not None
                assert written == format_moment(moment, lang), (lang, iso)
        await context.close()


DAYS = ("2026-12-03", "2027-05-01", "2026-12-31T23:30:00Z")


async def test_the_browser_writes_a_day_as_the_server_pages_do(
    hub_client: TestClient[Any, Any],
) -> None:
    """Issue 23: the supervisor's period was Chromium's own "3 de desembre de 2026" beside
    pages that write "3 de des. del 2026"; ta.js's formatDay fills the server's rule for a
    calendar day (a date field's value) and for an instant (its day in the centre's zone)."""
    from datetime import date

    from hub.web.dates import format_day, parse_iso

    base = str(hub_client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
        page = await context.new_page()
        for lang in ("ca", "es", "en"):
            await page.goto(f"{base}/login?lang={lang}")
            for value in DAYS:
                written = await page.evaluate(
                    'async (v) => (await import("/static/web/ta.js")).formatDay(v)', value
                )
                moment = parse_iso(value) if "T" in value else None
                day = moment if moment is not None else date.fromisoformat(value)
                assert written == format_day(day, lang), (lang, value)
            assert written.startswith("1 ")  # 31 Dec 23:30 UTC is 1 January in Madrid
            assert (
                await page.evaluate(
                    'async () => (await import("/static/web/ta.js")).formatDay("not a day")'
                )
                == ""
            )
        await context.close()
