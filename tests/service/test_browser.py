"""End to end in headless Chromium: a relative applies online, a coordinator assesses and
orders the installation, the installer pairs the devices, the checklist completes when
the devices' first messages reach the hub and the service is active; the social-record
box was left unticked, so the wSocial outbox holds nothing of it."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, expect

from hub.app import SESSIONMAKER, create_app
from hub.auth import Role, create_user
from hub.db import upgrade_to_head
from hub.service.app import SERVICE_SETTINGS, ServiceSettings
from hub.service.outbox import stored_events
from hub.settings import HubSettings
from hub.web.serve import serving
from protocol import CheckIn, Panic, Status, device_topic, encode, envelope, new_message_id
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.instants import machine_now
from tests.service.browser import PASSWORD, TIMEOUT_MS, signed_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def hub(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> AsyncIterator[tuple[web.Application, str]]:
    """A real hub on SQLite ingesting from a real Mosquitto, served on a free port,
    sweeping every half second."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade_to_head(url)
    settings = HubSettings(
        data_dir=str(tmp_path / "data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
        ingest_client_id=f"hub-service-e2e-{secrets.token_hex(4)}",
        # Earlier tests' hubs leave persistent sessions in the default share group on the
        # session broker; a group of our own gets every message.
        ingest_share_group=f"svc{secrets.token_hex(3)}",
    )
    app = create_app(settings, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port))
    app[SERVICE_SETTINGS] = ServiceSettings(confirm_interval_s=0.5)
    async with serving(app) as base:
        async with app[SESSIONMAKER]() as session:
            for name, role in (("coord", Role.COORDINATOR), ("inst", Role.INSTALLER)):
                await create_user(session, name, PASSWORD, role, language="en")
            await session.commit()
        yield app, base


async def publish_first_messages(broker: MosquittoBroker, device_ids: dict[str, str]) -> None:
    """Each device says hello as the contract says: the gateway its status, the pendant a
    test alarm (panic), the tablet a check-in."""
    now = machine_now()
    messages = [
        (
            device_topic(device_ids["gateway"], "status"),
            envelope(Status(state="online"), id=new_message_id(), ts=now, seq=1),
        ),
        (
            device_topic(device_ids["pendant"], "event"),
            envelope(Panic(), id=new_message_id(), ts=now, seq=1),
        ),
        (
            device_topic(device_ids["tablet"], "event"),
            envelope(CheckIn(), id=new_message_id(), ts=now, seq=1),
        ),
    ]
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"e2e-devices-{secrets.token_hex(3)}"
    ) as client:
        for topic, message in messages:
            await client.publish(topic, encode(message), qos=1)


async def test_application_to_active_service(
    chromium: Browser, hub: tuple[web.Application, str], mosquitto: MosquittoBroker
) -> None:
    app, base = hub
    expect.set_options(timeout=TIMEOUT_MS)

    # 1. A relative fills the public form (first forgetting the consent).
    public = await chromium.new_context(base_url=base)
    page = await public.new_page()
    await page.goto("/service/apply?lang=en")
    await page.check("input[name=applicant_kind][value=relative]")
    await page.fill("#applicant_name", "Marta Puig")
    await page.fill("#applicant_phone", "600 111 222")
    await page.fill("#person_name", "Núria Puig i Soler")
    await page.fill("#birth_date", "1941-05-17")
    await page.fill("#street", "Carrer de Sants 12, 3r 2a")
    await page.fill("#postcode", "08014")
    await page.fill("#municipality", "Barcelona")
    await page.check("#lives_alone")
    await page.fill('[name="contacts.0.name"]', "Marta Puig")
    await page.fill('[name="contacts.0.phone"]', "600111222")
    # A relationship is chosen from the list; "other" asks which, in words (ADR 0164).
    other = page.locator('[name="contacts.0.relationship_other"]')
    await expect(other).to_be_hidden()
    await page.select_option('[name="contacts.0.relationship"]', "other")
    await expect(other).to_be_visible()
    await other.fill("godmother")
    await page.fill("#cip", "pusO 4105 1700 11")
    await page.click("button[type=submit]")
    consent_error = page.locator('[data-error-for="consent_data"]')
    await expect(consent_error).to_have_text(
        "Consent to process the data is needed to provide the service."
    )
    await page.check("#consent_data")
    await page.click("button[type=submit]")
    await expect(page.locator("#applied")).to_be_visible()
    reference = (await page.locator("#applied-reference").inner_text()).strip()
    check = (await page.locator("#applied-check").inner_text()).strip()
    assert re.fullmatch(r"TA-\d{4}-[0-9A-Z]{6}", reference)

    # ...and can ask its status with the reference and check code.
    await page.goto("/service/status?lang=en")
    await page.fill("#reference", reference)
    await page.fill("#check", check)
    await page.click("button[type=submit]")
    await expect(page.locator("#status-text")).to_have_text("Application received")
    await public.close()

    # 2. The coordinator assesses it and creates the work order.
    coord_ctx, coord = await signed_in(chromium, base, "coord", "/service")
    await coord.click(f"a:text('{reference}')")
    await expect(coord.locator(".svc-facts")).to_contain_text("Marta Puig (godmother)")
    await expect(coord.locator("#svc-cip")).to_have_text("PUSO4105170011")
    await coord.select_option("#care_level", "basic")
    await coord.fill("#abss_area", "BCN-03")
    await coord.click("#actions button[type=submit]")
    await expect(coord.locator("h2", has_text="Care plan (version 1)")).to_be_visible()
    # The care plan is editable: a new version with weekly wellbeing calls.
    await coord.click("summary:text('Edit the plan')")
    await coord.fill("#wellbeing_call_every_days", "7")
    await coord.click("#plan-form button[type=submit]")
    await expect(coord.locator("h2", has_text="Care plan (version 2)")).to_be_visible()
    await coord.click("text=Create the installation work order")
    await coord.wait_for_url(re.compile(r"/service/work-orders/\d+$"))
    order_path = coord.url.removeprefix(base)

    # 3. The installer starts, pairs the three devices of a basic plan...
    inst_ctx, inst = await signed_in(chromium, base, "inst", "/service/work-orders")
    await inst.goto(order_path)
    await inst.goto(order_path)
    await inst.click("#wo-start")
    device_ids = {"gateway": "gw-e2e-1", "pendant": "pd-e2e-1"}
    for kind, device_id in device_ids.items():
        row = inst.locator(f"#wo-devices tr[data-kind={kind}]")
        await row.locator("input[name=device_id]").fill(device_id)
        await row.locator("form[data-then=paired] button[type=submit]").click()
        # New to the registry: provisioned with its own broker credentials, shown once.
        await expect(inst.locator("#wo-cred-user")).to_have_text(device_id)
        await inst.click("#wo-cred-continue")
        await expect(inst.locator(f"#wo-devices tr[data-kind={kind}] .mono")).to_have_text(
            device_id
        )
    # The tablet pairs itself with the one-time setup code the page shows the installer
    # (typed on its digit pad; here its HTTP call); the page then shows it on its line.
    await inst.click("#wo-setup-code-issue")
    # The code arrives from the hub after the click: wait for it, do not read at once.
    await expect(inst.locator("#wo-setup-code-value")).to_have_text(re.compile(r"\s*\d{8}\s*"))
    code = (await inst.locator("#wo-setup-code-value").text_content() or "").strip()
    assert re.fullmatch(r"\d{8}", code), code
    # Until when it works, written like the page's other moments (the deadline's "2 Dec 2026,
    # 10:30", "2 de des. del 2026, 10:30"), not as a numeric 04/12/2026 beside them.
    expires = (await inst.locator("#wo-setup-code-expires").text_content() or "").strip()
    assert re.fullmatch(r"\d{1,2} [^\d/]+ \d{4}, \d{2}:\d{2}", expires), expires
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/tablet/pair", json={"code": code}) as paired,
    ):
        assert paired.status == 200, await paired.text()
        device_ids["tablet"] = (await paired.json())["device_id"]
    await expect(inst.locator("#wo-devices tr[data-kind=tablet] td > span.mono")).to_have_text(
        device_ids["tablet"], timeout=TIMEOUT_MS
    )
    await expect(inst.locator("#wo-devices .badge.warn")).to_have_count(3)  # waiting for them
    for item in ("tablet_provisioned", "resident_trained"):
        await inst.locator(f'#wo-items li[data-item="{item}"] button').click()
        await expect(inst.locator(f'#wo-items li[data-item="{item}"]')).to_have_class("done")
    await inst.fill("#key-code", "4321")
    await inst.locator('#wo-items li[data-item="key_safe_recorded"] button').click()
    await expect(inst.locator('#wo-items li[data-item="key_safe_recorded"]')).to_have_class("done")
    assert await inst.locator("#wo-complete").is_hidden()

    # 4. ...the devices report for the first time through the broker and the hub's
    # ingestion (the pendant with its test alarm); the page follows the hub and completes.
    await publish_first_messages(mosquitto, device_ids)
    await expect(inst.locator("#wo-complete")).to_be_visible()
    await expect(inst.locator("#wo-devices .badge.ok")).to_have_count(3)
    await expect(inst.locator('#wo-items li[data-item="test_alarm"]')).to_have_class("done")

    # 5. The coordinator sees the service active.
    await coord.goto(f"/service/referrals/{reference}")
    await expect(coord.locator("h1 + .svc-state")).to_have_text("Active")
    # The page says the person has not agreed to the social record.
    await expect(coord.locator("#consent-social-state")).to_contain_text(
        "Has not agreed to the social record"
    )
    await coord.goto("/service?state=active")
    await expect(coord.locator(f"tr[data-reference='{reference}']")).to_be_visible()
    await coord_ctx.close()
    await inst_ctx.close()

    # 6. The social-record box of the form was left unticked: nothing of this service (its
    # state, its devices, the test alarm) is in the outbox for the social record.
    async with app[SESSIONMAKER]() as session:
        assert await stored_events(session) == []
    await asyncio.sleep(0)
