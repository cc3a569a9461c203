"""Screens of the family web app on a phone (390×844): joining with a code, home, status, chat,
incoming call, call, agenda, the facilitator's groups and an alarm's progress, per language.

Runs a real hub on a temporary SQLite database seeded through the API
(:mod:`hub.family.demo`) and drives Debian's Chromium with a fake camera: the call
screens show a real WebRTC call between two signed-in browsers.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

AREA = "family"
PHONE = (390, 844)


@contextlib.asynccontextmanager
async def family_hub(directory: Path) -> AsyncIterator[tuple[str, Any, Any]]:
    """A hub with the family demo on a fresh SQLite database; yields (base URL, demo, app)."""
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.family.demo import create_demo_people, seed_demo_family
    from hub.settings import HubSettings
    from hub.web.serve import serving

    url = f"sqlite+aiosqlite:///{directory / 'hub.sqlite'}"
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            demo = await create_demo_people(session)
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
    from config import load_config
    from hub.family.webpush import new_vapid_private_key

    # With a VAPID key, so the home shows the "Alert me on this phone" card.
    config = load_config().with_overrides("family", vapid_private_key=new_vapid_private_key())
    app = create_app(settings, config=config)
    async with serving(app) as base_url:
        await seed_demo_family(base_url, demo)
        yield base_url, demo, app


async def alarm_in_progress(app: Any, base: str, demo: Any) -> None:
    """A real panic of Maria's, accepted, spoken with and a key holder on the way."""
    import aiohttp

    from alerts import DeviceType, HomeEvent
    from hub.alarms.routes import ALARM_ENGINE
    from hub.appkeys import CLOCK, SESSIONMAKER
    from hub.db.models import Resident
    from hub.family.demo import DEMO_PASSWORD
    from protocol import Panic

    async with app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, demo.resident_id)
        home = str(resident.home_id)
    panic = HomeEvent(
        home_id=home, resident_id=str(demo.resident_id), device_id=f"{home}-pendant",
        device_type=DeviceType.PENDANT, message_id="demo-progress", at=app[CLOCK](),
        body=Panic(),
    )  # fmt: skip
    (change,) = await app[ALARM_ENGINE].handle_event(panic)
    async with aiohttp.ClientSession() as http:
        login = {"username": "operadora", "password": DEMO_PASSWORD}
        async with http.post(f"{base}/api/auth/login", json=login) as resp:
            resp.raise_for_status()
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        for path, body in (
            ("accept", {}),
            ("contact-attempts", {"party": "resident", "result": "reached"}),
            ("escalations", {"target": "key_holder"}),
        ):
            url = f"{base}/api/alarms/{change.alarm.id}/{path}"
            async with http.post(url, json=body, headers=headers) as resp:
                resp.raise_for_status()


async def _signed_in(browser: Any, base: str, username: str) -> Any:
    from hub.family.demo import DEMO_PASSWORD

    width, height = PHONE
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        timezone_id="Europe/Madrid",
    )
    page = await context.new_page()
    await page.goto(f"{base}/login?next=/family")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
    return page


async def shoot_signup(browser: Any, base: str, lang: str, path: Path) -> None:
    """The join form (public) as a relative fills it in on their phone."""
    width, height = PHONE
    context = await browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1,
        timezone_id="Europe/Madrid",
    )  # fmt: skip
    try:
        page = await context.new_page()
        await page.goto(f"{base}/family/join?lang={lang}")
        await page.fill("#join-code", "K7QM-4P2X")
        await page.fill("#join-name", "Jordi Puig")
        await page.fill("#join-relationship", {"ca": "nét", "es": "nieto", "en": "grandson"}[lang])
        await page.fill("#join-contact", "612 34 56 78")
        await page.fill("#join-password", "un passeig llarg pel mar")
        await page.screenshot(path=str(path), full_page=True)
    finally:
        await context.close()


async def _settle(page: Any) -> None:
    await page.wait_for_selector('#conn[data-state="open"]', timeout=60_000)
    await page.wait_for_load_state("networkidle")


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """``family-<screen>-<lang>-390x844.png`` for every screen and language."""
    from playwright.async_api import async_playwright

    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, MEDIA_ARGS

    written: list[Path] = []
    size = f"{PHONE[0]}x{PHONE[1]}"
    with tempfile.TemporaryDirectory(prefix="ta-family-shots-") as tmp:
        async with family_hub(Path(tmp)) as (base, demo, app), async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM_PATH, headless=True, args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
            )
            try:
                anna = await _signed_in(browser, base, "anna")
                pere = await _signed_in(browser, base, "pere")
                laia = await _signed_in(browser, base, "laia")

                async def shot(page: Any, screen: str, lang: str) -> None:
                    path = out_dir / f"family-{screen}-{lang}-{size}.png"
                    await page.screenshot(path=str(path))
                    written.append(path)

                for lang in languages:
                    signup = out_dir / f"family-signup-{lang}-{size}.png"
                    await shoot_signup(browser, base, lang, signup)
                    written.append(signup)
                    await anna.goto(f"{base}/family?lang={lang}")
                    await _settle(anna)
                    await anna.wait_for_selector(".alarm")
                    await anna.wait_for_selector(".today-list [data-today]")
                    await shot(anna, "home", lang)
                    # "How is she today?": the card at the top of the screen. Scrolled in
                    # the page, not through a handle: a live update may redraw the card.
                    await anna.evaluate(
                        "document.querySelector('.today').scrollIntoView({block: 'start'})"
                    )
                    await shot(anna, "status", lang)
                    await anna.evaluate("window.scrollTo(0, 0)")
                    await anna.goto(f"{base}/family/chat/{demo.conversation_id}?lang={lang}")
                    await _settle(anna)
                    await anna.wait_for_function(
                        "() => [...document.querySelectorAll('.msg img')]"
                        ".every(i => i.complete && i.naturalWidth > 0) && "
                        "document.querySelectorAll('.msg').length >= 4"
                    )
                    await shot(anna, "chat", lang)
                    await anna.goto(f"{base}/family/agenda?lang={lang}")
                    await _settle(anna)
                    await anna.wait_for_selector(".agenda-list .when")
                    await shot(anna, "agenda", lang)
                    await laia.goto(f"{base}/family/groups?lang={lang}")
                    await laia.wait_for_load_state("networkidle")
                    await shot(laia, "groups", lang)
                    # A real call: Pere calls Anna; she sees it ring, answers, frames flow.
                    await anna.goto(f"{base}/family?lang={lang}")
                    await _settle(anna)
                    await pere.goto(f"{base}/family/call/u:{demo.users['anna']}?lang={lang}")
                    await _settle(pere)
                    await anna.wait_for_selector("#call-answer:visible", timeout=60_000)
                    await shot(anna, "call-incoming", lang)
                    await anna.click("#call-answer")
                    await anna.wait_for_function(
                        "async () => (await window.taFamily.call.framesDecoded()) > 10",
                        timeout=60_000,
                        polling=500,
                    )
                    await asyncio.sleep(1.0)
                    await shot(anna, "call", lang)
                    await anna.click("#call-hangup")
                    await pere.wait_for_selector('#call[data-state="over"]', timeout=60_000)
                # Last, so the other screens keep the demo's one notice: an alarm's steps.
                await alarm_in_progress(app, base, demo)
                for lang in languages:
                    await anna.goto(f"{base}/family?lang={lang}")
                    await _settle(anna)
                    await anna.wait_for_selector(".alarm .step-help")
                    await shot(anna, "alarm", lang)
            finally:
                await browser.close()
    return written
