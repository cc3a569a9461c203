"""The console's browser tests on the operator screenshots' demo hub (a panic and a fall
waiting, a day of handled alarms): the hub served, and a page of it signed in."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, Page

from hub.web.serve import serving
from teleassist.screenshots import operator as shots

LAPTOP = {"width": 1366, "height": 768}


@asynccontextmanager
async def served_demo() -> AsyncIterator[tuple[web.Application, str, dict[str, Any]]]:
    """The demo hub, seeded and served: the app, its address and what was seeded (the
    alarms' ids…)."""
    with tempfile.TemporaryDirectory(prefix="ta-console-") as tmp:
        app, _ = await shots._seeded_hub(Path(tmp))
        async with serving(app) as url:
            seeded = await shots._seed(app, url)
            yield app, url, seeded


@asynccontextmanager
async def served_demo_hub() -> AsyncIterator[str]:
    """The demo hub, seeded and served: its address."""
    async with served_demo() as (_, url, _):
        yield url


@asynccontextmanager
async def demo_page(
    browser: Browser, url: str, username: str, lang: str, size: dict[str, int] = LAPTOP
) -> AsyncIterator[Page]:
    """A page of a context of its own, ``username`` signed in (demo password) in ``lang``;
    its context is closed after."""
    page: Page = await shots._sign_in(browser, url, username, lang, size)
    try:
        yield page
    finally:
        await page.context.close()
