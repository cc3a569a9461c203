"""Screenshots of the service lifecycle pages: the online form, the coordinator's list,
a referral, the installer's work order and the managers' figures.

Runs a real hub on a temporary SQLite database, seeds a few referrals at different
steps through the service's own store functions, and renders the pages in Chromium.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from cryptography.fernet import Fernet
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.db import upgrade_to_head
from hub.db.models import Device
from hub.registry import pairing
from hub.registry.models import TabletSetupCode
from hub.service import changes, installation, referral, store
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.service.referral import parse_referral
from hub.settings import HubSettings
from hub.web.serve import serving
from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH
from teleassist.screenshots import _story as story

AREA = "service"
WIDTH, HEIGHT = 1280, 900
PASSWORD = "screenshots only 2026"  # noqa: S105 - a throw-away user of a temporary hub
_LOCALES = {"ca": "ca-ES", "es": "es-ES", "en": "en-GB"}
IDLE_MS = 60_000  # how long a page may keep the network busy before it is shot anyway
_LOGGER = logging.getLogger(__name__)

_PEOPLE = [
    # (name, birth date, street, postcode, town, phone)
    (story.RESIDENT.name, story.BIRTH_DATE, story.STREET, story.POSTCODE, story.TOWN,
     story.RESIDENT.phone),
    ("Teresa Soler Prat", "1936-11-02", "Passeig de Sant Joan 80, 2n", "08009", "Barcelona",
     "933 45 12 90"),
    ("Joan Serra Mas", "1939-07-21", "Rambla Nova 33", "43001", "Tarragona", "977 21 44 10"),
    ("Dolors Vidal Serra", "1947-01-09", "Carrer de la Pau 2", "25001", "Lleida", ""),
    ("Rosa Martí Pons", "1940-02-14", "Carrer Gran de Gràcia 140", "08012", "Barcelona",
     "932 17 70 15"),
    ("Enric Roca Bosch", "1935-09-30", "Carrer Major 5", "17001", "Girona", "972 20 11 33"),
]  # fmt: skip


def _form(person: tuple[str, str, str, str, str, str], index: int) -> dict[str, Any]:
    name, born, street, postcode, town, phone = person
    if index == 0:  # the story's resident: her son applies; the console's contacts
        contacts = [
            {
                "name": c.name,
                "phone": c.phone,
                "relationship": c.relationship,
                "key_holder": c.key_holder,
            }
            for c in story.CONTACTS
        ]
        applicant = story.SON
        identifiers = {"cip": story.CIP, "social_file": story.SOCIAL_FILE}
    else:
        identifiers = {}
        surname = name.split()[1]
        applicant = story.Person(f"Laura {surname}", f"6{index}0 55{index} 12{index}", "filla")
        contacts = [
            {
                "name": applicant.name,
                "phone": applicant.phone,
                "relationship": "filla",
                "key_holder": True,
            }
        ]
    return {
        "applicant_kind": "relative",
        "applicant_name": applicant.name,
        "applicant_phone": applicant.phone,
        "person_name": name,
        "birth_date": born,
        "phone": phone,
        "street": street,
        "postcode": postcode,
        "municipality": town,
        "lives_alone": True,
        # How each is addressed (ADR 0170): the referral page says "Viu sola" or "Viu sol".
        "address_form": "masculine" if name.split()[0] in ("Joan", "Enric") else "feminine",
        "contacts": contacts,
        "consent_data": True,
        **identifiers,
    }  # fmt: skip


async def _activate(
    session: AsyncSession, row: Any, level: str, area: str, granted: datetime, hours: int
) -> None:
    """Assess at ``granted`` and install everything ``hours`` later (the service is active)."""
    who = "coordinator"
    decision = store.Assessment(level, area, confirm_new_person=True, access_notes=(
        story.ACCESS_NOTES if row.person_name == story.RESIDENT.name else ""
    ))  # fmt: skip
    await store.assess(session, row, decision, actor=who, now=granted)
    order = await installation.create_work_order(session, row, actor=who, now=granted)
    await installation.start(session, order, row, actor="installer", now=granted)
    done = granted + timedelta(hours=hours)
    for position, line in enumerate(await installation.lines_of(session, order.id)):
        device_id = f"dev-{row.id}-{position}"
        await installation.pair(
            session, order, row, line.kind, device_id, actor="installer", now=granted
        )
        (await session.get(Device, device_id)).last_seen = done  # type: ignore[union-attr]
    for item in ("tablet_provisioned", "key_safe_recorded", "resident_trained"):
        await installation.tick(session, order, row, item, actor="installer", now=granted)
    order.test_alarm_at = done
    await installation.confirm(session, order, row, now=done)


async def _seed(session: AsyncSession) -> dict[str, Any]:
    """The story's referrals at every step, at the story's instant; the id of a half-done,
    overdue work order and the reference of the resident's active service."""
    now = story.STORY_NOW
    who = "coordinator"
    rows = []
    for index, person in enumerate(_PEOPLE):
        # the suspended and the discharged person were referred weeks ago
        days = 40 - 7 * (index - 4) if index >= 4 else 6 - index
        at = now - timedelta(days=days)
        row, _ = await store.submit_referral(
            session, parse_referral(_form(person, index), at.date()), actor="public", now=at
        )
        rows.append(row)
    active, overdue, ordered, waiting, suspended, discharged = rows
    # The resident's service, installed in 30 hours.
    granted = now - timedelta(days=5)
    await _activate(session, active, "medium", story.AREA, granted, 30)
    # A late riser who feels the cold and sleeps through the night (ADR 0136).
    rules = {"rules": story.care_plan_rules()}
    await store.edit_plan(session, active, rules, actor=who, now=granted + timedelta(days=2))
    # In hospital since Monday; installed late (80 h) a month ago.
    await _activate(session, suspended, "basic", "BCN-06", now - timedelta(days=30), 80)
    await changes.suspend(
        session, suspended, "hospital_stay", (now + timedelta(days=10)).date(),
        actor=who, now=now - timedelta(days=3),
    )  # fmt: skip
    # Withdrew before the assessment.
    await changes.discharge(session, discharged, "withdrew", actor=who, now=now - timedelta(days=8))
    # A work order past its 72 h, half done: the installer is at the door now.
    granted = now - timedelta(days=4)
    decision = store.Assessment("basic", "BCN-07", confirm_new_person=True, access_notes=(
        "Planta baixa, porta verda. Timbre espatllat: truqueu al telèfon de casa."
    ))  # fmt: skip
    await store.assess(session, overdue, decision, actor=who, now=granted)
    late = await installation.create_work_order(session, overdue, actor=who, now=granted)
    await installation.start(
        session, late, overdue, actor="installer", now=now - timedelta(hours=2)
    )
    paired_at = now - timedelta(hours=1)
    await installation.pair(
        session, late, overdue, "gateway", "gw-0701", actor="installer", now=paired_at
    )
    await installation.pair(
        session, late, overdue, "pendant", "pd-0701", actor="installer", now=paired_at
    )
    (await session.get(Device, "gw-0701")).last_seen = now  # type: ignore[union-attr]
    await installation.tick(
        session, late, overdue, "resident_trained", actor="installer", now=paired_at
    )
    await installation.confirm(session, late, overdue, now=now)
    # Granted yesterday, work order open and in time.
    decision = store.Assessment("high", "TGN-01", confirm_new_person=True)
    await store.assess(session, ordered, decision, actor=who, now=now - timedelta(days=1))
    await installation.create_work_order(session, ordered, actor=who, now=now - timedelta(hours=20))
    return {
        "order_id": late.id,
        "active": active.reference,
        "waiting": waiting.reference,
        "suspended": suspended.reference,
        "discharged": discharged.reference,
    }


PHONE = (390, 844)


def _screens(
    seeded: dict[str, Any],
) -> list[tuple[str, str | None, str, str | None, tuple[int, int]]]:
    """(screen, who signs in, path, what to click first, size) of every service screen."""
    order = f"/service/work-orders/{seeded['order_id']}"
    size = (WIDTH, HEIGHT)
    return [
        ("form", None, "/service/apply", None, size),
        ("list", "coordinator", "/service", None, size),
        ("list_suspended", "coordinator", "/service?state=suspended", None, size),
        ("new_referral", "coordinator", "/service/referrals/new", None, size),
        ("assessment", "coordinator", f"/service/referrals/{seeded['waiting']}", None, size),
        ("work_order", "installer", order, None, size),
        ("work_order_tablet", "installer", order, "#wo-setup-code-issue", size),
        ("work_orders", "installer", "/service/work-orders", None, PHONE),
        ("work_order", "installer", order, None, PHONE),
        ("referral", "coordinator", f"/service/referrals/{seeded['active']}", None, size),
        ("suspended", "coordinator", f"/service/referrals/{seeded['suspended']}", None, size),
        ("discharged", "coordinator", f"/service/referrals/{seeded['discharged']}", None, size),
        ("figures", "coordinator", "/service/figures", None, size),
    ]


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write ``service-<screen>-<lang>-<W>x<H>.png`` for each screen and language (the
    whole page where it scrolls)."""
    from playwright.async_api import async_playwright

    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, _story_codes():
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'hub.sqlite'}"
        await upgrade_to_head(url)
        settings = HubSettings(
            data_dir=str(Path(tmp) / "data"),
            database_url=url,
            migrate_on_start=False,
            jwt_secret=secrets.token_urlsafe(32),
            keysafe_key=Fernet.generate_key().decode("ascii"),
        )
        app = create_app(settings, clock=story.story_clock)
        app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
        async with serving(app) as base:
            async with app[SESSIONMAKER]() as session, session.begin():
                await create_user(session, "coordinator", PASSWORD, Role.COORDINATOR)
                await create_user(session, "installer", PASSWORD, Role.INSTALLER)
                seeded = await _seed(session)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
                )
                try:
                    for lang in languages:
                        for screen, user, path, click, (width, height) in _screens(seeded):
                            target = out_dir / f"service-{screen}-{lang}-{width}x{height}.png"
                            await _shoot(
                                browser, base, lang, user, path, click, (width, height), target
                            )
                            written.append(target)
                            if click:  # the next language's picture issues the same code
                                await _forget_setup_codes(app)
                        written.extend(
                            await _rules_screen(browser, base, out_dir, lang, seeded["active"])
                        )
                finally:
                    await browser.close()
    return written


async def _shoot(
    browser: Any,
    base: str,
    lang: str,
    user: str | None,
    path: str,
    click: str | None,
    size: tuple[int, int],
    target: Path,
) -> None:
    context = await browser.new_context(
        base_url=base,
        viewport={"width": size[0], "height": size[1]},
        locale=_LOCALES.get(lang, "ca-ES"),
        timezone_id="Europe/Madrid",
    )
    try:
        if user:
            await context.request.post(
                "/api/auth/login", data={"username": user, "password": PASSWORD}
            )
        page = await context.new_page()
        joiner = "&" if "?" in path else "?"
        await page.goto(f"{path}{joiner}lang={lang}")
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        try:
            await page.wait_for_load_state("networkidle", timeout=IDLE_MS)
        except PlaywrightTimeoutError:
            # Two CI runs timed out here at Playwright's default 30 s (which page was not
            # recorded; the work-order pages poll every 2 s, which on a loaded machine may
            # leave no quiet 500 ms). The page has loaded by then: shoot it, name it.
            _LOGGER.warning("%s (%s): network not idle after %d ms", path, lang, IDLE_MS)
        if click:
            await page.click(click)
            await page.wait_for_selector("#wo-setup-code:not([hidden])")
        await page.screenshot(path=str(target), full_page=True)
    finally:
        await context.close()


async def _forget_setup_codes(app: Any) -> None:
    async with app[SESSIONMAKER]() as session, session.begin():
        await session.execute(delete(TabletSetupCode))


@contextlib.contextmanager
def _story_codes() -> Iterator[None]:
    """The referral references and the tablet setup code the hub makes in the pictures are
    the same each run (a seeded sequence, the story's code) instead of new random ones, so a
    picture only changes when its screen does."""
    rng = random.Random(2026)  # pictures, not secrets
    with (
        patch.object(
            store, "new_reference", lambda year: referral.new_reference(year, rng.randbytes)
        ),
        patch.object(store, "new_check_value", lambda: referral.new_check_value(rng.randbytes)),
        patch.object(pairing, "new_setup_code", lambda: story.TABLET_SETUP_CODE),
    ):
        yield


RULES_WIDTH, RULES_HEIGHT = 1366, 768


async def _rules_screen(
    browser: Any, base: str, out_dir: Path, lang: str, reference: str
) -> list[Path]:
    """``service-rules``: a resident's alarm rules at the operator monitor's size, with a
    morning window typed the wrong way round and the refusal beside the field."""
    context = await browser.new_context(
        base_url=base,
        viewport={"width": RULES_WIDTH, "height": RULES_HEIGHT},
        locale=_LOCALES.get(lang, "ca-ES"),
    )
    try:
        await context.request.post(
            "/api/auth/login", data={"username": "coordinator", "password": PASSWORD}
        )
        page = await context.new_page()
        await page.goto(f"/service/referrals/{reference}?lang={lang}")
        await page.wait_for_load_state("networkidle")
        await page.fill("#rules-morning_end", "08:00")
        await page.click("#rules-form button[type=submit]")
        await page.wait_for_selector('[data-error-for="rules.morning_end"]:not([hidden])')
        await page.locator("#rules").scroll_into_view_if_needed()
        await page.evaluate("document.getElementById('rules').scrollIntoView()")
        target = out_dir / f"service-rules-{lang}-{RULES_WIDTH}x{RULES_HEIGHT}.png"
        await page.screenshot(path=str(target))
        await page.evaluate("document.getElementById('rules-medications').scrollIntoView()")
        meds = out_dir / f"service-medication-{lang}-{RULES_WIDTH}x{RULES_HEIGHT}.png"
        await page.screenshot(path=str(meds))
        return [target, meds]
    finally:
        await context.close()
