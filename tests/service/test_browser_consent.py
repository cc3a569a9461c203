"""In headless Chromium: a coordinator changes, on the resident's behalf, what a relative may
see and then takes her out of the circle; the relative's open socket hears each change; the
social-record consent is withdrawn from the same page. Every change carries a reason."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.db import upgrade_to_head
from hub.db.models import AuditEntry, Resident, User
from hub.family.models import CircleLink
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.settings import HubSettings
from hub.web.serve import serving
from tests.service.browser import PASSWORD, TIMEOUT_MS, signed_in
from tests.service.helpers import application

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path: Path) -> AsyncIterator[tuple[web.Application, str]]:
    """A served hub on SQLite with a coordinator and a relative."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade_to_head(url)
    settings = HubSettings(
        data_dir=str(tmp_path / "data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    app = create_app(settings)
    app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=3600)
    async with serving(app) as base:
        async with app[SESSIONMAKER]() as session:
            await create_user(session, "coord", PASSWORD, Role.COORDINATOR, language="en")
            await create_user(
                session, "anna", PASSWORD, Role.FAMILY, display_name="Anna Puig", language="ca"
            )
            await create_user(
                session, "pau", PASSWORD, Role.FAMILY, display_name="Pau Puig", language="ca"
            )
            await session.commit()
        yield app, base


async def _token(http: aiohttp.ClientSession, base: str, username: str) -> dict[str, str]:
    async with http.post(
        f"{base}/api/auth/login", json={"username": username, "password": PASSWORD}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['access_token']}"}


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), TIMEOUT_MS / 1000)
        if frame["type"] != "ping":
            return frame


async def test_the_centre_changes_the_circle_and_the_social_record_consent(
    chromium: Browser, hub: tuple[web.Application, str]
) -> None:
    app, base = hub
    expect.set_options(timeout=TIMEOUT_MS)
    # Once in a full CI run this test waited until pytest-timeout (900 s) with an idle loop
    # and no trace of where; the bound fails it sooner and its traceback names the await.
    async with asyncio.timeout(240):
        await _centre_changes_the_circle(app, base, chromium)


async def _centre_changes_the_circle(app: web.Application, base: str, chromium: Browser) -> None:
    async with aiohttp.ClientSession() as http:
        coord = await _token(http, base, "coord")
        async with http.post(f"{base}/api/service/applications", json=application()) as resp:
            reference = (await resp.json())["reference"]
        async with http.post(
            f"{base}/api/service/referrals/{reference}/assess",
            json={"care_level": "basic", "confirm_new_person": True},
            headers=coord,
        ) as resp:
            assert resp.status == 200, await resp.text()
            resident_id = (await resp.json())["resident_id"]
        async with app[SESSIONMAKER]() as session:
            anna = await session.scalar(select(User).where(User.username == "anna"))
            assert anna is not None
            session.add(
                CircleLink(
                    resident_id=resident_id,
                    member=f"u:{anna.id}",
                    relationship_="filla",
                    consent="agenda",
                    created_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
                )
            )
            await session.commit()

        anna_headers = await _token(http, base, "anna")
        async with http.ws_connect(f"{base}/api/family/ws", headers=anna_headers) as ws:
            path = f"/service/referrals/{reference}"
            context, page = await signed_in(chromium, base, "coord", path)

            member = page.locator("#circle li", has_text="Anna Puig")
            await expect(member).to_contain_text("filla")
            agenda = member.locator("input[name=consent][value=agenda]")
            alarms = member.locator("input[name=consent][value=alarms]")
            await expect(agenda).to_be_checked()
            await expect(alarms).not_to_be_checked()

            # Without a reason the centre cannot act on the person's behalf.
            await alarms.check()
            save = member.locator("form.circle-consent button[type=submit]")
            await save.click()
            await expect(member.locator("form.circle-consent [data-form-error]")).to_contain_text(
                "at least 5 characters"
            )
            await member.locator("form.circle-consent input[name=reason]").fill(
                "Asked for it at the home visit"
            )
            await save.click()
            event = await _next(ws)
            assert (event["type"], event["consent"]) == ("circle.changed", ["agenda", "alarms"])
            member = page.locator("#circle li", has_text="Anna Puig")
            await expect(member.locator("input[name=consent][value=alarms]")).to_be_checked()

            # Taken out of the circle, with a reason.
            await member.locator("form.circle-remove input[name=reason]").fill(
                "Court order received"
            )
            await member.locator("form.circle-remove button[type=submit]").click()
            event = await _next(ws)
            assert (event["type"], event["removed"]) == ("circle.changed", True)
            await expect(page.locator("#circle-empty")).to_have_text("Nobody is in the circle yet.")

            # A code for a new member, made on the person's behalf, granting alarms.
            await page.click("#circle-code summary")
            await page.check("#circle-code-form input[name=consent][value=alarms]")
            await page.fill("#circle-code-reason", "She asked by phone for her son")
            await page.click("#circle-code-form button[type=submit]")
            await expect(page.locator("#circle-code-value")).to_have_text(
                re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}$")
            )
            code = (await page.locator("#circle-code-value").text_content() or "").strip()
            son = await _token(http, base, "pau")
            async with http.post(
                f"{base}/api/family/links",
                json={"code": code, "relationship": "fill"},
                headers=son,
            ) as joined:
                assert joined.status == 201, await joined.text()
                assert (await joined.json())["consent"] == ["alarms"]

            # The social-record consent, withdrawn from the same section.
            await expect(page.locator("#consent-social-state")).to_contain_text(
                "Has agreed that the service appears in their social record."
            )
            await page.fill("#consent-social-reason", "She said no at the review")
            await page.click("#consent-social-form button[type=submit]")
            await expect(page.locator("#consent-social-state")).to_contain_text(
                "Has not agreed to the social record"
            )
            await context.close()

    async with app[SESSIONMAKER]() as session:
        rows = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                .where(
                    AuditEntry.action.like("%consent%")
                    | AuditEntry.action.in_(("family.link_remove", "family.code_create"))
                )
                .order_by(AuditEntry.id)
            )
        ).all()
        resident = await session.get(Resident, resident_id)
        assert resident is not None
        assert resident.consent["wsocial_export"] is False
    assert [(a, act, d.get("reason")) for a, act, d in rows] == [
        ("coord", "family.consent_change", "Asked for it at the home visit"),
        ("coord", "family.link_remove", "Court order received"),
        ("coord", "family.code_create", "She asked by phone for her son"),
        ("coord", "consent.social_record.withdraw", "She said no at the review"),
    ]
