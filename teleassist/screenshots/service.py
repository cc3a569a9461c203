"""Screenshots of the service lifecycle pages: the online form, the coordinator's list,
a referral, the installer's work order and the managers' figures.

Runs a real hub on a temporary SQLite database, seeds a few referrals at different
steps through the service's own store functions, and renders the pages in Chromium.
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.clock import utc_now
from hub.db import upgrade_to_head
from hub.db.models import Device
from hub.service import installation, store
from hub.service.referral import parse_referral
from hub.service.routes import SERVICE_SETTINGS, ServiceSettings
from hub.settings import HubSettings
from hub.web.serve import serving
from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH

AREA = "service"
WIDTH, HEIGHT = 1280, 900
PASSWORD = "screenshots only 2026"  # noqa: S105 - a throw-away user of a temporary hub
_LOCALES = {"ca": "ca-ES", "es": "es-ES", "en": "en-GB"}

_PEOPLE = [
    ("Núria Puig i Soler", "1941-05-17", "Carrer de Sants 12", "08014", "Barcelona"),
    ("Josep Ferrer Vila", "1936-11-02", "Passeig de Gràcia 80", "08008", "Barcelona"),
    ("Carmen López Ruiz", "1944-03-30", "Carrer Major 5", "17001", "Girona"),
    ("Joan Serra Mas", "1939-07-21", "Rambla Nova 33", "43001", "Tarragona"),
    ("Montserrat Vidal", "1947-01-09", "Carrer de la Pau 2", "25001", "Lleida"),
]


def _form(person: tuple[str, str, str, str, str]) -> dict[str, Any]:
    name, born, street, postcode, town = person
    return {
        "applicant_kind": "relative",
        "applicant_name": "Marta Puig",
        "applicant_phone": "600 111 222",
        "person_name": name,
        "birth_date": born,
        "street": street,
        "postcode": postcode,
        "municipality": town,
        "lives_alone": True,
        "contacts": [{"name": "Marta Puig", "phone": "600111222", "key_holder": True}],
        "consent_data": True,
    }


async def _seed(session: AsyncSession) -> tuple[int, str]:
    """Referrals at every step; the id of a half-done, overdue work order and the
    reference of an active service."""
    now = utc_now()
    who = "coordinator"
    rows = []
    for index, person in enumerate(_PEOPLE):
        at = now - timedelta(days=6 - index)
        row, _ = await store.submit_referral(
            session, parse_referral(_form(person), at.date()), actor="public", now=at
        )
        rows.append(row)
    active, overdue, ordered = rows[0], rows[1], rows[2]
    # An active service, installed in 30 hours.
    granted = now - timedelta(days=5)
    decision = store.Assessment("medium", "BCN-03", confirm_new_person=True)
    await store.assess(session, active, decision, actor=who, now=granted)
    order = await installation.create_work_order(session, active, actor=who, now=granted)
    await installation.start(session, order, active, actor="installer", now=granted)
    for position, line in enumerate(await installation.lines_of(session, order.id)):
        device_id = f"dev-{active.id}-{position}"
        await installation.pair(
            session, order, active, line.kind, device_id, actor="installer", now=granted
        )
        (await session.get(Device, device_id)).last_seen = granted + timedelta(hours=30)  # type: ignore[union-attr]
    for item in ("tablet_provisioned", "key_safe_recorded", "resident_trained"):
        await installation.tick(session, order, active, item, actor="installer", now=granted)
    order.test_alarm_at = granted + timedelta(hours=30)
    await installation.confirm(session, order, active, now=granted + timedelta(hours=30))
    # A late riser who feels the cold and sleeps through the night (ADR 0136).
    late_riser = {
        "morning_start": "09:00",
        "morning_end": "11:30",
        "check_in_deadlines": ["10:30", "19:00"],
        "temperature_low": 19.5,
        "bed": False,
        "medications": [
            {"name": "insulina", "times": ["08:00", "20:00"]},
            {"name": "Sintrom", "times": ["19:00"], "days": ["mon", "wed", "fri"]},
        ],
        "medication_grace_min": 45,
    }
    await store.edit_plan(
        session, active, {"rules": late_riser}, actor=who, now=granted + timedelta(days=2)
    )
    # A work order past its 72 h, half done.
    granted = now - timedelta(days=4)
    decision = store.Assessment("basic", "BCN-07", confirm_new_person=True)
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
        session, late, overdue, "tablet_provisioned", actor="installer", now=paired_at
    )
    await installation.confirm(session, late, overdue, now=now)
    # Granted yesterday, work order open and in time.
    decision = store.Assessment("high", "GIR-01", confirm_new_person=True)
    await store.assess(session, ordered, decision, actor=who, now=now - timedelta(days=1))
    await installation.create_work_order(session, ordered, actor=who, now=now - timedelta(hours=20))
    return late.id, active.reference


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write ``service-<screen>-<lang>-1280x900.png`` for each screen and language."""
    from playwright.async_api import async_playwright

    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'hub.sqlite'}"
        await upgrade_to_head(url)
        settings = HubSettings(
            data_dir=str(Path(tmp) / "data"),
            database_url=url,
            migrate_on_start=False,
            jwt_secret=secrets.token_urlsafe(32),
            keysafe_key=Fernet.generate_key().decode("ascii"),
        )
        app = create_app(settings)
        app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
        async with serving(app) as base:
            async with app[SESSIONMAKER]() as session, session.begin():
                await create_user(session, "coordinator", PASSWORD, Role.COORDINATOR)
                await create_user(session, "installer", PASSWORD, Role.INSTALLER)
                order_id, active_reference = await _seed(session)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
                )
                try:
                    for lang in languages:
                        order = f"/service/work-orders/{order_id}"
                        # (screen, user, path, what to click before the picture)
                        screens = [
                            ("form", None, "/service/apply", None),
                            ("list", "coordinator", "/service", None),
                            ("work_order", "installer", order, None),
                            ("work_order_tablet", "installer", order, "#wo-setup-code-issue"),
                            (
                                "referral",
                                "coordinator",
                                f"/service/referrals/{active_reference}",
                                None,
                            ),
                            ("figures", "coordinator", "/service/figures", None),
                        ]
                        for screen, user, path, click in screens:
                            context = await browser.new_context(
                                base_url=base,
                                viewport={"width": WIDTH, "height": HEIGHT},
                                locale=_LOCALES.get(lang, "ca-ES"),
                            )
                            if user:
                                await context.request.post(
                                    "/api/auth/login", data={"username": user, "password": PASSWORD}
                                )
                            page = await context.new_page()
                            await page.goto(f"{path}?lang={lang}")
                            await page.wait_for_load_state("networkidle")
                            if click:
                                await page.click(click)
                                await page.wait_for_load_state("networkidle")
                                await page.wait_for_selector("#wo-setup-code:not([hidden])")
                            target = out_dir / f"service-{screen}-{lang}-{WIDTH}x{HEIGHT}.png"
                            await page.screenshot(path=str(target))
                            written.append(target)
                            await context.close()
                        written.extend(
                            await _rules_screen(browser, base, out_dir, lang, active_reference)
                        )
                finally:
                    await browser.close()
    return written


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
