"""The service pages' browser tests: signing a user in through the real form."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page

# The password the service browser tests give their users.
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 30_000
DESKTOP = {"width": 1280, "height": 900}


async def signed_in(
    browser: Browser, base: str, username: str, path: str, viewport: dict[str, int] = DESKTOP
) -> tuple[BrowserContext, Page]:
    """A new context with ``username`` signed in (:data:`PASSWORD`) and its page at ``path``
    (``/login?next=path``); the caller closes the context. A sign-in that fails closes it."""
    context = await browser.new_context(base_url=base, viewport=viewport)
    try:
        page = await context.new_page()
        await page.goto(f"/login?next={path}")
        await page.fill("#username", username)
        await page.fill("#password", PASSWORD)
        await page.click("#signin-submit")
        await page.wait_for_url(base + path, timeout=TIMEOUT_MS)
    except BaseException:
        await context.close()
        raise
    return context, page
