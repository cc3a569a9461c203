"""The family loop, end to end (issue 21), through real services and where people use them.

A real hub (ingestion, alarm engine, family network, broker security), the project's
Mosquitto, the resident's tablet app in a real window under Xvfb (touches on real
widgets), the family app in headless Chromium at phone size (390×844, Catalan), the
operator console in Chromium (English), a Web Push service stand-in that verifies VAPID
and decrypts each push (RFC 8291/8292) and an SMS gateway stand-in that checks each
request. One manual clock for the hub and the tablet.

The story: the resident makes a linking code on the tablet that grants "alarms" → her
daughter joins with it on her phone (verified by SMS) and her browser subscribes to push
→ the resident presses Help on the tablet (MQTT through Mosquitto) → the daughter's
service worker shows the notification and the neighbour who keeps a key gets an SMS with
reply codes → the operator accepts on the console → the daughter answers "I'm on my way"
from the notification, the neighbour "I can't" by SMS → the operator's card shows both
→ the operator resolves → the daughter's alarm page says it is closed and how. Then the
resident withdraws "alarms" on the tablet → the next Help reaches no one in the family
(no push, nothing on the daughter's open socket) while the centre and the key holder
still get it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocket, async_playwright, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.app import SESSIONMAKER
from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import Contact, Resident
from hub.family.models import CircleLink
from hub.family.webpush import new_vapid_private_key
from tablet_app.model import Screen
from teleassist.config import load_config
from teleassist.screenshots._waits import wait_for_async
from tests.family.browser import PHONE, service_worker_activated
from tests.family.push_service import PushClient, PushService, push_service
from tests.family.standins import SmsGateway, message_standins
from tests.hub.fixtures import TEST_PASSWORD
from tests.tablet_app.stage import Stage, tablet_stage

pytestmark = [pytest.mark.tablet, pytest.mark.broker, pytest.mark.browser]

TIMEOUT_MS = 60_000
INBOUND = "gateway-inbound-token"
RESIDENT = "Maria Puig"
JOAN_PHONE = "+34612000111"  # the neighbour with a key, no app
ANNA_PHONE = "612 34 56 78"  # the daughter's phone, as she types it
SCOPE = "/family"  # the family app's service worker


async def _resident(session: AsyncSession, resident_id: int, clock: ManualClock) -> None:
    resident = await session.get(Resident, resident_id)
    assert resident is not None
    resident.name = RESIDENT
    session.add(
        Contact(resident_id=resident_id, name="Joan", phone=JOAN_PHONE, relationship_="neighbour",
                is_key_holder=True, language="ca")
    )  # fmt: skip


@pytest.fixture
async def pushes() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


@pytest.fixture
async def sms() -> AsyncIterator[SmsGateway]:
    async with message_standins() as (gateway, _smtp):
        yield gateway


@pytest.fixture
async def stage(
    kivy_window: Any,
    _sqlite_template: Path,
    tmp_path: Path,
    pushes: PushService,
    sms: SmsGateway,
) -> AsyncIterator[Stage]:
    config = (
        load_config()
        .with_overrides("alarms", sms_url=sms.url, sms_token=sms.token, scheduler=False)
        .with_overrides(
            "family",
            vapid_private_key=new_vapid_private_key(),
            push_allow_insecure=True,
            sms_inbound_token=INBOUND,
        )
    )
    async with tablet_stage(
        kivy_window, _sqlite_template, tmp_path, prepare=_resident, hub_config=config
    ) as stage:
        yield stage


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _pair(stage: Stage) -> None:
    """The installer's setup code, typed on the tablet's pad."""
    resp = await stage.client.post(
        f"/api/residents/{stage.resident_id}/tablet-setup-codes",
        headers=await stage.headers(Role.INSTALLER),
    )
    assert resp.status == 201, await resp.text()
    for digit in (await resp.json())["code"]:
        stage.press(f"pair.digit.{digit}")
    stage.press("pair.ok")
    await stage.until(lambda: stage.view.shown is Screen.HOME)
    await stage.until(
        lambda: (
            stage.model.online
            and stage.runtime.family is not None
            and stage.runtime.family.live_connected.is_set()
        )
    )


async def _code_for_alarms(stage: Stage) -> str:
    """On the tablet: Call → My people → Add someone → "told when I ask for help" → code."""
    stage.press("home.call")
    stage.press("circle.open")
    await stage.until(lambda: stage.view.shown is Screen.CIRCLE)
    stage.press("circle.add")
    await stage.until(lambda: stage.view.shown is Screen.LINK_GRANT)
    stage.press("grant.scope.alarms")
    stage.press("grant.make")
    await stage.until(lambda: stage.view.shown is Screen.LINK and bool(stage.model.link_code))
    # The screen says what the code grants (what the hub answered it grants).
    await stage.until(lambda: _shows(stage, "link.grant.alarms"))
    assert not _shows(stage, "link.grant.activity")
    stage.shot("family-loop-code-en")
    code = stage.model.link_code
    await _home(stage)
    return code


def _shows(stage: Stage, name: str) -> bool:
    try:
        stage.find(name)
    except LookupError:
        return False
    return True


async def _home(stage: Stage) -> None:
    """Back, back… to the home screen, as the resident would."""
    for _ in range(4):
        if stage.view.shown is Screen.HOME:
            return
        stage.press("back" if _shows(stage, "back") else "done")
        await stage.until(lambda: True)
    assert stage.view.shown is Screen.HOME


class NoticeFrames:
    """Every ``alarm.notice`` frame Anna's page receives, on any of its live sockets."""

    def __init__(self, page: Page) -> None:
        self.alarm_refs: list[str] = []
        page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        def frame(payload: str | bytes) -> None:
            try:
                event = json.loads(payload)
            except ValueError:
                return
            if isinstance(event, dict) and event.get("type") == "alarm.notice":
                self.alarm_refs.append(str(event["notice"]["alarm_ref"]))

        ws.on("framereceived", frame)


async def _daughter_joins(
    browser: Browser, base: str, code: str, sms: SmsGateway
) -> tuple[Page, NoticeFrames]:
    """Anna joins on her phone with the code, her number verified by SMS (Catalan)."""
    context = await browser.new_context(viewport=PHONE, locale="ca-ES", timezone_id="Europe/Madrid")
    await context.grant_permissions(["notifications"], origin=base)
    page = await context.new_page()
    frames = NoticeFrames(page)  # before any page opens its live socket
    await page.goto(f"{base}/login?lang=ca")
    await page.click("a[href^='/family/join']")
    await page.fill("#join-code", code.lower().replace("-", " "))  # as people type it
    await page.fill("#join-name", "Anna Puig")
    await page.fill("#join-relationship", "filla")
    await page.fill("#join-contact", ANNA_PHONE)
    await page.fill("#join-password", "un passeig llarg pel mar")
    before = len(sms.sent)
    await page.click("#join-submit")
    await expect(page.locator("#verify-sent")).to_contain_text("••78", timeout=TIMEOUT_MS)
    [verification] = (await sms.until(before + 1))[before:]
    found = re.search(r"\b\d{6}\b", verification["text"])
    assert found, verification
    await page.fill("#verify-code", found.group(0))
    await page.click("#verify-submit")
    await page.wait_for_url(f"{base}/family", timeout=TIMEOUT_MS)
    await expect(page.locator("main")).to_contain_text(RESIDENT, timeout=TIMEOUT_MS)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=TIMEOUT_MS)
    return page, frames


async def _subscribe(
    page: Page, base: str, pushes: PushService
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """Anna's browser subscribes to push; what delivers a push to its service worker.

    Debian's Chromium has no push service (test_webpush_browser.py says why): the page
    posts the subscription a push service would have made, with the stand-in's keys, and
    pushes are handed to the real service worker through the DevTools protocol."""
    pushes.server_key = await page.evaluate(
        "async () => (await (await fetch('/api/family/push/key')).json()).public_key"
    )
    status = await page.evaluate(
        """async (sub) => (await fetch('/api/family/push/subscriptions', {method: 'POST',
              headers: {'Content-Type': 'application/json'}, body: JSON.stringify(sub)})).status""",
        pushes.subscription(PushClient("anna")),
    )
    assert status == 201
    cdp = await page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    seen = asyncio.Event()

    def on_registrations(event: dict[str, Any]) -> None:
        registrations.extend(event["registrations"])
        if any(r["scopeURL"].endswith(SCOPE) for r in registrations):
            seen.set()

    cdp.on("ServiceWorker.workerRegistrationUpdated", on_registrations)
    await cdp.send("ServiceWorker.enable")
    await asyncio.wait_for(seen.wait(), 30)
    [registration] = {r["registrationId"] for r in registrations if r["scopeURL"].endswith(SCOPE)}
    await service_worker_activated(page, SCOPE)

    async def deliver(payload: dict[str, Any]) -> None:
        """What the push service does: hand the decrypted message to the browser's worker."""
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": base, "registrationId": registration, "data": json.dumps(payload)},
        )

    return deliver


async def _operator(browser: Browser, base: str, stage: Stage) -> Page:
    """The operator's console (English), signed in through the real form."""
    headers = await stage.headers(Role.OPERATOR)
    said = await stage.client.put("/api/me/language", json={"language": "en"}, headers=headers)
    assert said.status == 200, await said.text()
    context = await browser.new_context(
        viewport={"width": 1366, "height": 768}, timezone_id="Europe/Madrid"
    )
    page = await context.new_page()
    await page.goto(f"{base}/login?next=/console")
    await page.fill("#username", "operator")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT_MS)
    await expect(page.locator("#conn")).to_have_text("Live", timeout=TIMEOUT_MS)
    return page


def _alarm_sms(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in sent if s["to"] == JOAN_PHONE and "\nTeleassist: " in s["text"]]


async def _sms_to_joan(sms: SmsGateway, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(60):
        while len(found := _alarm_sms(sms.sent)) < count:
            await sms.until(len(sms.sent) + 1)
    return found


async def test_consent_on_the_tablet_then_an_alarm_reaches_relatives_and_comes_back(
    stage: Stage, chromium: Browser, pushes: PushService, sms: SmsGateway
) -> None:
    base = str(stage.client.make_url("")).rstrip("/")
    await _pair(stage)
    code = await _code_for_alarms(stage)
    anna, frames = await _daughter_joins(chromium, base, code, sms)
    async with stage.hub[SESSIONMAKER]() as session:
        [link] = list(await session.scalars(select(CircleLink)))
    assert link.consent == "alarms"  # what the tablet granted, nothing more
    deliver = await _subscribe(anna, base, pushes)
    console = await _operator(chromium, base, stage)

    # The resident presses Help: MQTT → Mosquitto → the hub → the centre and the family.
    stage.press("home.help")
    raised = await pushes.next(timeout=60)
    assert raised.client == "anna"
    assert raised.payload["stage"] == "raised"
    alarm_id = raised.payload["tag"].removeprefix("alarm-")
    assert raised.payload["title"] == f"{RESIDENT} necessita ajuda"
    await deliver(raised.payload)
    shown = await wait_for_async(
        anna,
        """async () => {
            const reg = await navigator.serviceWorker.getRegistration("/family");
            const list = await reg.getNotifications();
            return list.length ? list.map((n) => [n.title, n.body]) : null;
        }""",
        timeout_s=TIMEOUT_MS / 1000,
    )
    [[title, body]] = shown
    assert (title, body) == (raised.payload["title"], raised.payload["body"])
    [to_joan] = await _sms_to_joan(sms, 1)
    assert to_joan["reference"] == alarm_id
    codes = re.search(r"(\d{6})\D+(\d{6})", to_joan["text"])
    assert codes, to_joan["text"]
    joan_cannot = codes.group(2)
    await expect(anna.locator("#alarm-list li.alarm")).to_have_count(1, timeout=TIMEOUT_MS)
    assert frames.alarm_refs[-1] == alarm_id

    # The operator takes it on the console.
    stage.clock.advance(timedelta(minutes=1))
    entry = console.locator(".qitem", has_text=RESIDENT)
    await expect(entry).to_be_visible(timeout=TIMEOUT_MS)
    await entry.click()
    await expect(console.locator("#card-name")).to_have_text(RESIDENT, timeout=TIMEOUT_MS)
    await console.keyboard.press("a")
    await expect(console.locator("#detail-claim")).to_have_text("Yours", timeout=TIMEOUT_MS)
    await expect(anna.locator("#alarm-list li.step")).to_have_count(1, timeout=TIMEOUT_MS)

    # Anna: "I'm on my way" from the notification (what a tap on its action runs).
    stage.clock.advance(timedelta(minutes=1))
    [worker] = [w for w in anna.context.service_workers if w.url.endswith("/family/sw.js")]
    after = await worker.evaluate(
        """async () => {
            const [n] = await self.registration.getNotifications();
            await self.onNotificationClick(n, "on_my_way");
            const [after] = await self.registration.getNotifications();
            return after.body;
        }"""
    )
    assert after == "La central sap que hi vas."
    await expect(anna.locator("[data-my-answer]")).to_have_attribute(
        "data-my-answer", "on_my_way", timeout=TIMEOUT_MS
    )
    on_the_way = await pushes.next()
    assert on_the_way.payload["stage"] == "on_the_way"
    # Joan, who has no app: "I can't", by replying with his code.
    replied = await stage.client.post(
        "/api/family/sms/replies",
        json={"from": JOAN_PHONE, "text": f"{joan_cannot} ho sento"},
        headers={"Authorization": f"Bearer {INBOUND}"},
    )
    assert replied.status == 200, await replied.text()
    assert (await replied.json())["answer"] == "cannot"

    # The operator sees both answers on the card, as they came.
    answers = console.locator("#history li[data-action=family_answer]")
    await expect(answers).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(console.locator("#history li[data-answer=on_my_way]")).to_contain_text(
        "Relative: on the way — Anna Puig · from the app"
    )
    await expect(console.locator("#history li[data-answer=cannot]")).to_contain_text(
        "Relative: cannot go — Joan · by SMS"
    )
    await console.screenshot(path=str(stage.shots / "family-loop-console-en.png"))

    # Closed by the operator: Anna's page says so and how; her phone is told.
    stage.clock.advance(timedelta(minutes=5))
    await console.keyboard.press("r")
    resolve = console.locator("#dlg-resolve")
    await expect(resolve).to_be_visible(timeout=TIMEOUT_MS)
    await resolve.locator("select").select_option("resident_fine")
    await resolve.locator("textarea").fill("Her daughter came; Maria is fine.")
    await resolve.get_by_role("button", name="Resolve").click()
    await expect(console.locator(".qitem", has_text=RESIDENT)).to_have_count(0, timeout=TIMEOUT_MS)
    closed = await pushes.next()
    assert (closed.payload["stage"], closed.payload["actions"]) == ("closed", [])
    notice = anna.locator("#alarm-list li.alarm")
    await expect(notice.locator("li.step").last).to_contain_text(
        f"Tancada: {RESIDENT} està bé.", timeout=TIMEOUT_MS
    )
    await expect(notice.locator("[data-answer]")).to_have_count(0)
    # Her own answer stays on record once closed, as the others' do.
    await expect(notice.locator("[data-my-answer=on_my_way]")).to_have_text(
        "Vas dir que hi anaves."
    )
    await expect(notice).not_to_contain_text("daughter came")  # the centre's notes stay there
    await anna.screenshot(path=str(stage.shots / "family-loop-closed-ca.png"))

    # The resident withdraws "alarms" on the tablet: the next Help reaches no one in the family.
    await _home(stage)
    stage.press("home.call")
    stage.press("circle.open")
    await stage.until(lambda: stage.view.shown is Screen.CIRCLE and bool(stage.model.circle))
    stage.press(f"circle.person.{link.id}")
    await stage.until(lambda: stage.view.shown is Screen.MEMBER)
    assert stage.find("member.scope.alarms").label.text == "Yes"
    stage.press("member.scope.alarms")
    await stage.until(lambda: stage.find("member.scope.alarms").label.text == "No")

    async def withdrawn() -> bool:
        async with stage.hub[SESSIONMAKER]() as session:
            row = await session.get(CircleLink, link.id)
            return row is not None and "alarms" not in row.consent

    async with asyncio.timeout(30):
        while not await withdrawn():
            await stage.until(lambda: True)
    stage.shot("family-loop-withdrawn-en")
    # Her open page hears of the change (circle.changed) and draws itself again.
    await expect(anna.locator("#alarm-list li.alarm")).to_have_count(0, timeout=TIMEOUT_MS)
    frames_before = list(frames.alarm_refs)
    stage.clock.advance(timedelta(minutes=5))
    await _home(stage)
    stage.press("home.help")
    # The centre gets it, and so does the key holder (the centre's contact, not the circle)…
    await expect(console.locator(".qitem", has_text=RESIDENT)).to_be_visible(timeout=TIMEOUT_MS)
    async with asyncio.timeout(60):
        while True:
            sent = _alarm_sms(sms.sent)
            refs = {s["reference"] for s in sent}
            if len(refs) == 2:
                break
            await sms.until(len(sms.sent) + 1)
    [second_ref] = refs - {alarm_id}
    # …but the family hook ran first (push, then SMS): nothing was pushed to Anna, and her
    # open socket received nothing of it.
    assert pushes.received.empty(), pushes.received
    assert frames.alarm_refs == frames_before
    assert second_ref not in frames.alarm_refs
    await expect(anna.locator("#alarm-list li.alarm")).to_have_count(0)
