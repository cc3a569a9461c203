"""A day in the life of a small neighbourhood, through the real chain.

Simulated gateways publish each home's day (firmware_sim, accelerated) to a real
Mosquitto; the hub ingests it into PostgreSQL; the alarm engine raises alarms; an operator
in headless Chromium handles them (accept, call, 112, resolve); the linked family member
is notified; the local 112 centre validates what it receives; the resolved alarms reach
the local FHIR endpoint. Every scripted incident must end in the right place, once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from cryptography.fernet import Fernet
from paho.mqtt.enums import CallbackAPIVersion
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from hub.alarms.models import AlarmRow
from hub.app import create_app
from hub.appkeys import KEYSAFE, SESSIONMAKER
from hub.db import upgrade_to_head
from hub.db.models import StoredEvent
from hub.settings import HubSettings
from hub.web.serve import serving
from teleassist.config import MqttSettings, load_config
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config
from teleassist.neighbourhood import HomeReplay, Neighbourhood, demo_start_date, seed_neighbourhood
from tests.alerts.centre import ReceivingCentre
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url
from tests.instants import machine_now
from tests.integrations.fhir_server import CLIENT_ID, CLIENT_SECRET, FakeFhirServer

pytestmark = [
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
]
TIMEOUT = 45_000  # ms: generous, the machine is shared
HOMES = 3  # the scripted ones: help button, fall, smoke


@dataclass
class Neighbourhoodhub:
    url: str
    app: web.Application
    seeded: Neighbourhood
    centre: ReceivingCentre
    fhir: FakeFhirServer
    database_url: str
    broker: MosquittoBroker


@pytest_asyncio.fixture(loop_scope="session")
async def day(tmp_path) -> AsyncIterator[Neighbourhoodhub]:
    # These helpers run their own event loop: keep them off this one.
    broker = MosquittoBroker(free_port(), tmp_path / "mosquitto.conf")
    write_mosquitto_config(tmp_path, broker.port)
    await asyncio.to_thread(broker.start)
    name = await asyncio.to_thread(create_pg_database)
    url = pg_url(name)
    fhir = FakeFhirServer(free_port())
    await fhir.start()
    centre = ReceivingCentre()
    env = {
        "TELEASSIST_ALARMS__EMERGENCY_URL": "",
        "TELEASSIST_WSOCIAL__ENABLED": "true",
        "TELEASSIST_WSOCIAL__BASE_URL": fhir.base_url,
        "TELEASSIST_WSOCIAL__TOKEN_URL": fhir.token_url,
        "TELEASSIST_WSOCIAL__CLIENT_ID": CLIENT_ID,
        "TELEASSIST_WSOCIAL__CLIENT_SECRET": CLIENT_SECRET,
        "TELEASSIST_WSOCIAL__POLL_S": "0.5",
    }
    try:
        async with serving(centre.app()) as centre_url:
            env["TELEASSIST_ALARMS__EMERGENCY_URL"] = centre_url + "/incidents"
            # The hub reads the configuration it is given, as `teleassist hub` gives it.
            config = load_config(environ=env)
            await upgrade_to_head(url)
            settings = HubSettings(
                data_dir=str(tmp_path / "hub"),
                database_url=url,
                jwt_secret=secrets.token_urlsafe(32),
                keysafe_key=Fernet.generate_key().decode("ascii"),
                ingest_client_id=f"hub-day-{secrets.token_hex(3)}",
                # The session broker may still hold persistent sessions of earlier tests'
                # hubs in the default share group; those would take a share of our messages.
                ingest_share_group=f"day{secrets.token_hex(3)}",
            )
            app = create_app(
                settings, config=config, mqtt=MqttSettings(host="127.0.0.1", port=broker.port)
            )
            async with serving(app) as hub_url:
                async with app[SESSIONMAKER]() as session:
                    seeded = await seed_neighbourhood(
                        session, app[KEYSAFE], HOMES, machine_now(), seed=11
                    )
                    await session.commit()
                yield Neighbourhoodhub(hub_url, app, seeded, centre, fhir, url, broker)
    finally:
        await fhir.stop()
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(drop_pg_database, name)


async def _operator(browser: Browser, hub: Neighbourhoodhub) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT)
    await page.goto(hub.url + "/login")
    await page.locator("input[name=username]").fill("operator")  # an English-speaking operator
    await page.locator("input[name=password]").fill(hub.seeded.password)
    await page.locator("form button[type=submit]").click()
    await page.wait_for_url(lambda url: not url.endswith("/login"))
    await page.goto(hub.url + "/console")
    await expect(page.locator("#conn")).to_have_text("Live", timeout=TIMEOUT)
    return page


async def _handle(page: Page, resident: str, *, to_112: bool, outcome: str) -> None:
    entry = page.locator(".qitem", has_text=resident)
    await expect(entry).to_be_visible(timeout=TIMEOUT)
    await entry.click()
    await expect(page.locator("#card-name")).to_have_text(resident, timeout=TIMEOUT)
    await page.keyboard.press("a")
    await expect(page.locator("#detail-claim")).to_have_text("Yours", timeout=TIMEOUT)
    if to_112:
        await page.keyboard.press("e")
        dialog = page.locator("#dlg-escalate")
        await expect(dialog).to_be_visible(timeout=TIMEOUT)
        await dialog.locator("input[value='emergency_112']").check()
        await dialog.get_by_role("button", name="Send to 112").click()
        await expect(page.locator("#detail-notice")).to_contain_text("Sent to 112", timeout=TIMEOUT)
    await page.keyboard.press("r")
    resolve = page.locator("#dlg-resolve")
    await expect(resolve).to_be_visible(timeout=TIMEOUT)
    await resolve.locator("select").select_option(outcome)
    await resolve.locator("textarea").fill(f"Handled in the day-in-the-life test: {outcome}")
    await resolve.get_by_role("button", name="Resolve").click()
    await expect(page.locator(".qitem", has_text=resident)).to_have_count(0, timeout=TIMEOUT)


async def _eventually(check: Any, what: str, timeout: float = 60) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.5)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


async def test_a_day_in_the_life(day: Neighbourhoodhub, chromium: Browser) -> None:
    hub = day
    homes = hub.seeded.homes
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"day-{secrets.token_hex(3)}")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", hub.broker.port)
    client.loop_start()
    stop = asyncio.Event()
    replays = [
        HomeReplay(home, index, speed=720, start=demo_start_date(), script_scale=0.2)
        for index, home in enumerate(homes)
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = [asyncio.create_task(r.run(client, stop, started)) for r in replays]
    page = await _operator(chromium, hub)
    try:
        # The family member linked to the first resident is told while the alarm is open.
        async with ClientSession() as http:
            login = await http.post(
                hub.url + "/api/auth/login",
                json={"username": "familia", "password": hub.seeded.password},
            )
            token = (await login.json())["access_token"]

            async def notified() -> bool:
                notices = await http.get(
                    f"{hub.url}/api/family/residents/{homes[0].resident_id}/alarm-notices",
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert notices.status == 200, await notices.text()
                return bool(await notices.json())

            await _eventually(notified, "the family was not notified")

        # Help button (~3 s), fall (~9 s), smoke (~18 s): the operator handles each.
        await _handle(page, homes[0].resident_name, to_112=False, outcome="resident_fine")
        await _handle(page, homes[1].resident_name, to_112=True, outcome="ambulance")
        await _handle(page, homes[2].resident_name, to_112=True, outcome="fire_brigade")
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        client.loop_stop()
        client.disconnect()
        await page.context.close()

    # Exactly one alarm per scripted incident, each resolved with the operator's outcome.
    async with hub.app[SESSIONMAKER]() as session:
        rows = (await session.scalars(select(AlarmRow))).all()
        stored = {
            kind: await session.scalar(
                select(func.count()).select_from(StoredEvent).where(StoredEvent.type == kind)
            )
            for kind in ("panic", "fall", "smoke")
        }
    assert stored == {"panic": 1, "fall": 1, "smoke": 1}
    by_resident = {str(h.resident_id): h for h in homes}
    handled = [row for row in rows if row.state == "resolved"]
    assert sorted(by_resident[row.resident_id].resident_name for row in handled) == sorted(
        h.resident_name for h in homes
    )
    assert len({row.resident_id for row in handled}) == len(handled) == HOMES

    # The 112 centre got both hand-offs and was told of both closes, all valid against
    # NENA's EIDO schema.
    assert hub.centre.rejected == []
    assert len(hub.centre.received) == 4
    assert sorted(
        p["incidentComponent"]["incidentStatusCommonRegistryText"][0] for p in hub.centre.received
    ) == ["Active", "Active", "Closed", "Closed"]
    assert {homes[1].resident_name, homes[2].resident_name} <= {
        str(payload)
        and next(n for n in (homes[1].resident_name, homes[2].resident_name) if n in str(payload))
        for payload in hub.centre.received
    }

    # Every resolved alarm reached the social record once, valid, with no duplicates.
    async def delivered() -> bool:
        return sum(1 for (kind, _key) in hub.fhir.ledger.resources if kind == "Encounter") >= HOMES

    await _eventually(delivered, "alarm outcomes delivered to the FHIR endpoint")
    assert hub.fhir.ledger.invalid == 0
    assert hub.fhir.ledger.duplicates == 0
