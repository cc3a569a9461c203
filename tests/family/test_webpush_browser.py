"""The family app's service worker in real Chromium: a panic → the hub's push (checked and
decrypted by the push-service stand-in, RFC 8291/8292) → delivered to the page's real
service worker → a notification in Catalan, with the page closed to the alarm list.

Debian's Chromium has no push service of its own (no Google keys; offline): its
``pushManager.subscribe()`` answers "permission denied", which the page reports plainly.
So the browser's side of the encryption is played by the stand-in's keys, and the
decrypted payload is handed to the service worker through the DevTools protocol
(``ServiceWorker.deliverPushMessage``), as a push service would hand it to the browser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.clock import ManualClock
from hub.db.models import Resident
from hub.family.webpush import new_vapid_private_key
from protocol import Panic
from teleassist.config import Config, load_config
from teleassist.screenshots._waits import wait_for_async
from tests.family.browser import media_browser, service_worker_activated, signed_in_page
from tests.family.conftest import World
from tests.family.push_service import PushClient, PushService, push_service

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


@pytest.fixture
async def pushes() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


@pytest.fixture
def hub_config(pushes: PushService) -> Config:
    return load_config().with_overrides(
        "family", vapid_private_key=new_vapid_private_key(), push_allow_insecure=True
    )


async def test_a_panic_becomes_a_notification_of_the_family_service_worker(
    world: World, pushes: PushService, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, anna.username, "/family", lang="ca")
        await page.context.grant_permissions(["notifications"], origin=base)
        card = page.locator("#push")
        await expect(card).to_have_attribute("data-state", "push_off", timeout=TIMEOUT_MS)
        await expect(card.locator("[data-push-toggle]")).to_have_text("Avisa'm en aquest telèfon")
        manifest = await (await page.request.get(f"{base}/family/manifest.webmanifest")).json()
        assert manifest["start_url"] == "/family"
        assert manifest["display"] == "standalone"
        await card.locator("[data-push-toggle]").click()
        # No push service in this Chromium: the card says so instead of failing silently.
        await expect(card).to_have_attribute("data-state", "push_unavailable", timeout=TIMEOUT_MS)
        await expect(card.locator("[data-push-status]")).to_have_text(
            "Aquest navegador no pot rebre avisos amb l'aplicació tancada."
        )
        # The browser's subscription, as a push service would have made it.
        key = await world.client.get("/api/family/push/key", headers=anna.headers)
        pushes.server_key = (await key.json())["public_key"]
        resp = await world.client.post(
            "/api/family/push/subscriptions",
            json=pushes.subscription(PushClient("anna-chromium")),
            headers=anna.headers,
        )
        assert resp.status == 201
        cdp = await page.context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        seen = asyncio.Event()

        def on_registrations(event: dict[str, Any]) -> None:
            registrations.extend(event["registrations"])
            seen.set()

        cdp.on("ServiceWorker.workerRegistrationUpdated", on_registrations)
        await cdp.send("ServiceWorker.enable")
        await asyncio.wait_for(seen.wait(), 30)
        [registration] = [r for r in registrations if r["scopeURL"].endswith("/family")]
        async with world.sessionmaker() as session:
            resident = await session.get(Resident, maria.resident_id)
            assert resident is not None
            home = str(resident.home_id)
        panic = HomeEvent(
            home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-pendant",
            device_type=DeviceType.PENDANT, message_id="sw-1", at=hub_clock(), body=Panic(),
        )  # fmt: skip
        await world.client.app[ALARM_ENGINE].handle_event(panic)
        received = await pushes.next()
        await service_worker_activated(page)
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": base,
                "registrationId": registration["registrationId"],
                "data": json.dumps(received.payload),
            },
        )
        shown = await wait_for_async(
            page,
            """async () => {
                const reg = await navigator.serviceWorker.getRegistration("/family");
                const list = await reg.getNotifications();
                return list.length ? list.map((n) => [n.title, n.body, n.tag]) : null;
            }""",
            timeout_s=TIMEOUT_MS / 1000,
        )
        [[title, body, tag]] = shown
        assert title == "Maria necessita ajuda"
        assert body == "Maria: ha premut el botó d'ajuda. La central ja se n'ocupa."
        assert tag == received.payload["tag"]
        await expect(page.locator("#alarm-list")).to_contain_text("ha premut el botó d'ajuda")
        # The notification offers both answers; "I'm on my way" is answered from the
        # notification itself by the service worker, with the person's cookies.
        actions = await page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.getRegistration("/family");
                const [n] = await reg.getNotifications();
                return n.actions.map((a) => [a.action, a.title]);
            }"""
        )
        assert actions == [["on_my_way", "Hi vaig"], ["cannot", "No hi puc anar"]]
        [worker] = [w for w in page.context.service_workers if w.url.endswith("/family/sw.js")]
        # What a tap on the action runs (headless Chromium cannot tap a notification).
        body = await worker.evaluate(
            """async () => {
                const [n] = await self.registration.getNotifications();
                await self.onNotificationClick(n, "on_my_way");
                const [after] = await self.registration.getNotifications();
                return after.body;
            }"""
        )
        assert body == "La central sap que hi vas."
        # The open page hears of it and shows the answer; the operator sees it on the alarm.
        await expect(page.locator("[data-my-answer]")).to_have_attribute(
            "data-my-answer", "on_my_way", timeout=TIMEOUT_MS
        )
        alarm = await world.client.get(f"/api/alarms/{received.payload['tag'][6:]}",
                                       headers=world.operator)  # fmt: skip
        notes = [h for h in (await alarm.json())["history"] if h["action"] == "note"]
        assert notes[-1]["detail"]["family_answer"] == "on_my_way"
        assert notes[-1]["actor"]["name"] == "Anna"
