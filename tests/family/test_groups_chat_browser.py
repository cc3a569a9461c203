"""The facilitator's groups page and deleting a chat message, in Chromium at phone size
(issue 23, family app): someone who never started is not "gone quiet"; members can be
called and sorted; "Delete" asks before it erases."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from hub.auth import Role
from hub.clock import ManualClock
from teleassist.screenshots._waits import wait_for_async
from tests.family.browser import PHONE, media_browser, signed_in_page
from tests.family.conftest import World
from tests.hub.fixtures import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 30_000
SHOTS = Path(os.environ.get("TELEASSIST_TEST_SHOTS", "/tmp/teleassist-shots"))


async def _speaks(world: World, headers: dict[str, str], lang: str) -> None:
    resp = await world.client.put("/api/me/language", json={"language": lang}, headers=headers)
    assert resp.status in (200, 204), await resp.text()


async def _post(world: World, cid: int, headers: dict[str, str], text: str) -> int:
    resp = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": text}, headers=headers
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


@pytest.mark.parametrize("lang", ["en", "ca"])
async def test_groups_say_not_started_sort_and_call(
    world: World, hub_clock: ManualClock, lang: str
) -> None:
    laia = await world.person(Role.FACILITATOR, name="Laia")
    maria = await world.resident("Maria")
    josep = await world.resident("Josep")
    nuria = await world.resident("Núria")
    made = await world.client.post(
        "/api/family/groups", json={"name": "Casal de Gràcia"}, headers=laia.headers
    )
    assert made.status == 201, await made.text()
    group = await made.json()
    for tablet in (maria, josep, nuria):
        await world.join_group(group["id"], laia, tablet)
    await _post(world, group["conversation_id"], maria.headers, "Bon dia!")
    hub_clock.advance(timedelta(days=8))  # Maria has gone quiet since
    await world.sign_in(laia)
    await _speaks(world, laia.headers, lang)
    await _post(world, group["conversation_id"], nuria.headers, "Hola a tothom")  # active
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, laia.username, "/family/groups", lang=lang)
        members = page.locator(".group li.member")
        await expect(members).to_have_count(3, timeout=TIMEOUT_MS)
        josep_row = members.filter(has_text="Josep")
        not_started = {"en": "Not started yet", "ca": "Encara no ha començat"}[lang]
        quiet = {"en": "Gone quiet", "ca": "Fa dies que no diu res"}[lang]
        await expect(josep_row.locator(".badge")).to_have_text(not_started)
        await expect(josep_row.locator(".badge")).to_have_class("badge info")
        await expect(members.filter(has_text="Maria").locator(".badge")).to_have_text(quiet)
        call = josep_row.get_by_role("link", name={"en": "Call", "ca": "Trucar"}[lang])
        await expect(call).to_have_attribute("href", f"/family/call/{josep.party}")
        names = members.locator("strong")
        await expect(names).to_have_text(["Josep", "Maria", "Núria"])
        quietest = {"en": "Quietest first", "ca": "Els més callats primer"}[lang]
        await page.get_by_role("button", name=quietest).click()
        # Quiet first, then who has not started, then the active.
        await expect(names).to_have_text(["Maria", "Josep", "Núria"])
        by_name = {"en": "By name", "ca": "Per nom"}[lang]
        await page.get_by_role("button", name=by_name).click()
        await expect(names).to_have_text(["Josep", "Maria", "Núria"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"family-groups-{lang}-390x844.png"))


@pytest.mark.parametrize("lang", ["en", "ca"])
async def test_delete_asks_before_it_erases(world: World, lang: str) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna, consent=[])
    cid = link["conversation_id"]
    mid = await _post(world, cid, anna.headers, "Dissabte venim a dinar")
    await _speaks(world, anna.headers, lang)
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, anna.username, f"/family/chat/{cid}", lang=lang)
        message = page.locator(f'li.msg[data-id="{mid}"]')
        await expect(message).to_be_visible(timeout=TIMEOUT_MS)
        delete = {"en": "Delete", "ca": "Esborrar"}[lang]
        await message.get_by_role("button", name=delete, exact=True).click()
        question = {"en": "Delete this message?", "ca": "Vols esborrar aquest missatge?"}[lang]
        await expect(message.locator(".confirm-del")).to_contain_text(question)
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"family-chat-delete-{lang}-390x844.png"))
        # "No": nothing erased, the link is back.
        await message.get_by_role("button", name="No", exact=True).click()
        await expect(message.locator(".confirm-del")).to_have_count(0)
        await expect(message).not_to_have_class("msg deleted mine")
        # The first tap alone never deletes: the hub still has the message.
        listed = await world.client.get(
            f"/api/family/conversations/{cid}/messages", headers=anna.headers
        )
        assert not next(m for m in (await listed.json())["messages"] if m["id"] == mid)["deleted"]
        await message.get_by_role("button", name=delete, exact=True).click()
        yes = {"en": "Yes, delete", "ca": "Sí, esborra'l"}[lang]
        await message.get_by_role("button", name=yes).click()
        await expect(page.locator(f'li.msg.deleted[data-id="{mid}"]')).to_be_visible(
            timeout=TIMEOUT_MS
        )


@pytest.mark.parametrize("lang", ["en", "ca"])
async def test_the_agenda_date_is_day_month_year_and_24_hours_on_an_american_phone(
    world: World, lang: str
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["agenda"])
    await _speaks(world, anna.headers, lang)
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        # The phone's own locale is en-US (its date input would say mm/dd/yyyy, AM/PM).
        context = await browser.new_context(
            viewport=PHONE, locale="en-US", timezone_id="America/New_York"
        )
        page = await context.new_page()
        await page.goto(f"{base}/login?next=/family/agenda")
        await page.fill("#username", anna.username)
        await page.fill("#password", TEST_PASSWORD)
        await page.click("#signin-submit")
        await page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
        form = page.locator(".agenda-form")
        order = await form.locator(".when-date label").evaluate_all(
            "(labels) => labels.map((l) => l.dataset.part)"
        )
        assert order == ["day", "month", "year"]
        months = await form.locator("select[name=month] option").all_inner_texts()
        assert months[0] == {"en": "January", "ca": "gener"}[lang]
        hours = await form.locator("select[name=hour] option").all_inner_texts()
        assert hours == [f"{h:02d}" for h in range(24)]  # no AM/PM
        assert await form.locator("input[type=date], input[type=datetime-local]").count() == 0
        await form.locator("input[name=title]").fill("Metge")
        for name, value in (("day", "20"), ("month", "1"), ("year", "2027"), ("hour", "17"),
                            ("minute", "30")):  # fmt: skip
            await form.locator(f"select[name={name}]").select_option(value)
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"family-agenda-form-{lang}-390x844.png"))
        await form.get_by_role("button").click()
        await expect(page.locator(".agenda-list")).to_contain_text("Metge", timeout=TIMEOUT_MS)
        # 17:30 in the centre's zone (Madrid, UTC+1 in January), whatever the phone's zone.
        items = await (
            await world.client.get(
                f"/api/family/residents/{maria.resident_id}/agenda", headers=anna.headers
            )
        ).json()
        assert [i["starts_at"] for i in items if i["title"] == "Metge"] == [
            "2027-01-20T16:30:00+00:00"
        ]
        # A day the month does not have is refused in words, nothing is sent.
        await form.locator("input[name=title]").fill("Impossible")
        await form.locator("select[name=day]").select_option("31")
        await form.locator("select[name=month]").select_option("4")
        await form.get_by_role("button").click()
        invalid = {"en": "That month has no such day.", "ca": "Aquest mes no té aquest dia."}
        await expect(form.locator(".error-text")).to_have_text(invalid[lang])
        await context.close()


async def _frames(page: Page) -> int:
    return int(await page.evaluate("window.taFamily.call.framesDecoded()"))


@pytest.mark.parametrize("lang", ["en", "ca"])
async def test_the_call_screen_has_mute_camera_hang_up_and_the_running_time(
    world: World, lang: str
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna)
    await world.link(maria, pere)
    await _speaks(world, anna.headers, lang)
    base = str(world.client.make_url("/"))
    async with media_browser() as browser:
        a = await signed_in_page(
            browser, base, anna.username, f"/family/chat/direct/{pere.party}", lang=lang
        )
        p = await signed_in_page(browser, base, pere.username, a.url.split(base.rstrip("/"))[1])
        for page in (a, p):
            await expect(page.locator("#conn")).to_have_attribute(
                "data-state", "open", timeout=TIMEOUT_MS
            )
        await a.click("#chat-call")
        await p.click("#call-answer", timeout=TIMEOUT_MS)
        await wait_for_async(
            p, "async () => (await window.taFamily.call.framesDecoded()) > 3",
            timeout_s=TIMEOUT_MS / 1000,
        )  # fmt: skip
        duration = a.locator("#call-duration time")
        await expect(duration).to_have_text(re.compile(r"^\d{1,2}:\d{2}$"), timeout=TIMEOUT_MS)
        await expect(duration).to_have_attribute("datetime", re.compile(r"^PT\d+S$"))
        mute = a.locator("#call-mute")
        await expect(mute).to_have_text({"en": "Mute", "ca": "Silencia el micro"}[lang])
        await mute.click()
        await expect(mute).to_have_attribute("aria-pressed", "true")
        await expect(mute).to_have_text({"en": "Unmute", "ca": "Activa el micro"}[lang])
        await expect(a.locator("#call-muted-note")).to_be_visible()
        enabled = "(kind) => window.taFamily.call.local.getTracks().filter((x) => x.kind === kind).map((x) => x.enabled)"  # noqa: E501
        assert await a.evaluate(enabled, "audio") == [False]
        camera = a.locator("#call-camera")
        await camera.click()
        await expect(camera).to_have_attribute("aria-pressed", "true")
        assert await a.evaluate(enabled, "video") == [False]
        await expect(a.locator("#local-video")).to_be_hidden()
        SHOTS.mkdir(parents=True, exist_ok=True)
        await a.screenshot(path=str(SHOTS / f"family-call-controls-{lang}-390x844.png"))
        await camera.click()
        await mute.click()
        assert await a.evaluate(enabled, "audio") == [True]
        await expect(a.locator("#call-muted-note")).to_be_hidden()
        # The call is still on after both toggles: frames keep arriving at Pere's.
        before = await _frames(p)
        await wait_for_async(
            p, f"async () => (await window.taFamily.call.framesDecoded()) > {before}",
            timeout_s=TIMEOUT_MS / 1000,
        )  # fmt: skip
        await a.click("#call-hangup")
        await expect(p.locator("#call")).to_have_attribute("data-state", "over", timeout=TIMEOUT_MS)
        await expect(a.locator("#call-duration")).to_be_hidden()
        await expect(a.locator("#call-mute")).to_be_hidden()


@pytest.mark.parametrize("lang", ["en", "ca"])
async def test_a_long_chat_keeps_its_whole_title_and_the_composer_on_screen(
    world: World, lang: str
) -> None:
    name = "Maria Dolors Puigdomènech i Fernández-Castellví"
    maria = await world.resident(name)
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    cid = link["conversation_id"]
    for n in range(25):
        who = anna.headers if n % 2 else maria.headers
        await _post(world, cid, who, f"Missatge número {n} d'una conversa llarga")
    await _speaks(world, anna.headers, lang)
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, anna.username, f"/family/chat/{cid}", lang=lang)
        await expect(page.locator("li.msg")).to_have_count(25, timeout=TIMEOUT_MS)
        title = page.locator("#chat-title")
        await expect(title).to_have_text(name)
        # Not cut: the element shows all of its text (no ellipsis, nothing hidden).
        assert await title.evaluate(
            "(h) => h.scrollWidth <= h.clientWidth"
            " && getComputedStyle(h).textOverflow !== 'ellipsis'"
        )
        sender = page.locator("li.msg .who").last
        await expect(sender).to_have_text(name)
        assert await sender.evaluate("(w) => w.scrollWidth <= w.clientWidth")
        for control in ("#message-text", "#send", "label[for=photo-input]",
                        "label[for=video-input]", "#voice"):  # fmt: skip
            box = await page.locator(control).bounding_box()
            assert box is not None
            assert box["y"] >= 0
            assert box["y"] + box["height"] <= PHONE["height"], control
        # The page itself does not scroll: the messages do, inside.
        assert await page.evaluate(
            "() => document.scrollingElement.scrollHeight <= window.innerHeight + 1"
        )
        assert await page.locator("#messages").evaluate("(m) => m.scrollHeight > m.clientHeight")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"family-chat-long-{lang}-390x844.png"))
