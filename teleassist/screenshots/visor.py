"""Screens of the citizen visor: the reason form and a resident's record, per language.

Runs a real hub on a temporary SQLite database with a demo resident (see
:mod:`hub.visor.demo`), signs a social worker in through the sign-in page and drives
Debian's Chromium with Playwright.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

AREA = "visor"
SIZES: tuple[tuple[int, int], ...] = ((1280, 900), (390, 844))


@dataclass(frozen=True)
class VisorHub:
    """A running hub with a social worker and a demo resident."""

    base_url: str
    username: str
    password: str
    resident_id: int


@contextlib.asynccontextmanager
async def visor_hub(directory: Path) -> AsyncIterator[VisorHub]:
    """Start a hub on a fresh SQLite database under ``directory``; stop it afterwards."""
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.auth import Role, create_user
    from hub.clock import utc_now
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.settings import HubSettings
    from hub.visor.demo import seed_visor_demo
    from hub.web.serve import serving

    url = f"sqlite+aiosqlite:///{directory / 'hub.sqlite'}"
    await upgrade_to_head(url)
    password = secrets.token_urlsafe(12)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await create_user(
                session,
                "nuria.social",
                password,
                Role.SOCIAL_WORKER,
                display_name="Núria Vidal",
                language="ca",
            )
            resident_id = await seed_visor_demo(session, utc_now())
            await session.commit()
    finally:
        await engine.dispose()
    settings = HubSettings(
        data_dir=str(directory / "hub-data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    async with serving(create_app(settings)) as base_url:
        yield VisorHub(base_url, "nuria.social", password, resident_id)


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """``visor-start-<lang>-WxH.png`` and ``visor-resident-<lang>-WxH.png``."""
    from playwright.async_api import async_playwright

    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH

    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with visor_hub(Path(tmp)) as hub, async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
            )
            try:
                for lang in languages:
                    for width, height in SIZES:
                        context = await browser.new_context(
                            viewport={"width": width, "height": height},
                            locale=lang,
                            timezone_id="Europe/Madrid",
                        )
                        page = await context.new_page()
                        await page.goto(f"{hub.base_url}/login?next=/visor&lang={lang}")
                        await page.fill("#username", hub.username)
                        await page.fill("#password", hub.password)
                        await page.click("#signin-submit")
                        await page.wait_for_url(lambda url: "/login" not in url)
                        await page.goto(f"{hub.base_url}/visor?lang={lang}")
                        await page.select_option("#by", "name")
                        await page.fill("#resident", "Montserrat Puig")
                        await page.select_option("#reason", "follow_up")
                        start = out_dir / f"visor-start-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(start), full_page=True)
                        await page.click("button[type=submit]")
                        await page.wait_for_selector("#visor-services")
                        record = out_dir / f"visor-resident-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(record), full_page=True)
                        written += [start, record]
                        await context.close()
            finally:
                await browser.close()
    return written
