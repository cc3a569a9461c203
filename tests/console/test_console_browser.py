"""The operator console end to end in headless Chromium, on a real hub with the real alarm
engine and a local 112 receiving centre.

Two operators sign in; a panic press (published to a real Mosquitto, through the hub's
ingestion) appears on both screens with a sound cue; one accepts
it (the other sees it taken), logs a call, escalates to 112 (the centre validates the
payload) and resolves it (gone from both screens). Then: a socket cut while an alarm is
raised never leaves the queue stale, and a social worker's screen is read-only.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

import protocol
from alerts.alarm import Actor, ActorKind, Outcome, resolve
from hub.alarms import store as alarm_store
from hub.alarms.keys import ALARM_ENGINE
from hub.app import create_app
from hub.appkeys import CLOCK, KEYSAFE, SESSIONMAKER
from hub.console.demo_data import DEMO_PASSWORD, DemoIds, raise_demo_alarm, seed_demo
from hub.db.models import AuditEntry
from hub.settings import HubSettings
from hub.web.serve import serving
from teleassist.config import Config, MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.alerts.centre import ReceivingCentre
from tests.instants import machine_now

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TIMEOUT = 20_000  # ms: generous, the machine is shared


@dataclass
class ConsoleHub:
    url: str
    app: web.Application
    ids: DemoIds
    centre: ReceivingCentre
    broker: MosquittoBroker


async def press_panic(hub: ConsoleHub, device_id: str) -> None:
    """The pendant's panic press, published to the real broker as a device does."""
    message = protocol.envelope(
        protocol.Panic(source="pendant"),
        id=protocol.new_message_id(),
        ts=machine_now(),
        seq=1,
    )
    async with aiomqtt.Client(hub.broker.host, hub.broker.port, identifier=device_id) as client:
        await client.publish(
            protocol.device_topic(device_id, protocol.Channel.EVENT),
            protocol.encode(message),
            qos=1,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def console_hub(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker
) -> AsyncIterator[ConsoleHub]:
    centre = ReceivingCentre()
    async with serving(centre.app()) as centre_url:
        # The hub's [alarms] section, handed to create_app as the shell would.
        config = Config(
            sections={
                "alarms": {"emergency_url": centre_url + "/incidents", "emergency_attempts": 2}
            }
        )
        settings = HubSettings(
            data_dir=str(tmp_path_factory.mktemp("console-hub")),
            jwt_secret=secrets.token_urlsafe(32),
            # Earlier tests' hubs leave persistent sessions in the default share group
            # on the session broker; a group of our own gets every message.
            ingest_share_group=f"con{secrets.token_hex(3)}",
            keysafe_key=Fernet.generate_key().decode("ascii"),
        )
        app = create_app(
            settings,
            config=config,
            mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port),
        )
        async with serving(app) as url:
            async with app[SESSIONMAKER]() as session:
                ids = await seed_demo(session, app[KEYSAFE], app[CLOCK]())
                await session.commit()
            yield ConsoleHub(url, app, ids, centre, mosquitto)


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def empty_queue(console_hub: ConsoleHub) -> None:
    """Every test starts with no open alarm. The hub is the module's: a test must not depend
    on what another one left open, nor on the order they run in."""
    app = console_hub.app
    engine = app[ALARM_ENGINE]
    async with app[SESSIONMAKER]() as session:
        left = await alarm_store.list_alarms(session, status="open", category=None, limit=1000)
    cleaner = Actor(ActorKind.SYSTEM, "test-cleanup")
    for alarm in left:
        await engine.act(
            alarm.id,
            lambda a: resolve(a, cleaner, app[CLOCK](), Outcome.RESIDENT_CANCELLED),
            audit_actor="system",
            audit_action="alarm.resolve",
        )


async def _log_in(browser: Browser, hub: ConsoleHub, username: str) -> tuple[Page, list[str]]:
    """A new 1366×768 page signed in as ``username``, and the page errors it collects."""
    # Our CSP forbids eval; Playwright's wait_for_function needs it in the test only.
    context = await browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="en-GB", bypass_csp=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(TIMEOUT)
    await page.goto(hub.url + "/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: not url.endswith("/login"))
    return page, errors


async def signed_in(browser: Browser, hub: ConsoleHub, username: str) -> Page:
    page, errors = await _log_in(browser, hub, username)
    if not page.url.endswith("/console"):  # a social worker lands on the visor
        await page.goto(hub.url + "/console")
    # Switch this user to English (page and API texts).
    async with page.expect_navigation():
        await page.click("[data-ta-lang='en']")
    await expect(page.locator("#conn")).to_have_text("Live")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def item(page: Page, resident_name: str) -> Any:
    return page.locator(".qitem", has_text=resident_name)


async def test_panic_from_queue_to_resolution(chromium: Browser, console_hub: ConsoleHub) -> None:
    hub = console_hub
    anna = await signed_in(chromium, hub, "anna")
    marc = await signed_in(chromium, hub, "marc")
    await expect(anna.locator("#queue-empty")).to_be_visible()
    chimes_before = await marc.evaluate("window.__taChimes")

    rid = hub.ids.residents[0]
    name = "Montserrat Puig i Ferrer"
    # Through the broker and the hub's ingestion into the alarm engine.
    await press_panic(hub, hub.ids.devices[rid][0])

    # Both screens show it, as critical and unclaimed, with a sound cue.
    for page in (anna, marc):
        entry = item(page, name)
        await expect(entry).to_be_visible()
        await expect(entry).to_contain_text("Critical")
        await expect(entry).to_contain_text("New: nobody has taken it")
    await marc.wait_for_function(f"window.__taChimes > {chimes_before}")
    await expect(anna.locator("#detail-explanation")).to_contain_text("Help button pressed")
    await expect(anna.locator("#card-name")).to_have_text(name)
    raised = [await anna.locator("article[data-alarm]").get_attribute("data-alarm")]
    # The age ticks.
    first = await anna.locator("#detail-age").text_content()
    await anna.wait_for_function(f"document.getElementById('detail-age').textContent !== {first!r}")

    # Anna accepts with the keyboard; Marc sees it taken.
    await anna.keyboard.press("a")
    await expect(anna.locator("#detail-claim")).to_have_text("Yours")
    await expect(item(marc, name)).to_contain_text("Taken by anna")
    await expect(marc.locator("#act-accept")).to_have_count(0)  # taken: nothing to accept
    await expect(marc.locator("#act-resolve")).to_be_disabled()

    # A call to the first contact: no answer.
    await anna.locator("[data-call]").first.click()
    await expect(anna.locator("#dlg-attempt")).to_be_visible()
    # Grouped as on every page (ta.js formatPhone), not as stored ("+34 611 234 567").
    await expect(anna.locator("#dlg-attempt-phone")).to_have_text("+34 611 23 45 67")
    await anna.keyboard.press("2")
    await expect(anna.locator("#dlg-attempt")).to_be_hidden()
    contact = anna.locator(".contacts li").first
    await expect(contact.locator(".attempts")).to_contain_text("No answer")
    await expect(anna.locator("#history")).to_contain_text("Call")

    # Key safe on demand.
    await anna.keyboard.press("s")
    await expect(anna.locator("#keysafe-value")).to_have_text("4821")
    await expect(anna.locator("#history")).to_contain_text("Key safe code viewed")

    # Escalate to 112 with the payload preview.
    await anna.keyboard.press("e")
    dialog = anna.locator("#dlg-escalate")
    await expect(dialog).to_be_visible()
    await dialog.locator("input[value='emergency_112']").check()
    await expect(anna.locator("#dlg-escalate-payload")).to_contain_text(name)
    await dialog.get_by_role("button", name="Send to 112").click()
    await expect(anna.locator("#detail-notice")).to_contain_text("Sent to 112 (reference 112-CAT-")
    assert len(hub.centre.received) == 1
    assert hub.centre.rejected == []
    assert name in str(hub.centre.received[0])

    # Resolve with an outcome code.
    await anna.keyboard.press("r")
    resolve = anna.locator("#dlg-resolve")
    await expect(resolve).to_be_visible()
    await resolve.locator("select").select_option("ambulance")
    await resolve.locator("textarea").fill("Ambulance took her to Hospital del Mar")
    await resolve.get_by_role("button", name="Resolve").click()
    await expect(anna.locator("#detail-notice")).to_have_text("This alarm has been resolved.")
    for page in (anna, marc):
        await expect(item(page, name)).to_have_count(0)
        await expect(page.locator("#queue-empty")).to_be_visible()

    # Everything is in the audit log.
    async with hub.app[SESSIONMAKER]() as session:
        actions = set(
            (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.object == f"alarm:{raised[0]}")
                )
            ).all()
        )
        reveals = (
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "keysafe.reveal")
            )
        ).all()
    assert {"alarm.accept", "alarm.contact_attempt", "alarm.escalate", "alarm.resolve"} <= actions
    assert {"resident_id": rid, "reason": f"alarm:{raised[0]}", "alarm_id": raised[0]} in reveals
    assert anna.errors == []  # type: ignore[attr-defined]
    assert marc.errors == []  # type: ignore[attr-defined]
    await anna.context.close()
    await marc.context.close()


async def test_a_dropped_socket_never_leaves_the_queue_stale(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    hub = console_hub
    page = await signed_in(chromium, hub, "marc")
    # Cut the live socket and keep it down while an alarm is raised.
    await page.evaluate(
        "() => { window._WS = window.WebSocket;"
        " window.WebSocket = function () { throw new Error('down'); }; window.__taLive.drop(); }"
    )
    await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    await expect(page.locator("#ta-banner")).to_contain_text("Reconnecting")
    rid = hub.ids.residents[2]
    await raise_demo_alarm(
        hub.app, rid, hub.ids.devices[rid][0], protocol.Fall(room="bathroom", confidence=0.9)
    )
    await page.wait_for_timeout(500)
    await expect(item(page, "Margaret Wilson")).to_have_count(0)  # missed while down
    await page.evaluate("() => { window.WebSocket = window._WS; }")
    await expect(page.locator("#conn")).to_have_text("Live")
    await expect(item(page, "Margaret Wilson")).to_be_visible()  # refetched on reconnect
    await expect(page.locator("#ta-banner")).to_be_hidden()
    await page.context.close()


async def test_a_slow_queue_answer_never_hides_a_panic_raised_meanwhile(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """A queue list read before a panic was stored, answered after the panic's live event,
    must not wipe it (CI saw this once: the card showed the panic, the queue said "All
    quiet"). Every list of the open queue is held until the panic is on screen."""
    hub = console_hub
    held: list[Any] = []

    async def hold(route: Any) -> None:
        held.append(route)

    page, _ = await _log_in(chromium, hub, "marc")
    await page.context.route("**/api/alarms?*status=open*", hold)
    await page.goto(hub.url + "/console")
    await expect(page.locator("#conn")).to_have_text("Live")
    rid = hub.ids.residents[1]
    await raise_demo_alarm(hub.app, rid, hub.ids.devices[rid][0], protocol.Panic(source="pendant"))
    entry = page.locator(".qitem")
    await expect(entry).to_have_count(1)
    for route in held:  # let any stale answer land now, after the event
        await route.continue_()
        await route.request.response()
    await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r)))")
    await expect(entry).to_have_count(1)
    await expect(page.locator("#queue-empty")).to_be_hidden()
    await page.context.close()


async def test_a_social_worker_reads_but_cannot_act(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    rid = console_hub.ids.residents[2]
    await raise_demo_alarm(
        console_hub.app, rid, console_hub.ids.devices[rid][0], protocol.Fall(room="bathroom")
    )
    page = await signed_in(chromium, console_hub, "sergi")
    await expect(page.locator(".qitem").first).to_be_visible()
    await expect(page.locator("#resident-card")).to_be_visible()
    await expect(page.locator("#act-accept")).to_be_disabled()
    await expect(page.locator("#act-resolve")).to_be_disabled()
    await expect(page.locator("#act-resolve")).to_have_attribute(
        "title", "Read only: your role does not act on alarms."
    )
    await expect(page.locator("[data-call]")).to_have_count(0)
    await expect(page.locator("#keysafe-show")).to_have_count(0)
    await page.context.close()


async def test_technical_alarm_maintenance_workflow(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    hub = console_hub
    rid = hub.ids.residents[1]
    await raise_demo_alarm(hub.app, rid, hub.ids.devices[rid][3], protocol.LowBattery(percent=8))
    page = await signed_in(chromium, hub, "anna")
    # Technical alarms stay out of the care queue.
    await expect(item(page, "Antonio García López")).to_have_count(0)
    await page.click("#nav-technical")
    row = page.locator("#technical tbody tr", has_text="Antonio García López")
    await expect(row).to_contain_text("Low battery")
    await expect(row.locator("[data-status]")).to_have_text("To do")
    await row.get_by_role("button", name="Acknowledge").click()
    await expect(row.locator("[data-status]")).to_have_text("Acknowledged")
    # Day first and a 24-hour clock in the page's language (ADR 0172).
    await row.get_by_role("textbox", name="When").fill("24/11/2026 10:30")
    await row.get_by_role("button", name="Plan visit").click()
    await expect(row.locator("[data-status]")).to_contain_text("Visit planned")
    await row.get_by_role("button", name="Fixed").click()
    await expect(row.locator("[data-status]")).to_have_text("Fixed")
    await row.get_by_role("button", name="Close alarm").click()
    await expect(row).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]
    await page.context.close()


async def test_wellbeing_call_agenda(chromium: Browser, console_hub: ConsoleHub) -> None:
    hub = console_hub
    planner = await signed_in(chromium, hub, "laia")
    await planner.goto(hub.url + "/console/calls")
    await planner.select_option("#plan-resident", label="Margaret Wilson")
    await planner.select_option("#plan-reason", "other")
    await planner.fill("#plan-due", "01/01/2026 10:00")
    await planner.fill("#plan-notes", "Check the new hearing aid")
    await planner.get_by_role("button", name="Plan", exact=True).click()
    row = planner.locator("#calls tbody tr", has_text="Margaret Wilson")
    await expect(row).to_contain_text("Check the new hearing aid")
    await expect(row).to_contain_text("overdue")
    await row.get_by_role("button", name="Reached: fine").click()
    await expect(row).to_have_count(0)
    await expect(planner.locator("#done-calls")).to_contain_text("Margaret Wilson")
    assert planner.errors == []  # type: ignore[attr-defined]
    await planner.context.close()


# Every box in the top bar, as (name, left, top, right, bottom), the pairs that overlap and
# the boxes that leave the screen. The brand's parts and each menu entry are boxes of their
# own: the sound badge was once drawn over "Supervisió".
_TOPBAR_OVERLAPS = """() => {
  const els = [...document.querySelectorAll(
    '.topbar .brand, .topbar .nav a, .topbar .sound, .topbar .conn, .topbar .lang, '
    + '.topbar .who, .topbar [data-ta-signout]')].filter((e) => e.offsetParent !== null);
  const boxes = els.map((e) => { const r = e.getBoundingClientRect();
    return [e.id || e.dataset.taLang || e.className, r.left, r.top, r.right, r.bottom]; });
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, b] = [boxes[i], boxes[j]];
    if (a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5 && a[2] < b[4] - 0.5 && b[2] < a[4] - 0.5)
      overlaps.push([a[0], b[0]]);
  }
  const outside = boxes.filter((b) => b[1] < -0.5 || b[3] > window.innerWidth + 0.5)
    .map((b) => b[0]);
  // One row: every box's top within a row's height of the others' (a wrapped group starts
  // a second row about 40 px lower).
  const tops = boxes.map((b) => b[2]);
  const spread = Math.max(...tops) - Math.min(...tops);
  return {count: boxes.length, overlaps, outside, spread, boxes};
}"""


_LONGEST_SOUND_BADGE = """() => {
  const texts = JSON.parse(document.getElementById('ta-texts').textContent);
  document.getElementById('sound-toggle').textContent = texts.sound_off;
}"""


@pytest.mark.parametrize("username", ["anna", "laia", "eva"])
async def test_the_top_menu_fits_a_laptop_screen_in_every_language(
    chromium: Browser, console_hub: ConsoleHub, username: str
) -> None:
    """An operator's, a supervisor's and a coordinator's top bar on every page of their menu
    (the supervisor's queue is the longest: five entries, the sound and connection badges):
    at 1366 and 1280 wide, in Catalan, Spanish and English, no two of its boxes intersect
    and none leaves the screen; at 1366 it is one row, the sound badge's longest words
    included (issue 23: "Sound off" made the supervisor's bar two rows in ca and es)."""
    hub = console_hub
    page, errors = await _log_in(chromium, hub, username)
    await page.goto(hub.url + "/console/calls")
    menu = page.locator(".topbar .nav a")
    await expect(menu.first).to_be_visible()
    pages = [str(await a.get_attribute("href")) for a in await menu.all()]
    assert len(pages) >= 3, pages
    checked = 0
    for lang in ("ca", "es", "en"):
        await page.set_viewport_size({"width": 1366, "height": 768})
        if await page.locator(f"[data-ta-lang='{lang}'][aria-pressed='true']").count() == 0:
            async with page.expect_navigation():
                await page.click(f"[data-ta-lang='{lang}']")
        for href in pages:
            await page.goto(hub.url + href)
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            if href == "/console":
                # The badge's longest words, "sound off: click to turn it on" (headless
                # Chromium may play sound at once, and the badge then says "sound on").
                await expect(page.locator("#sound-toggle")).to_be_visible()
                await page.evaluate(_LONGEST_SOUND_BADGE)
            for width in (1366, 1280):
                await page.set_viewport_size({"width": width, "height": 768})
                found = await page.evaluate(_TOPBAR_OVERLAPS)
                assert found["count"] >= 6 + len(pages), (lang, width, href, found)
                assert found["overlaps"] == [], (lang, width, href, found)
                assert found["outside"] == [], (lang, width, href, found)
                if width == 1366:
                    assert found["spread"] < 24, ("two rows", lang, href, found)
                checked += 1
    assert checked == 3 * 2 * len(pages)
    assert errors == []
    await page.context.close()


async def test_the_card_shows_the_automatic_112_warning_and_hand_off_state(
    chromium: Browser, console_hub: ConsoleHub
) -> None:
    """The warning and each state of the automatic hand-off reach the queue card live."""
    from datetime import timedelta

    from alerts.alarm import SYSTEM
    from alerts.emergency import HandoffResult, PayloadFormat
    from alerts.escalation import mark_112_sending, warn_112
    from hub.alarms.ledger import record_handoff

    hub = console_hub
    rid = hub.ids.residents[0]
    name = "Montserrat Puig i Ferrer"
    page = await signed_in(chromium, hub, "anna")
    [alarm_id] = await raise_demo_alarm(
        hub.app, rid, hub.ids.devices[rid][0], protocol.Panic(source="pendant")
    )
    entry = item(page, name)
    await expect(entry).to_be_visible()
    await expect(entry.locator("[data-auto-112]")).to_have_count(0)
    engine = hub.app[ALARM_ENGINE]
    clock = hub.app[CLOCK]

    async def system_step(step: Any) -> None:
        await engine.act(alarm_id, step, audit_actor="system", audit_action="alarm.escalate")

    await system_step(lambda a: warn_112(a, clock(), clock() + timedelta(minutes=2)))
    await expect(entry.locator("[data-auto-112]")).to_have_text(
        "No voice contact: goes to 112 automatically"
    )
    await system_step(lambda a: mark_112_sending(a, clock(), 1))
    badge = entry.locator("[data-handoff]")
    await expect(badge).to_have_text("112: sending (attempt 1)")
    await expect(entry.locator("[data-auto-112]")).to_have_count(0)
    failed = HandoffResult(False, 1, PayloadFormat.EIDO, 503, error="HTTP 503")
    await system_step(lambda a: record_handoff(a, SYSTEM, clock(), failed, automatic=True))
    await expect(badge).to_have_text("112: failed once, retrying")
    assert page.errors == []  # type: ignore[attr-defined]
    await page.context.close()
