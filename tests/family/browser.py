"""Chromium with a fake camera and microphone, for the family app's browser tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from playwright.async_api import Browser, Page, async_playwright

from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, MEDIA_ARGS
from teleassist.screenshots._waits import wait_for_async
from tests.hub.fixtures import TEST_PASSWORD

PHONE = {"width": 390, "height": 844}


@asynccontextmanager
async def media_browser(*extra_args: str) -> AsyncIterator[Browser]:
    """Headless Debian Chromium that may use a fake camera/microphone on loopback.

    ``extra_args``: e.g. ``--use-file-for-fake-audio-capture=tone.wav`` (a known sound).
    """
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[*CHROMIUM_ARGS, *MEDIA_ARGS, *extra_args],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in_page(
    browser: Browser,
    base_url: str,
    username: str,
    path: str,
    lang: str = "en",
    viewport: dict[str, int] | None = None,
    at: datetime | None = None,
) -> Page:
    """A page of a new context (phone-sized by default), signed in through the real form;
    with ``at``, the page's clock stands at that instant (the hub's clock in the test)."""
    context = await browser.new_context(
        viewport=viewport or PHONE,
        locale="en-GB" if lang == "en" else "ca-ES",
        timezone_id="Europe/Madrid",
    )
    if at is not None:
        await context.clock.set_fixed_time(at)
    await context.grant_permissions(["camera", "microphone"], origin=base_url.rstrip("/"))
    page = await context.new_page()
    await page.goto(f"{base_url.rstrip('/')}/login?lang={lang}&next={path}")
    await page.fill("#username", username)
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
    return page


async def service_worker_activated(
    page: Page, scope: str = "/family", timeout_s: float = 60
) -> None:
    """Wait until the page's service worker for ``scope`` is activated.

    Chromium hands a push (``ServiceWorker.deliverPushMessage``) only to an activated
    worker; one delivered while the worker still installs is dropped without a word."""
    await wait_for_async(
        page,
        f"""async () => {{
            const reg = await navigator.serviceWorker.getRegistration({json.dumps(scope)});
            return reg && reg.active && reg.active.state === "activated" ? true : null;
        }}""",
        timeout_s=timeout_s,
    )
