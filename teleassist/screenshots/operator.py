"""Screenshots of the operator console: queue, resident card, supervisor view.

Starts a private hub (SQLite in a temporary folder) with the demo residents, raises a few
alarms through the alarm engine, signs in as an operator (and a supervisor) in headless
Chromium, and writes ``operator-<screen>-<lang>-<W>x<H>.png``.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)
AREA = "operator"
SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1366, 768))


async def _seeded_hub(data_dir: Path) -> tuple[Any, dict[str, Any]]:
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.settings import HubSettings

    settings = HubSettings(
        data_dir=str(data_dir),
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    return create_app(settings), {}


async def _history(app: Any, ids: Any, url: str) -> None:
    """A few alarms handled earlier today, so the supervisor's figures have something."""
    from datetime import timedelta

    import aiohttp

    import protocol
    from hub.appkeys import CLOCK
    from hub.console.demo_data import DEMO_PASSWORD, raise_demo_alarm

    plan = [  # resident index, operator, seconds waiting, outcome
        (1, "marc", 35, "false_alarm"),
        (1, "anna", 20, "resident_fine"),
        (2, "marc", 75, "help_sent"),
        (1, "anna", 12, "false_alarm"),
    ]
    async with aiohttp.ClientSession(url) as http:
        headers = {}
        for name in ("anna", "marc"):
            login = await http.post(
                "/api/auth/login", json={"username": name, "password": DEMO_PASSWORD}
            )
            headers[name] = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        for index, operator, waited, outcome in plan:
            rid = ids.residents[index]
            now = app[CLOCK]()
            raised = await raise_demo_alarm(
                app,
                rid,
                ids.devices[rid][0],
                protocol.Panic(source="pendant"),
                at=now - timedelta(seconds=waited),
            )
            for alarm_id in raised:
                await http.post(f"/api/alarms/{alarm_id}/accept", headers=headers[operator])
                await http.post(
                    f"/api/alarms/{alarm_id}/resolve",
                    json={"outcome": outcome},
                    headers=headers[operator],
                )


async def _seed(app: Any, url: str) -> dict[str, Any]:
    from datetime import timedelta

    import protocol
    from hub.appkeys import CLOCK, KEYSAFE, SESSIONMAKER
    from hub.console.demo_data import raise_demo_alarm, seed_demo

    now = app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        ids = await seed_demo(session, app[KEYSAFE], now)
        await session.commit()
    r = ids.residents
    dev = ids.devices
    await _history(app, ids, url)
    alarms = []
    alarms += await raise_demo_alarm(
        app,
        r[2],
        dev[r[2]][2],
        protocol.Fall(room="bathroom", confidence=0.92),
        at=now - timedelta(seconds=40),
    )
    alarms += await raise_demo_alarm(
        app, r[0], dev[r[0]][0], protocol.Panic(source="pendant"), at=now - timedelta(seconds=95)
    )
    alarms += await raise_demo_alarm(
        app, r[1], dev[r[1]][3], protocol.LowBattery(percent=12), at=now - timedelta(minutes=50)
    )
    return {"ids": ids, "alarms": alarms}


async def _sign_in(browser: Any, url: str, username: str, lang: str, size: Any) -> Any:
    from hub.console.demo_data import DEMO_PASSWORD

    context = await browser.new_context(viewport=size, locale=lang)
    page = await context.new_page()
    await page.goto(f"{url}/login?lang={lang}")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda u: not u.endswith("/login") and "/login?" not in u)
    return page


async def _supervisor(
    browser: Any, url: str, out_dir: Path, lang: str, width: int, height: int
) -> Path:
    page = await _sign_in(browser, url, "laia", lang, {"width": width, "height": height})
    await page.goto(f"{url}/console/supervisor")
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#fig-60")
    await page.wait_for_selector("#on-shift tbody tr")
    await page.wait_for_timeout(300)
    path = out_dir / f"operator-supervisor-{lang}-{width}x{height}.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _accept(page: Any) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    # One retry: the alarm engine may be busy with the same alarm's timers.
    for _ in range(3):
        await page.keyboard.press("a")
        try:
            await page.wait_for_selector("#keysafe-show", timeout=5000)
            return
        except PlaywrightTimeout:
            await page.wait_for_timeout(500)
    await page.wait_for_selector("#keysafe-show")


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write the console's screenshots for ``languages`` at 1920×1080 and 1366×768."""
    from playwright.async_api import async_playwright

    from hub.console.demo_data import DEMO_PASSWORD
    from hub.web.serve import serving
    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH

    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="ta-shots-") as tmp:
        app, _ = await _seeded_hub(Path(tmp))
        async with serving(app) as url, async_playwright() as playwright:
            await _seed(app, url)
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
            )
            try:
                for lang in languages:
                    for width, height in SIZES:
                        context = await browser.new_context(
                            viewport={"width": width, "height": height}, locale=lang
                        )
                        page = await context.new_page()
                        await page.goto(f"{url}/login?lang={lang}")
                        await page.fill("#username", "anna")
                        await page.fill("#password", DEMO_PASSWORD)
                        await page.click("#signin-submit")
                        await page.wait_for_url("**/console")
                        # The language switch: the page AND the user's own language (the
                        # alarm texts from the API follow the user).
                        async with page.expect_navigation():
                            await page.click(f"[data-ta-lang='{lang}']")
                        _LOGGER.info("operator screenshots: %s %dx%d", lang, width, height)
                        try:
                            await page.wait_for_selector("#resident-card")
                        except Exception:
                            await page.screenshot(path=str(out_dir / "operator-FAILED.png"))
                            raise
                        await page.wait_for_selector(".conn[data-state='open']")
                        await page.wait_for_timeout(300)
                        name = f"operator-queue-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(out_dir / name))
                        written.append(out_dir / name)
                        # The card with the key safe shown (after accepting the alarm).
                        await _accept(page)
                        await page.keyboard.press("s")
                        await page.wait_for_selector("#keysafe-value.code")
                        await page.locator("#resident-card").scroll_into_view_if_needed()
                        name = f"operator-card-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(out_dir / name))
                        written.append(out_dir / name)
                        await context.close()
                        written.append(
                            await _supervisor(browser, url, out_dir, lang, width, height)
                        )
            finally:
                await browser.close()
    return written
